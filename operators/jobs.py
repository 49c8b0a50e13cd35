"""Job records <-> runtime: create a record, start its worker, apply worker events on the main thread.

Order of a job (DESIGN.md "Data flow"):
1. main thread: `strips.snapshot_job` reads RNA into a StripJob; `create_record` writes the record
   (provider, model, options, client_key, placement) into the scene BEFORE any network call.
2. worker (`_work`, no bpy): `media.prepare_media`, then `client.jobs.iter_job_events`; every event
   goes on the runtime queue tagged with the job id.
3. main thread: `apply_event` writes status/progress/message/cost into the record and, on
   Completed, places each output as a take (`placement.plan_take` + `apply_take`) with provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time

import bpy

from . import results, runtime
from .cache import CacheHit, Fingerprinted
from .runtime import RUNTIME, Phase, Prepared, WorkerDone, WorkerError

log = logging.getLogger(__name__)

# Dev/test knob: first poll interval in seconds (providers default to 0.5-1 s, growing to 5-10 s).
POLL_INTERVAL_ENV = "LIPSYNC_POLL_INTERVAL"
IDEMPOTENT_PROVIDERS = ("sync", "runware")   # Idempotency-Key / taskUUID de-duplicate a resubmit

# Overall progress bar: 0-10 % preparing, 10-30 % uploading, 30-90 % remote, 90-100 % download.
_PHASE_PROGRESS = {"PENDING": 0.0, "PREPARING": 0.02, "UPLOADING": 0.1, "SUBMITTING": 0.3,
                   "QUEUED": 0.3, "PROCESSING": 0.35, "DOWNLOADING": 0.9}


def props():
    from .. import props as _props
    return _props


# -- lookup -----------------------------------------------------------------------------------
# job id -> (scene name, index). Only names and indices are cached, never RNA pointers: a
# CollectionProperty reallocates on add/remove, and file loads replace every datablock.
_where: dict[str, tuple[str, int]] = {}


def find_record(job_id: str):
    """(scene, record) of a job id in the open file, or (None, None). O(1) on a cache hit, which
    the drain relies on: one lookup per event, and a tick may apply many events."""
    hit = _where.get(job_id)
    if hit is not None:
        scene = bpy.data.scenes.get(hit[0])
        if scene is not None and hit[1] < len(scene.lipsync.jobs):
            rec = scene.lipsync.jobs[hit[1]]
            if rec.job_id == job_id:
                return scene, rec
    _where.clear()
    found = (None, None)
    for scene in bpy.data.scenes:
        for index, rec in enumerate(scene.lipsync.jobs):
            _where[rec.job_id] = (scene.name, index)
            if rec.job_id == job_id:
                found = (scene, rec)
    return found


def records(job_ids) -> list:
    """The records of `job_ids` that exist, in one pass over the file's records."""
    wanted = set(job_ids)
    return [rec for scene in bpy.data.scenes for rec in scene.lipsync.jobs if rec.job_id in wanted]


def in_flight(rec) -> bool:
    return rec.status in props().IN_FLIGHT


# -- options ----------------------------------------------------------------------------------
def options_from_settings(settings, provider: str, model: str, sync_mode: str = "") -> dict:
    """The client Options dict for the panel settings. Everything the artist switched on is sent,
    so an option provider x model does not take is refused by `check_options` with the reason
    (the panel greys it with the same reason) rather than silently dropped."""
    options = {}
    mode = sync_mode or ("" if settings.sync_mode == "DEFAULT" else settings.sync_mode)
    if mode:
        options["sync_mode"] = mode
    if settings.use_temperature:
        options["temperature"] = round(float(settings.temperature), 3)
    if settings.occlusion_detection:
        options["occlusion_detection"] = True
    if settings.emotion != "NONE":
        options["emotion"] = settings.emotion
    if settings.face_mode != "NONE":
        options["mode"] = settings.face_mode
    if settings.speaker_mode == "AUTO":
        options["active_speaker"] = {"auto": True}
    elif settings.speaker_mode == "POINT":
        options["active_speaker"] = {"frame": int(settings.speaker_frame),
                                     "point": [int(v) for v in settings.speaker_point]}
    if settings.number_results != 1:
        options["number_results"] = int(settings.number_results)
    return options


