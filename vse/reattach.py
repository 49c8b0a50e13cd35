"""Re-attach jobs that were in flight when the .blend was saved (docs/architecture.md, step 6).

On file load (the load_post handler, vse/handlers.py) every record still "in flight" is looked at once:
- it has a remote id: poll it with `resume=RemoteRef(remote_id, extra)`, never resubmit;
- no remote id: opening a file never spends money (issue #13). The record becomes UNKNOWN "not
  confirmed", with what is known; only the artist's Retry sends it (vse/launch.py `retry`): with
  the same key and the saved uploads where the provider de-duplicates submits (sync.so
  Idempotency-Key, Runware taskUUID), so it is billed at most once, else as a new job after a
  warning that the first may have been billed.
Nothing happens while online access is off or the key is missing: the record says why and the
Re-attach button (lipsync.reattach) tries again.

In the UI the handler cannot wait itself: it queues the records, an app timer re-attaches them a
few at a time (`on_load`, `reattach_step`: a file with 1,000 jobs in flight opens without a
freeze), then registers a one-shot `bpy.app.timers` callback (app timers fire in the UI, not in
background) that invokes the modal `lipsync.reattach` to follow them. In background mode load_post
re-attaches them all at once and a script calls `bpy.ops.lipsync.reattach()`, whose execute()
blocks until the re-attached jobs end.
"""

from __future__ import annotations

import collections
import logging
import time

import bpy

from ..client.errors import humanize
from ..client.models import AudioInput, JobRequest, Options, RemoteRef
from ..client.names import LABELS
from ..preferences import provider_config
from ..worker.runtime import RUNTIME
from . import apply, gate, launch, recordcheck, records, timeline

log = logging.getLogger(__name__)

RESUMABLE = ("CANCELLED", "UNKNOWN", "FAILED")  # manual re-attach of a job that has a remote id


IDEMPOTENT_PROVIDERS = ("sync", "runware")   # Idempotency-Key / taskUUID de-duplicate a resubmit


def _request_json(job) -> str:
    if job.request:
        return job.request
    # Submitted before the Prepared event was applied cannot happen (Prepared comes first), but a
    # hand-edited or older record may lack it: polling needs only provider, model and key.
    return JobRequest(provider=job.provider, model=job.model, video="video.mp4",
                      audio=[AudioInput(id="a1", path="a1.mp3")], options=Options(**job.options),
                      client_key=job.client_key).to_json()


def reattach_record(scene, job, *, manual: bool = False) -> bool:
    """Start following one record again; True when a worker was started."""
    if RUNTIME.is_active(job.job_id):
        return False
    if not (job.in_flight or (manual and job.remote_id and job.status in RESUMABLE)):
        return False
    if not recordcheck.usable(job):   # from someone else's .blend, maybe: checked before any use
        return False
    if job.joined and not job.remote_id:
        # it never ran: it waits for the job with the same inputs, which is re-attached itself
        apply.settle_joiner(scene, job)
        return False
    why = gate.network_reason(job.provider)
    if why:
        job.message = "Not re-attached: " + why
        return False
    config = provider_config(job.provider)
    if job.remote_id:
        job.request = _request_json(job)
        ref = RemoteRef(job.remote_id, job.resume)
        launch.start(job, None, config, resume=ref)
        job.status = "QUEUED"
        return True
    # Even "preparing" is not proof that nothing was sent: the file may have been saved before the
    # worker got further. Only the provider's answer (a remote id) proves anything.
    job.status = "UNKNOWN"
    job.remote_state = "UNSURE"
    job.message = not_confirmed_message(job)
    return False


def not_confirmed_message(job) -> str:
    """What an artist needs to decide about a submit nobody confirmed (and what Retry will do)."""
    what = (f"Blender stopped before {LABELS.get(job.provider, job.provider)} confirmed this job "
            f"(key {job.client_key}): it may or may not have been submitted (and billed). Nothing was sent again")
    if job.provider in IDEMPOTENT_PROVIDERS:
        return what + "; Retry sends it again with the same key, which the provider bills at most once"
    return what + "; check the provider's dashboard: Retry submits a new job"


def reattach_all(job_id: str = "", manual: bool = False) -> list[str]:
    """Re-attach every in-flight record of the open file (or just `job_id`); returns started ids."""
    started = []
    with timeline.pinning() as pin:      # re-attaching reads strips, never edits them
        for scene, job in records.everywhere():
            if job_id and job.job_id != job_id:
                continue
            pin(scene)
            try:
                if reattach_record(scene, job, manual=manual):
                    started.append(job.job_id)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
                log.exception("re-attach of %s failed", job.job_id)
                job.message = f"Re-attach failed: {humanize(exc)}"
    return started


# -- when: spread over app-timer ticks after a load (issue #16) -----------------------------------
# A file with 1,000 jobs in flight must not freeze the UI while it opens: in the UI, load_post only
# queues the ids of the records in flight, and an app timer re-attaches STEP_BUDGET seconds'
# worth of them per call (reattach_record decides what each one may do, unchanged), then starts
# the follower. App timers never fire in background mode (docs/blender.md §4): there load_post
# re-attaches all of them at once, as before, and a script follows them with bpy.ops.lipsync.reattach.
STEP_BUDGET = 0.02
STEP_INTERVAL = 0.05
_queue: collections.deque = collections.deque()     # job ids still to re-attach after the load


def on_load(background: bool | None = None) -> list[str]:
    """load_post: re-attach the records in flight now (background; returns the ids started) or
    over the next ticks (UI; returns [])."""
    _queue.clear()
    if bpy.app.background if background is None else background:
        return reattach_all()
    _queue.extend(job.job_id for _scene, job in records.everywhere() if job.in_flight)
    if _queue and not bpy.app.timers.is_registered(reattach_step):
        bpy.app.timers.register(reattach_step, first_interval=0.0)
    return []


def reattach_step():
    """App timer (UI): re-attach queued records for at most STEP_BUDGET s; then follow them."""
    started = time.perf_counter()
    with timeline.pinning() as pin:
        while _queue:                     # at least one per call, so a slow record cannot stall the rest
            job_id = _queue.popleft()
            scene, job = records.find(job_id)
            if job is not None:           # else removed (or undone) since the load
                pin(scene)
                try:
                    reattach_record(scene, job)
                except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
                    log.exception("re-attach of %s failed", job_id)
                    job.message = f"Re-attach failed: {humanize(exc)}"
            if time.perf_counter() - started >= STEP_BUDGET:
                break
    if _queue:
        return STEP_INTERVAL
    schedule_follow(background=False)     # app timers only run in the UI
    return None


def pending() -> int:
    """Records still waiting for their turn to re-attach (the UI spreads them over ticks)."""
    return len(_queue)


def follow_in_ui():
    """One-shot app timer (UI only): invoke the modal follower in the first window."""
    wm = bpy.context.window_manager
    if not RUNTIME.active_ids() or not wm.windows:
        return None
    window = wm.windows[0]
    try:
        with bpy.context.temp_override(window=window, screen=window.screen):
            bpy.ops.lipsync.reattach("INVOKE_DEFAULT", follow_only=True)
    except RuntimeError as exc:
        log.warning("could not start following re-attached jobs: %s", exc)
    return None


def schedule_follow(background: bool | None = None) -> bool:
    """UI only: make sure something drains the queue for the jobs now running."""
    background = bpy.app.background if background is None else background
    if background or not RUNTIME.active_ids() or bpy.app.timers.is_registered(follow_in_ui):
        return False
    bpy.app.timers.register(follow_in_ui, first_interval=0.2)
    return True
