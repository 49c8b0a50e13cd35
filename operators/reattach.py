"""Re-attach jobs that were in flight when the .blend was saved (peers.md §8 #1).

On file load (`load_post`, persistent) every record still "in flight" is looked at once:
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

import json
import logging

import bpy
from bpy.app.handlers import persistent

from . import jobs
from .online import OFFLINE_MESSAGE, online_access
from .runtime import RUNTIME

log = logging.getLogger(__name__)

RESUMABLE = ("CANCELLED", "UNKNOWN", "FAILED")  # manual re-attach of a job that has a remote id


def _request_json(rec) -> str:
    if rec.request_json:
        return rec.request_json
    # Submitted before the Prepared event was applied cannot happen (Prepared comes first), but a
    # hand-edited or older record may lack it: polling needs only provider, model and key.
    from ..client.models import AudioInput, JobRequest, Options
    return JobRequest(provider=rec.provider, model=rec.model, video="video.mp4",
                      audio=[AudioInput(id="a1", path="a1.mp3")],
                      options=Options(**json.loads(rec.options_json or "{}")),
                      client_key=rec.client_key).to_json()


def reattach_record(scene, rec, *, manual: bool = False) -> bool:
    """Start following one record again; True when a worker was started."""
    from ..client.errors import LipsyncError, humanize
    from ..client.jobs import RemoteRef
    from ..preferences import provider_config
    from .submit import has_key, missing_key_message

    if RUNTIME.is_active(rec.job_id):
        return False
    if not (jobs.in_flight(rec) or (manual and rec.remote_id and rec.status in RESUMABLE)):
        return False
    if not online_access():
        rec.message = "Not re-attached: " + OFFLINE_MESSAGE
        return False
    if not has_key(rec.provider):
        rec.message = "Not re-attached: " + missing_key_message(rec.provider)
        return False
    config = provider_config(rec.provider)
    if rec.remote_id:
        rec.request_json = _request_json(rec)
        ref = RemoteRef(rec.remote_id, json.loads(rec.resume_json or "{}"))
        jobs.start(rec, None, config, resume=ref)
        rec.status = "QUEUED"
        return True
    if rec.provider in jobs.IDEMPOTENT_PROVIDERS:
        from .. import compat
        from .strips import snapshot_job
        sed = scene.sequence_editor
        strip = compat.strips_all(sed).get(rec.source_strip) if sed else None
        sounds = [compat.strips_all(sed).get(n) for n in json.loads(rec.sound_strips_json or "[]")] if sed else []
        sounds = [s for s in sounds if s is not None] or None
        try:
            if strip is None:
                raise LipsyncError(f'the source strip "{rec.source_strip}" is gone')
            strip_job = snapshot_job(scene, strip, sounds)
        except LipsyncError as exc:
            rec.status = "UNKNOWN"
            rec.message = f"Could not re-submit with the same key: {humanize(exc)}"
            return False
        jobs.start(rec, strip_job, config)
        rec.message = "Re-submitted with the same idempotency key (the provider de-duplicates it)"
        return True
    rec.status = "UNKNOWN"
    rec.message = ("Blender stopped before the provider confirmed this job: it may or may not have been "
                   "submitted (and billed). Check the provider's dashboard; Retry submits a new job")
    return False


def reattach_all(job_id: str = "", manual: bool = False) -> list[str]:
    """Re-attach every in-flight record of the open file (or just `job_id`); returns started ids."""
    started = []
    for scene in bpy.data.scenes:
        for rec in scene.lipsync.jobs:
            if job_id and rec.job_id != job_id:
                continue
            try:
                if reattach_record(scene, rec, manual=manual):
                    started.append(rec.job_id)
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
                log.exception("re-attach of %s failed", rec.job_id)
                rec.message = f"Re-attach failed: {exc}"
    return started


def _follow_in_ui():
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
    if background or not RUNTIME.active_ids() or bpy.app.timers.is_registered(_follow_in_ui):
        return False
    bpy.app.timers.register(_follow_in_ui, first_interval=0.2)
    return True


@persistent
def _load_post(*_args):
    started = reattach_all()
    if started:
        log.info("re-attached %d lip-sync job(s)", len(started))
    schedule_follow()


def register():
    bpy.app.handlers.load_post.append(_load_post)


def unregister():
    if _load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_load_post)
    if bpy.app.timers.is_registered(_follow_in_ui):
        bpy.app.timers.unregister(_follow_in_ui)