def check_options(provider: str, model: str, options: dict) -> None:
    """Raise the client's InputError now (main thread) for options provider x model refuses."""
    from ..client.capabilities import validate
    from ..client.models import AudioInput, JobRequest, Options

    validate(JobRequest(provider=provider, model=model, video="video.mp4",
                        audio=[AudioInput(id="a1", path="a1.mp3")], options=Options(**options)))


def estimate_usd(provider, model, strip_job, options) -> float:
    """-1 when the provider's price is not published (client.pricing says so)."""
    from ..client.pricing import estimate
    audio = sum(p.duration for p in strip_job.audio)
    try:
        est = estimate(provider, model, strip_job.video.duration, audio,
                       sync_mode=options.get("sync_mode"), number_results=options.get("number_results", 1))
    except Exception:  # noqa: BLE001 - an estimate must never block a submit
        return -1.0
    return -1.0 if est.usd is None else float(est.usd)


# -- records ----------------------------------------------------------------------------------
def create_record(scene, strip_job, *, provider: str, model: str, options: dict, sound_strips,
                  use_segments: bool, segment_overrides: dict | None = None, client_key: str | None = None,
                  group: str = "", handle_frames: int = 0):
    from ..client.models import new_client_key

    rec = scene.lipsync.jobs.add()
    rec.job_id = new_client_key()
    rec.name = strip_job.placement.source_strip
    rec.provider, rec.model = provider, model
    rec.options_json = json.dumps(options, sort_keys=True)
    # Created and stored before anything touches the network (peers.md §7 "paying twice").
    rec.client_key = client_key or new_client_key()
    rec.status = "PENDING"
    rec.created = time.time()
    rec.source_strip = strip_job.placement.source_strip
    rec.placement_json = json.dumps(dataclasses.asdict(strip_job.placement), sort_keys=True)
    rec.sound_strips_json = json.dumps([p.strip_name for p in strip_job.audio])
    rec.segment_overrides_json = json.dumps(segment_overrides or {}, sort_keys=True)
    rec.use_segments = use_segments
    rec.group = group
    rec.handle_frames = handle_frames
    rec.estimate = estimate_usd(provider, model, strip_job, options)
    out_dir = results.results_dir()
    rec.out_dir = results.blend_relative(out_dir, bpy.data.filepath) if bpy.data.filepath else out_dir
    rec.out_stem = f"{bpy.path.clean_name(rec.source_strip)}_{rec.job_id[:8]}"
    scene.lipsync.jobs_index = len(scene.lipsync.jobs) - 1
    return rec


def _overrides(rec, strip_job) -> dict:
    """Per-segment options are saved by sound strip name (stable across re-runs);
    media.prepare_media wants the index of the part in strip_job.audio."""
    if strip_job is None:
        return {}
    by_name = json.loads(rec.segment_overrides_json or "{}")
    return {i: by_name[p.strip_name] for i, p in enumerate(strip_job.audio) if p.strip_name in by_name}


def poll_interval():
    value = os.environ.get(POLL_INTERVAL_ENV, "").strip()
    return float(value) if value else None


