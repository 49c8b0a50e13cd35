"""Re-runs that never pay twice: `lipsync.retry_failed` and `lipsync.draft_to_final`.

retry_failed   every job of the scene that FAILED or was REJECTED (or was cancelled before it was
               submitted) and has not been run again successfully since, as new jobs; a job that
               completed, one still running and one whose outcome is UNKNOWN (it may have been
               billed: Re-attach it) are never submitted again.
draft_to_final the inputs of the active take's job again with a better model (default
               lipsync-2-pro; sync-3 with the `model` property), as a new take: the draft stays.
Both go through manage.rerun -> submit.launch_all, so the result cache (cache.py) applies: a
re-run whose inputs match a finished job costs nothing.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import EnumProperty

from .. import compat
from . import jobs
from .follow import FollowJobsMixin
from .online import poll_online

RETRYABLE = ("FAILED", "REJECTED")


def _range(rec) -> tuple:
    data = json.loads(rec.placement_json or "{}")
    return data.get("frame_start"), data.get("frame_end")


def failed_records(scene) -> list:
    """Records to retry: failed (or cancelled before submitting) with no later success or run
    of the same strip and range. Oldest first."""
    records = list(scene.lipsync.jobs)
    later_ok = {}
    for rec in records:
        if rec.status == "COMPLETED" or jobs.in_flight(rec):
            key = (rec.source_strip, _range(rec))
            later_ok[key] = max(later_ok.get(key, 0.0), rec.created)
    found = []
    for rec in records:
        retryable = rec.status in RETRYABLE or (rec.status == "CANCELLED" and not rec.remote_id)
        if retryable and later_ok.get((rec.source_strip, _range(rec)), -1.0) < rec.created:
            found.append(rec)
    found.sort(key=lambda r: r.created)
    return found


class LIPSYNC_OT_retry_failed(FollowJobsMixin, bpy.types.Operator):
    """Run again only the lip-sync jobs that failed; finished, running and unknown jobs are never resubmitted"""

    bl_idname = "lipsync.retry_failed"
    bl_label = "Retry Failed Lip Sync Jobs"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if not poll_online(cls):
            return False
        scene = compat.sequencer_scene(context)
        if scene is None or not failed_records(scene):
            cls.poll_message_set("No failed lip-sync job to retry (finished ones are never re-run)")
            return False
        return True

    def start_jobs(self, context):
        from .manage import rerun
        scene = compat.sequencer_scene(context)
        # ids first: rerun adds records, and a CollectionProperty add invalidates held items
        ids = [r.job_id for r in failed_records(scene)]
        started = []
        for job_id in ids:
            _scene, rec = jobs.find_record(job_id)
            if rec is not None:
                started += rerun(self, scene, rec, batch=True)
        if not started:
            self.report({"ERROR"}, "Nothing retried: " + ("; ".join(self._refused[:3]) or "no failed job"))
        return started


MODEL_ITEMS = [("lipsync-2-pro", "lipsync-2-pro", "sync. labs' higher-quality model"),
               ("sync-3", "sync-3", "sync. labs' newest model"),
               ("lipsync-2", "lipsync-2", "sync. labs' standard model")]


def _active_take(context):
    strip = compat.active_strip(context)
    return strip if strip is not None and strip.lipsync.is_take else None


class LIPSYNC_OT_draft_to_final(FollowJobsMixin, bpy.types.Operator):
    """Re-run the active take's inputs with a better model; both takes are kept"""

    bl_idname = "lipsync.draft_to_final"
    bl_label = "Lip Sync Draft to Final"
    bl_options = {"REGISTER"}

    model: EnumProperty(name="Final Model", items=MODEL_ITEMS, default="lipsync-2-pro")

    @classmethod
    def poll(cls, context):
        if not poll_online(cls):
            return False
        if _active_take(context) is None:
            cls.poll_message_set("Make an approved lip-sync take active (a strip in the Takes list)")
            return False
        return True

    def start_jobs(self, context):
        from .manage import rerun
        take = _active_take(context)
        if take is None:
            self.report({"ERROR"}, "Make a lip-sync take active")
            return []
        scene, rec = jobs.find_record(take.lipsync.job_id)
        if rec is None:
            self.report({"ERROR"}, f'The job of take "{take.name}" is not in this file any more')
            return []
        if rec.reused_from:   # a cached take: its inputs are those of the job it reused
            scene, rec = jobs.find_record(rec.reused_from)
            if rec is None:
                self.report({"ERROR"}, f'The job of take "{take.name}" is not in this file any more')
                return []
        if rec.model == self.model:
            self.report({"ERROR"}, f'Take "{take.name}" already uses {self.model}; pick another final model')
            return []
        from ..client.capabilities import models_for
        if self.model not in models_for(rec.provider):
            self.report({"ERROR"}, f"{self.model} is not offered by {rec.provider}")
            return []
        return rerun(self, scene, rec, model=self.model, whole=True)


classes = (LIPSYNC_OT_retry_failed, LIPSYNC_OT_draft_to_final)
