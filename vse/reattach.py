"""Re-attach jobs that were in flight when the .blend was saved (docs/architecture.md, step 6).

On file load (the load_post handler, vse/handlers.py) every record still "in flight" is looked at once:
- it has a remote id: poll it with `resume=RemoteRef(remote_id, extra)`, never resubmit;
- no remote id, provider de-duplicates submits (sync.so Idempotency-Key, Runware taskUUID): the
  media is cut again and submitted with the SAME client_key, so at most one job is billed;
- no remote id, any other provider: we cannot know whether the submit reached the provider, so
  the record becomes UNKNOWN with a sentence saying so; Retry is the artist's explicit choice.
Nothing happens while online access is off or the key is missing: the record says why and the
Re-attach button (lipsync.reattach) tries again.

In the UI the handler cannot wait itself: it starts the workers, then registers a one-shot
`bpy.app.timers` callback (app timers fire in the UI, not in background) that invokes the modal
`lipsync.reattach` to follow them. In background mode a script calls `bpy.ops.lipsync.reattach()`,
whose execute() blocks until the re-attached jobs end.
"""

from __future__ import annotations

import logging

import bpy

from ..client.errors import LipsyncError, humanize
from ..client.models import AudioInput, JobRequest, Options, RemoteRef
from ..preferences import provider_config
from ..worker.runtime import RUNTIME
from . import compat, gate, identity, launch, records, snapshot

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
    if job.provider in IDEMPOTENT_PROVIDERS:
        sed = scene.sequence_editor
        where = job.placement   # the source by uid: it may have been renamed since (vse/identity.py)
        strip = identity.find_source(scene, where.source_uid, job.source_strip)
        sounds = [compat.strips_all(sed).get(n) for n in job.sound_strips] if sed else []
        sounds = [s for s in sounds if s is not None] or None
        try:
            if strip is None:
                raise LipsyncError(f'the source strip "{job.source_strip}" is gone')
            strip_job = snapshot.snapshot_job(scene, strip, sounds)
        except LipsyncError as exc:
            job.status = "UNKNOWN"
            job.message = f"Could not re-submit with the same key: {humanize(exc)}"
            return False
        launch.start(job, strip_job, config)
        job.message = "Re-submitted with the same idempotency key (the provider de-duplicates it)"
        return True
    job.status = "UNKNOWN"
    job.message = ("Blender stopped before the provider confirmed this job: it may or may not have been "
                   "submitted (and billed). Check the provider's dashboard; Retry submits a new job")
    return False


def reattach_all(job_id: str = "", manual: bool = False) -> list[str]:
    """Re-attach every in-flight record of the open file (or just `job_id`); returns started ids."""
    started = []
    for scene, job in records.everywhere():
        if job_id and job.job_id != job_id:
            continue
        try:
            if reattach_record(scene, job, manual=manual):
                started.append(job.job_id)
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
            log.exception("re-attach of %s failed", job.job_id)
            job.message = f"Re-attach failed: {humanize(exc)}"
    return started


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
