"""Apply worker events to job records on the main thread (docs/architecture.md step 4).

`apply_event(job_id, event)` is what the runtime's drain calls for every queued event: it writes
status, progress, message and cost into the record and, on Completed, places each output as a take
(vse/takes.py) with its provenance. One handler per event type, chosen from `_HANDLERS`.
"""

from __future__ import annotations

import logging
import time
import traceback

import bpy

from ..client.errors import Cancelled, JobFailed, LipsyncError, humanize, scrub
from ..worker import events as ev, joins
from ..worker.runtime import DEFAULT_BUDGET, RUNTIME
from . import journal, money, recordcheck, records, reuse, takes
from .status import PHASE_PROGRESS

log = logging.getLogger(__name__)

# job id -> (in flight, progress) of its record as last written by apply_event: the status line
# reads this instead of walking every record's RNA on each tick (issue #7: 100 jobs, cold RNA
# reads cost 1-4 ms per tick under load; tools/bench/tick.py)
_shown: dict[str, tuple[bool, float] | None] = {}


def shown(job_id: str):
    """(in flight, progress) as last applied, None for a vanished record, KeyError when unseen."""
    return _shown[job_id]


# job id -> the batch tallies following it (vse/notices.Progress): told of each applied event, so
# a status line costs the events of a tick, not the jobs of the batch (issue #16)
_watchers: dict[str, list] = {}


# leaders some record waits for: a leader's end looks for its joiners only then (a batch of 1,000
# jobs must not walk every record at each completion)
_awaited: set[str] = set()


def watch(tally) -> None:
    for job_id in tally.job_ids:
        _watchers.setdefault(job_id, []).append(tally)


def unwatch(tally) -> None:
    for job_id in tally.job_ids:
        found = _watchers.get(job_id)
        if found is not None and tally in found:
            found.remove(tally)
            if not found:
                del _watchers[job_id]


PROBLEMS = ("FAILED", "REJECTED", "UNKNOWN")


def has_problem(job) -> bool:
    """The job failed, needs attention, or its take came with a note (vse/placement.py notes)."""
    return job.status in PROBLEMS or bool(job.notes)


def remember_shown(job_id: str, job) -> None:
    row = None if job is None else (job.in_flight, job.progress, has_problem(job))
    _shown[job_id] = row
    for tally in _watchers.get(job_id, ()):
        tally.update(job_id, row)


def forget_shown(job_id: str) -> None:
    _shown.pop(job_id, None)


def forget() -> None:
    """A file load: the records shown and the batches watching them belonged to the last file
    (a load also removes the modal handlers that would have closed their tallies)."""
    _shown.clear()
    _watchers.clear()
    _awaited.clear()       # re-attach settles the joined records of the new file again


def apply_event(job_id: str, event) -> None:
    """Write one worker event into its record. Unknown ids are dropped: the file was closed or
    the record deleted while the worker ran."""
    scene, job = records.find(job_id)
    if job is None and journal.noted(job_id):  # an undo removed the record of a running job
        scene, job = journal.revive(job_id)
    if job is not None:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            log.debug("lip-sync job %s: no handler for %r", job_id, event)
        else:
            try:
                handler(scene, job, event)
            except records.RecordError as exc:   # edited while it ran: mark it, keep the drain going
                recordcheck.refuse(job, recordcheck.problem(job) or humanize(exc))
    scene, job = records.find(job_id)          # O(1): the lookup above filled the cache
    if job is not None and (isinstance(event, _DURABLE) or not journal.noted(job_id)):
        journal.note(scene, job)
    remember_shown(job_id, job)


def drain(budget: float = DEFAULT_BUDGET) -> int:
    return RUNTIME.drain(apply_event, budget)


# -- one handler per event type ----------------------------------------------------------------
def _phase(_scene, job, event: ev.Phase) -> None:
    job.status = event.name
    job.progress = max(job.progress, PHASE_PROGRESS.get(event.name, job.progress))
    if event.message:
        job.message = event.message


def _prepared(_scene, job, event: ev.Prepared) -> None:
    job.request = event.request_json
    job.input_hash = event.input_hash


def _fingerprinted(_scene, job, event: ev.Fingerprinted) -> None:
    job.fingerprint = event.fingerprint


def _uploading(_scene, job, event: ev.Uploading) -> None:
    job.status = "UPLOADING"
    if event.total:
        job.progress = max(job.progress, 0.1 + 0.2 * event.sent / event.total)