def start(rec, strip_job, config, *, resume=None, use_cache: bool = True) -> None:
    """Hand the record's job to a worker. `resume` = client RemoteRef to poll instead of submit.
    `use_cache`: a finished job with the same fingerprint is reused instead (cache.py)."""
    from ..client import errors, events  # noqa: F401 - imported now, not in the first timer tick
    from ..preferences import get_prefs
    from . import placement, takes  # noqa: F401 - same: the tick that places a take stays short
    from .cache import known_results
    RUNTIME.set_limit(get_prefs().max_concurrent_jobs)
    _shown.pop(rec.job_id, None)               # a retry starts over: read the record afresh
    rec.attempts += 1
    rec.status = "PENDING"
    rec.progress = 0.0
    rec.message = "Re-attached: polling the provider" if resume else ""
    spec = dict(
        strip_job=strip_job, provider=rec.provider, model=rec.model,
        options=json.loads(rec.options_json or "{}"), client_key=rec.client_key, config=config,
        work_dir=results.work_dir(rec.job_id), out_dir=results.trusted_out_dir(rec.out_dir), out_stem=rec.out_stem,
        use_segments=rec.use_segments, overrides=_overrides(rec, strip_job), resume=resume,
        request_json=rec.request_json, poll_interval=poll_interval(),
        known=known_results(bpy.data.scenes) if resume is None and use_cache else {})
    RUNTIME.submit(rec.job_id, lambda cancel, emit: _work(cancel, emit, **spec))


