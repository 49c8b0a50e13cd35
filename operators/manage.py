"""Job and take management: `lipsync.cancel`, `lipsync.retry`, `lipsync.reattach`, `lipsync.use_take`.

cancel   stops following a job (the client also cancels remotely where the provider can, fal);
         a submitted job keeps its remote id, so Re-attach can still collect a result already paid.
retry    a NEW job (new idempotency key) with the same source, sound strips and options.
reattach polls jobs that have a remote id again (after a reload, a cancel or a poll timeout).
use_take switches which take of a source plays (undoable); "" = back to the original.
"""

from __future__ import annotations

import json
import time

import bpy
from bpy.props import BoolProperty, StringProperty

from .. import compat
from . import jobs, reattach, takes
from .follow import FollowJobsMixin
from .online import poll_online
from .runtime import RUNTIME


def _record(context, job_id: str):
    scene = compat.sequencer_scene(context)
    if scene is None:
        return None, None
    if job_id:
        return jobs.find_record(job_id)
    settings = scene.lipsync
    if 0 <= settings.jobs_index < len(settings.jobs):
        return scene, settings.jobs[settings.jobs_index]
    return scene, None


class LIPSYNC_OT_cancel(bpy.types.Operator):
    """Stop a running lip-sync job (empty job id = the job selected in the panel)"""

    bl_idname = "lipsync.cancel"
    bl_label = "Cancel Lip Sync Job"
    bl_options = {"REGISTER"}

    job_id: StringProperty(name="Job ID", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return compat.sequencer_scene(context) is not None

    def execute(self, context):
        _scene, rec = _record(context, self.job_id)
        if rec is None or not jobs.in_flight(rec):
            self.report({"WARNING"}, "No running job to cancel")
            return {"CANCELLED"}
        if RUNTIME.cancel(rec.job_id):
            if bpy.app.background:
                # nobody else drains in background: wait for the worker to confirm (bounded)
                RUNTIME.wait([rec.job_id], jobs.apply_event, deadline=30.0)
        else:  # recorded in flight but not followed (e.g. reloaded while offline)
            rec.status = "CANCELLED"
            rec.finished = time.time()
            rec.message = "Not followed any more" + ("; Re-attach can still collect it" if rec.remote_id else "")
        self.report({"INFO"}, f'Stopped following "{rec.name}"')
        return {"FINISHED"}


class LIPSYNC_OT_retry(FollowJobsMixin, bpy.types.Operator):
    """Run a finished or failed lip-sync job again as a new job (billed again: a finished job's
    re-run skips the result cache, it is a deliberate new roll)"""

    bl_idname = "lipsync.retry"
    bl_label = "Retry Lip Sync Job"
    bl_options = {"REGISTER"}

    job_id: StringProperty(name="Job ID", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        if not poll_online(cls):
            return False
        _scene, rec = _record(context, "")
        if rec is not None and jobs.in_flight(rec):
            cls.poll_message_set("The selected job is still running")
            return False
        return True

    def start_jobs(self, context):
        scene, rec = _record(context, self.job_id)
        if rec is None:
            self.report({"ERROR"}, "No job selected")
            return []
        if jobs.in_flight(rec):
            self.report({"ERROR"}, f'"{rec.name}" is still running')
            return []
        return rerun(self, scene, rec, use_cache=rec.status != "COMPLETED")


def rerun(op, scene, rec, *, model: str | None = None, batch: bool = False, whole: bool = False,
          use_cache: bool | None = None) -> list:
    """Run the inputs of record `rec` again as a new job (new idempotency key): same source,
    sound strips, options and handles; a piece of a split job re-runs only that piece and
    joins its siblings; `whole` re-runs every piece of the strip as a new group instead.
    `model` replaces the record's (draft to final). Returns job ids."""
    from .submit import has_key, launch_all, missing_key_message
    from .ranges import shift_overrides, shift_speaker
    if not has_key(rec.provider):
        op.report({"ERROR"}, missing_key_message(rec.provider))
        return []
    sed = scene.sequence_editor
    strip = compat.strips_all(sed).get(rec.source_strip) if sed else None
    if strip is None:
        message = f'The source strip "{rec.source_strip}" no longer exists'
        if batch:
            op._refused.append(f"{rec.name}: {message}")
        else:
            op.report({"ERROR"}, message)
        return []
    sounds = [compat.strips_all(sed).get(n) for n in json.loads(rec.sound_strips_json or "[]")]
    sounds = [s for s in sounds if s is not None] or None
    placement = json.loads(rec.placement_json or "{}")
    pre = int(placement.get("handle_start", 0))   # records hold speaker frames of the upload
    options = shift_speaker(json.loads(rec.options_json or "{}"), -pre)
    piece = bool(rec.group) and not whole
    only = (placement["frame_start"], placement["frame_end"]) if piece else None
    return launch_all(op, scene, strip, provider=rec.provider, model=model or rec.model, options=options,
                      sound_strips=sounds, use_segments=rec.use_segments,
                      segment_overrides=shift_overrides(json.loads(rec.segment_overrides_json or "{}"), -pre),
                      handles=rec.handle_frames, only_range=only, group=rec.group if piece else None, batch=batch,
                      use_cache=use_cache)


class LIPSYNC_OT_reattach(FollowJobsMixin, bpy.types.Operator):
    """Poll lip-sync jobs again by their remote id (never submits them again)"""

    bl_idname = "lipsync.reattach"
    bl_label = "Re-attach Lip Sync Jobs"
    bl_options = {"REGISTER"}

    job_id: StringProperty(name="Job ID", description="Empty = every job still in flight",
                           options={"SKIP_SAVE"})
    follow_only: BoolProperty(name="Follow Only", options={"HIDDEN", "SKIP_SAVE"},
                              description="Only wait for jobs already running (used after a file load)")

    @classmethod
    def poll(cls, context):
        return poll_online(cls)

    def start_jobs(self, context):
        if not self.follow_only:
            reattach.reattach_all(self.job_id, manual=bool(self.job_id))
        ids = [j for j in RUNTIME.active_ids() if not self.job_id or j == self.job_id]
        if not ids:
            self.report({"INFO"}, "No lip-sync job to re-attach")
        return ids


class LIPSYNC_OT_use_take(bpy.types.Operator):
    """Play this take of the source strip (mute its other takes); empty take = the original"""

    bl_idname = "lipsync.use_take"
    bl_label = "Use Lip Sync Take"
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take", description="Take strip name; empty = back to the original")
    source: StringProperty(name="Source", description="Source strip; empty = the active strip's source")

    @classmethod
    def poll(cls, context):
        scene = compat.sequencer_scene(context)
        if scene is None or scene.sequence_editor is None:
            return False
        return True

    def execute(self, context):
        scene = compat.sequencer_scene(context)
        source_name = self.source
        if not source_name:
            source = takes.source_of(scene, compat.active_strip(context))
            source_name = source.name if source is not None else ""
        if not source_name:
            self.report({"ERROR"}, "Make a strip with lip-sync takes active")
            return {"CANCELLED"}
        names = [t.name for t in takes.takes_of(scene, source_name)]
        if self.take and self.take not in names:
            self.report({"ERROR"}, f'"{self.take}" is not a take of "{source_name}"')
            return {"CANCELLED"}
        playing = takes.active_take(scene, source_name)
        source = compat.strips_all(scene.sequence_editor).get(source_name)
        if source is not None:   # what A/B (lipsync.toggle_ab) flips back to
            source.lipsync.ab_other = playing.name if playing is not None else ""
        takes.select_take(scene, source_name, self.take)
        self.report({"INFO"}, f'Playing {self.take or "the original"} for "{source_name}"')
        return {"FINISHED"}


classes = (LIPSYNC_OT_cancel, LIPSYNC_OT_retry, LIPSYNC_OT_reattach, LIPSYNC_OT_use_take)