def _uploaded(_scene, _job, _event: ev.Uploaded) -> None:
    """Nothing to record: the upload's reference matters to the client's upload cache only."""


def _before_submit(_scene, job, event: ev.BeforeSubmit) -> None:
    """The paid POST comes next: keep what a byte-identical resubmit needs, then let it go."""
    sent = event.submitting
    job.uploaded = dict(sent.refs)
    job.request = sent.request_json
    job.remote_state = "SENDING"
    job.status = "SUBMITTING"
    event.saved.set()


def _submitted(_scene, job, event: ev.Submitted) -> None:
    job.remote_state = "HELD"
    job.remote_id = event.remote_id
    job.resume = event.extra or {}
    job.submitted = time.time()
    job.status = "QUEUED"
    job.progress = max(job.progress, 0.3)


def _status(_scene, job, event: ev.Status) -> None:
    state = event.state.value
    if state in ("QUEUED", "PROCESSING"):
        job.status = state
    if event.progress is not None:
        job.progress = max(job.progress, 0.3 + 0.6 * float(event.progress))
    if event.message:
        job.message = event.message


def _downloading(_scene, job, event: ev.Downloading) -> None:
    job.status = "DOWNLOADING"
    if event.total:
        job.progress = max(job.progress, 0.9 + 0.1 * event.received / event.total)


def _failed(_scene, job, event: ev.Failed) -> None:
    if event.remote_id:
        job.remote_id = event.remote_id
    job.remote_state = remote_state_after(event)
    job.status = event.state.value
    job.message = humanize(event.error)
    if event.state.value == "CANCELLED" and job.remote_id:
        job.message = ("Stopped following; the provider may still finish it: Re-attach picks "
                       "the result up without paying again")
    job.finished = time.time()
    log.info("lip-sync job %s %s: %s", job.job_id, job.status, job.message)


def remote_state_after(event: ev.Failed) -> str:
    """What the provider holds after a failure (props.py REMOTE_STATES): decides what Retry does."""
    if event.accepted is None:
        return "UNSURE"
    if not event.accepted:
        return "NONE"
    # the provider itself ended the job (failed, rejected): only a new job can help
    return "ENDED" if isinstance(event.error, JobFailed) else "HELD"


def _worker_error(_scene, job, event: ev.WorkerError) -> None:
    cancelled = isinstance(event.exception, Cancelled)   # Esc while the media was being cut
    if job.remote_state == "SENDING":     # saved for the POST, then the worker broke: who knows
        job.remote_state = "UNSURE"
    job.status = "CANCELLED" if cancelled else "FAILED"
    if cancelled:
        job.message = "Cancelled before anything was sent"
    elif isinstance(event.exception, LipsyncError):
        job.message = humanize(event.exception)
    else:
        job.message = scrub(event.message)
    job.finished = time.time()
    log.error("lip-sync job %s: %s", job.job_id, job.message)
    if event.exception is not None:   # the traceback, scrubbed of any registered key
        log.debug(scrub("".join(traceback.format_exception(event.exception))))


def _worker_done(_scene, job, event: ev.WorkerDone) -> None:
    if job.joined and job.in_flight and not event.cancelled_before_start:
        return   # waits for the job it joined (settle_joiner), which has its own worker
    if event.cancelled_before_start:
        job.status = "CANCELLED"
        job.message = "Cancelled before it started"
        job.finished = time.time()
    elif job.in_flight:  # ended without Completed/Failed: never leave a record "running"
        if job.remote_state == "SENDING":
            job.remote_state = "UNSURE"
        job.status = "UNKNOWN"
        job.message = "The worker stopped without a result; Re-attach or Retry"
        job.finished = time.time()
    if job.status != "COMPLETED" and not job.in_flight and job.fingerprint:
        joins.release(job.fingerprint, job.job_id)   # the next identical submit runs on its own
        _settle_joiners(job)                         # and those waiting for it are told


def join_notes(notes: str, more) -> str:
    """A record's notes (one per line) with `more` added once each: the inputs' notes (written
    when the record was created) stay beside the placement's."""
    return "\n".join(dict.fromkeys(n for n in [*notes.splitlines(), *more] if n))