# -- worker (no bpy below this line until apply_event) ----------------------------------------
def _hash_files(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def _work(cancel, emit, *, strip_job, provider, model, options, client_key, config, work_dir, out_dir,
          out_stem, use_segments, overrides, resume, request_json, poll_interval, known):
    from ..client.jobs import iter_job_events
    from ..client.models import JobRequest, Options
    from .cache import CacheHit, Fingerprinted, fingerprint
    from .media import prepare_media

    try:
        if resume is not None:
            request = JobRequest.from_json(request_json)
        else:
            # the cache check comes first: a hit prepares, uploads and submits nothing (cache.py)
            key = fingerprint(strip_job, provider=provider, model=model, options=options,
                              use_segments=use_segments, overrides=overrides)
            emit(Fingerprinted(key))
            if key in known:
                emit(CacheHit(known[key], key))
                return
            emit(Phase("PREPARING"))
            prepared = prepare_media(strip_job, work_dir, use_segments=use_segments,
                                     segment_overrides=overrides, cancel=cancel)
            request = JobRequest(provider=provider, model=model, video=prepared.video_path, audio=prepared.audio,
                                 segments=prepared.segments, options=Options(**options), client_key=client_key)
            paths = [prepared.video_path] + [a.path for a in prepared.audio]
            emit(Prepared(request.to_json(), _hash_files(paths)))
        os.makedirs(out_dir, exist_ok=True)
        for event in iter_job_events(request, config, out_dir, out_stem=out_stem, resume=resume, cancel=cancel,
                                     on_submitting=lambda *_: emit(Phase("SUBMITTING")),
                                     poll_interval=poll_interval):
            emit(event)
    finally:
        # the cut upload files are not needed any more: a re-attach only polls, a resubmit or a
        # retry cuts again from the strips (the strip's own file is never in work_dir)
        shutil.rmtree(work_dir, ignore_errors=True)


# -- main thread: events -> records -----------------------------------------------------------
# job id -> (in flight, progress) of its record as last written by apply_event: the status line
# reads this instead of walking every record's RNA on each tick (issue #7: 100 jobs, cold RNA
# reads cost 1-4 ms per tick under load; tools/bench/tick.py)
_shown: dict[str, tuple[bool, float] | None] = {}


def apply_event(job_id: str, event) -> None:
    """Write one worker event into its record (main thread only). Unknown ids are dropped: the
    file was closed or the record deleted while the worker ran."""
    _apply_event(job_id, event)
    _scene, rec = find_record(job_id)          # O(1): the cache apply just filled
    _shown[job_id] = None if rec is None else (in_flight(rec), rec.progress)


def _apply_event(job_id: str, event) -> None:
    from ..client import events as ev
    from ..client.errors import humanize

    scene, rec = find_record(job_id)
    if rec is None:
        return
    if isinstance(event, Phase):
        rec.status = event.name
        rec.progress = max(rec.progress, _PHASE_PROGRESS.get(event.name, rec.progress))
        if event.message:
            rec.message = event.message
    elif isinstance(event, Prepared):
        rec.request_json = event.request_json
        rec.input_hash = event.input_hash
    elif isinstance(event, Fingerprinted):
        rec.fingerprint = event.fingerprint
    elif isinstance(event, CacheHit):
        _reused(scene, rec, event)
    elif isinstance(event, ev.Uploading):
        rec.status = "UPLOADING"
        if event.total:
            rec.progress = max(rec.progress, 0.1 + 0.2 * event.sent / event.total)
    elif isinstance(event, ev.Submitted):
        rec.remote_id = event.remote_id
        rec.resume_json = json.dumps(event.extra or {}, sort_keys=True)
        rec.submitted = time.time()
        rec.status = "QUEUED"
        rec.progress = max(rec.progress, 0.3)
    elif isinstance(event, ev.Status):
        state = event.state.value
        if state in ("QUEUED", "PROCESSING"):
            rec.status = state
        if event.progress is not None:
            rec.progress = max(rec.progress, 0.3 + 0.6 * float(event.progress))
        if event.message:
            rec.message = event.message
    elif isinstance(event, ev.Downloading):
        rec.status = "DOWNLOADING"
        if event.total:
            rec.progress = max(rec.progress, 0.9 + 0.1 * event.received / event.total)
    elif isinstance(event, ev.Completed):
        _completed(scene, rec, event)
    elif isinstance(event, ev.Failed):
        if event.remote_id:
            rec.remote_id = event.remote_id
        rec.status = event.state.value
        rec.message = humanize(event.error)
        if event.state.value == "CANCELLED" and rec.remote_id:
            rec.message = ("Stopped following; the provider may still finish it: Re-attach picks "
                           "the result up without paying again")
        rec.finished = time.time()
        log.info("lip-sync job %s %s: %s", job_id, rec.status, rec.message)
    elif isinstance(event, WorkerError):
        from ..client.errors import Cancelled
        cancelled = isinstance(event.exception, Cancelled)   # Esc while the media was being cut
        rec.status = "CANCELLED" if cancelled else "FAILED"
        rec.message = "Cancelled before anything was sent" if cancelled else _worker_error_text(event)
        rec.finished = time.time()
        log.error("lip-sync job %s: %s", job_id, rec.message)
        if event.exception is not None:   # the traceback, scrubbed of any registered key
            import traceback
            from ..client.errors import scrub
            log.debug(scrub("".join(traceback.format_exception(event.exception))))
    elif isinstance(event, WorkerDone):
        if event.cancelled_before_start:
            rec.status = "CANCELLED"
            rec.message = "Cancelled before it started"
            rec.finished = time.time()
        elif in_flight(rec):  # ended without Completed/Failed: never leave a record "running"
            rec.status = "UNKNOWN"
            rec.message = "The worker stopped without a result; Re-attach or Retry"
            rec.finished = time.time()


def _worker_error_text(event) -> str:
    from ..client.errors import LipsyncError, humanize, scrub
    if isinstance(event.exception, LipsyncError):
        return humanize(event.exception)
    return scrub(event.message)


def _reused(scene, rec, event) -> None:
    """A cache hit: the take of an earlier job with the same inputs, placed or re-activated."""
    from . import cache, costs
    _src_scene, source = find_record(event.source_job)
    rec.finished = time.time()
    if source is None:
        rec.status, rec.message = "FAILED", "The cached result disappeared; Retry runs it again"
        return
    rec.reused_from = source.job_id
    rec.remote_id = source.remote_id
    rec.cost = 0.0
    rec.outputs_json = source.outputs_json
    try:
        placed = cache.reuse(scene, rec, source)
    except Exception as exc:  # noqa: BLE001
        from ..client.errors import humanize
        log.exception("re-using a cached lip-sync result failed")
        rec.status, rec.message = "FAILED", f"Could not reuse the cached result: {humanize(exc)}"
        return
    rec.takes_json = json.dumps(placed)
    rec.status = "COMPLETED"
    rec.progress = 1.0
    rec.message = f"Reused take {', '.join(placed)}, no charge (same inputs as an earlier job)"
    log.info("lip-sync job %s: %s", rec.job_id, rec.message)
    costs.refresh_spent()


def _completed(scene, rec, event) -> None:
    from . import takes
    rec.remote_id = event.remote_id or rec.remote_id
    rec.cost = -1.0 if event.cost is None else float(event.cost)
    rec.outputs_json = json.dumps(list(event.outputs))
    rec.finished = time.time()
    try:
        placed = takes.place_outputs(scene, rec, list(event.outputs))
    except Exception as exc:  # noqa: BLE001 - the paid result is on disk; say where
        from ..client.errors import humanize
        log.exception("placing lip-sync result failed")
        rec.status = "FAILED"
        rec.message = f"Result downloaded to {', '.join(event.outputs)} but not placed: {humanize(exc)}"
        return
    rec.takes_json = json.dumps(placed)
    rec.status = "COMPLETED"
    rec.progress = 1.0
    rec.message = f"{len(placed)} take(s): {', '.join(placed)}"
    from . import costs
    costs.refresh_spent()
    if not bpy.app.background:
        # its own undo step: Ctrl+Z right after must not also revert the artist's last edit; undoing
        # it leaves the record as it was before, which the panel offers to Re-attach
        try:
            bpy.ops.ed.undo_push(message=f"Lip Sync: place take of {rec.source_strip}")
        except RuntimeError:
            pass


def drain(budget: float = runtime.DEFAULT_BUDGET) -> int:
    return RUNTIME.drain(apply_event, budget)


# -- summaries --------------------------------------------------------------------------------
def summarize(job_ids, refused=()) -> tuple[str, str]:
    """(report level, "4 done, 1 failed: <reason>") for a set of jobs (STYLE habit 5).
    `refused`: "strip: reason" of strips that never became a job (bad input), counted as failed."""
    done, failed, cancelled, unknown, reasons = 0, len(refused), 0, 0, list(refused)
    for rec in records(job_ids):
        if rec.status == "COMPLETED":
            done += 1
        elif rec.status == "CANCELLED":
            cancelled += 1
        elif rec.status == "UNKNOWN":
            unknown += 1
            reasons.append(f"{rec.name}: {rec.message}")
        elif rec.status in ("FAILED", "REJECTED"):
            failed += 1
            reasons.append(f"{rec.name}: {rec.message}")
    parts = [f"{done} done"]
    if failed:
        parts.append(f"{failed} failed")
    if unknown:
        parts.append(f"{unknown} need attention")
    if cancelled:
        parts.append(f"{cancelled} cancelled")
    text = ", ".join(parts)
    if reasons:
        text += ": " + reasons[0] + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")
    level = "INFO" if not (failed or unknown) else ("ERROR" if not done else "WARNING")
    return level, text


def status_line(job_ids) -> str:
    """Status-bar text while jobs run: 'Lip Sync: 2/5 finished, 3 running (41%) - Esc to stop waiting'."""
    unseen = [j for j in job_ids if j not in _shown]
    if unseen:                                 # no event applied yet: read those records once
        found = {rec.job_id: rec for rec in records(unseen)}
        for j in unseen:
            rec = found.get(j)
            _shown[j] = None if rec is None else (in_flight(rec), rec.progress)
    rows = [row for row in (_shown[j] for j in job_ids) if row is not None]
    if not rows:
        return ""
    finished = sum(1 for flying, _p in rows if not flying)
    progress = sum(p if flying else 1.0 for flying, p in rows) / len(rows)
    return (f"Lip Sync: {finished}/{len(rows)} finished, {len(rows) - finished} running "
            f"({progress:.0%}) - Esc to stop waiting")
