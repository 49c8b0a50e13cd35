"""Job operators: `lipsync.cancel`, `lipsync.retry`, `lipsync.retry_failed`, `lipsync.reattach`.

cancel        stops following a job (the client also cancels remotely where the provider can, fal);
              a submitted job keeps its remote id, so Re-attach can still collect a result already paid.
retry         a NEW job (new idempotency key) with the same source, sound strips and options.
retry_failed  every job that FAILED or was REJECTED (or was cancelled before it was submitted) and
              has not been run again successfully since; finished, running and UNKNOWN jobs (they
              may have been billed: Re-attach them) are never submitted again.
reattach      polls jobs that have a remote id again (after a reload, a cancel or a poll timeout).
All re-runs go through vse/launch.py, so the result cache applies: a re-run whose inputs match a
finished job costs nothing.
"""

from __future__ import annotations

import time

import bpy
from bpy.props import BoolProperty, StringProperty

from ..vse import compat, gate, launch, reattach, records
from ..vse.apply import apply_event
from ..worker.runtime import RUNTIME
from .follow import FollowJobsMixin


def _record(context, job_id: str):
    """(scene, JobRecord) of `job_id`, or of the job selected in the panel when it is empty."""
    scene = compat.sequencer_scene(context)
    if scene is None:
        return None, None
    if job_id:
        return records.find(job_id)
    return scene, records.selected(scene)


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
        _scene, job = _record(context, self.job_id)
        if job is None or not job.in_flight:
            self.report({"WARNING"}, "No running job to cancel")
            return {"CANCELLED"}
        if RUNTIME.cancel(job.job_id):
            if bpy.app.background:
                # nobody else drains in background: wait for the worker to confirm (bounded)
                RUNTIME.wait([job.job_id], apply_event, deadline=30.0)
        else:  # recorded in flight but not followed (e.g. reloaded while offline)
            job.status = "CANCELLED"
            job.finished = time.time()
            job.message = "Not followed any more" + ("; Re-attach can still collect it" if job.remote_id else "")
        self.report({"INFO"}, f'Stopped following "{job.name}"')
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
        if not gate.poll_online(cls):
            return False
        _scene, job = _record(context, "")
        if job is not None and job.in_flight:
            cls.poll_message_set("The selected job is still running")
            return False
        return True

    def start_jobs(self, context):
        scene, job = _record(context, self.job_id)
        if job is None:
            return launch.Launched().refuse("", "No job selected")
        if job.in_flight:
            return launch.Launched().refuse("", f'"{job.name}" is still running')
        return launch.rerun(scene, job, use_cache=job.status != "COMPLETED")


class LIPSYNC_OT_retry_failed(FollowJobsMixin, bpy.types.Operator):
    """Run again only the lip-sync jobs that failed; finished, running and unknown jobs are never resubmitted"""

    bl_idname = "lipsync.retry_failed"
    bl_label = "Retry Failed Lip Sync Jobs"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if not gate.poll_online(cls):
            return False
        scene = compat.sequencer_scene(context)
        if scene is None or not records.failed(scene):
            cls.poll_message_set("No failed lip-sync job to retry (finished ones are never re-run)")
            return False
        return True

    def report_refused(self, launched) -> None:
        self.report_all("Nothing retried", launched.reasons() or ["no failed job"])

    def start_jobs(self, context):
        scene = compat.sequencer_scene(context)
        # ids first: a re-run adds records, and a CollectionProperty add invalidates held items
        ids = [job.job_id for job in records.failed(scene)]
        started = launch.Launched()
        for job_id in ids:
            _scene, job = records.find(job_id)
            if job is not None:
                started.add(launch.rerun(scene, job))
        if not started.job_ids and not started.refused:
            started.refuse("", "no failed job")
        return started


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
        return gate.poll_online(cls)

    def start_jobs(self, context):
        if not self.follow_only:
            reattach.reattach_all(self.job_id, manual=bool(self.job_id))
        ids = [j for j in RUNTIME.active_ids() if not self.job_id or j == self.job_id]
        if not ids:
            self.report({"INFO"}, "No lip-sync job to re-attach")
        return launch.Launched(job_ids=ids)


classes = (LIPSYNC_OT_cancel, LIPSYNC_OT_retry, LIPSYNC_OT_retry_failed, LIPSYNC_OT_reattach)