def _reuse(scene, job, source, gone: str) -> bool:
    """Place (or re-activate) the result of the finished record `source` for `job`, no charge."""
    job.finished = time.time()
    if source is None or source.status != "COMPLETED":
        job.status, job.message = "FAILED", gone
        return False
    try:
        reuse.adopt(scene, job, source)
    except Exception as exc:  # noqa: BLE001 - say why in the record, keep the queue going
        log.exception("re-using a lip-sync result failed")
        job.status, job.message = "FAILED", f"Could not reuse the result of an earlier job: {humanize(exc)}"
        return False
    log.info("lip-sync job %s: %s", job.job_id, job.message)
    money.refresh_spent()
    _undo_step(job)
    return True


def _cache_hit(scene, job, event: ev.CacheHit) -> None:
    """The take of an earlier job with the same inputs, placed or re-activated."""
    _reuse(scene, job, records.find(event.source_job)[1], "The cached result disappeared; Retry runs it again")


def _joined(scene, job, event: ev.Joined) -> None:
    job.fingerprint = event.fingerprint
    job.joined = event.leader
    settle_joiner(scene, job)


def settle_joiner(scene, job) -> None:
    """A job that joined a running job with the same inputs (worker/joins.py): placed at no charge
    once the leader is done, waiting while it runs, failed (and the claim ended) when the leader
    ended without a result. Also for joined records after a file load (vse/reattach.py)."""
    _scene, leader = records.find(job.joined)
    if leader is not None and leader.in_flight:
        _awaited.add(leader.job_id)
        job.status = "QUEUED"
        job.message = (f'Waits for the job of "{leader.name}", which has the same inputs: one run, one charge '
                       "(its result is placed here too)")
        return
    gone = ("The job with the same inputs that this one joined ended without a result; Retry runs it on its own"
            + (f" ({leader.message})" if leader is not None and leader.message else ""))
    if not _reuse(scene, job, leader, gone):
        joins.release(job.fingerprint, job.joined)


def _settle_joiners(leader) -> None:
    if leader.job_id not in _awaited:
        return
    _awaited.discard(leader.job_id)
    for scene, job in reuse.joiners(leader.job_id):
        settle_joiner(scene, job)
        remember_shown(job.job_id, job)
        journal.note(scene, job)


def _completed(scene, job, event: ev.Completed) -> None:
    job.remote_id = event.remote_id or job.remote_id
    job.cost = -1.0 if event.cost is None else float(event.cost)
    job.outputs = list(event.outputs)
    job.finished = time.time()
    try:
        placed = takes.place_outputs(scene, job, list(event.outputs))
    except Exception as exc:  # noqa: BLE001 - the paid result is on disk; say where
        log.exception("placing lip-sync result failed")
        job.status = "FAILED"
        job.message = f"Result downloaded to {', '.join(event.outputs)} but not placed: {humanize(exc)}"
        return
    job.takes = placed.names
    job.notes = join_notes(job.notes, placed.notes)
    job.status = "COMPLETED"
    job.progress = 1.0
    # every problem of the job, its inputs' and its placement's, is in the record's message
    job.message = "; ".join([f"{len(placed.names)} take(s): {', '.join(placed.names)}",
                             *job.notes.splitlines()])
    records.touch()
    money.refresh_spent()
    _undo_step(job)
    _settle_joiners(job)


def _undo_step(job) -> None:
    """Each placement is its own undo step in the UI (background bpy pushes none by itself):
    Ctrl+Z right after removes the take, not also the artist's last edit. What Undo does to the
    record: docs/architecture.md, "Undo" (vse/journal.py keeps what the job did)."""
    if not bpy.app.background:
        try:
            bpy.ops.ed.undo_push(message=f"Lip Sync: place take of {job.source_strip}")
        except RuntimeError:
            pass


# events after which the record is noted (vse/journal.py): what the job is, not its progress
_DURABLE = (ev.Prepared, ev.Fingerprinted, ev.BeforeSubmit, ev.Submitted, ev.CacheHit, ev.Joined, ev.Completed,
            ev.Failed, ev.WorkerError, ev.WorkerDone)

_HANDLERS = {
    ev.Phase: _phase,
    ev.Prepared: _prepared,
    ev.Fingerprinted: _fingerprinted,
    ev.CacheHit: _cache_hit,
    ev.Joined: _joined,
    ev.Uploading: _uploading,
    ev.Uploaded: _uploaded,
    ev.BeforeSubmit: _before_submit,
    ev.Submitted: _submitted,
    ev.Status: _status,
    ev.Downloading: _downloading,
    ev.Completed: _completed,
    ev.Failed: _failed,
    ev.WorkerError: _worker_error,
    ev.WorkerDone: _worker_done,
}
