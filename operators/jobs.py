"""Job operators: `lipsync.cancel`, `lipsync.retry`, `lipsync.retry_failed`, `lipsync.reattach`.

cancel        stops following a job (the client also cancels remotely where the provider can, fal);
              a submitted job keeps its remote id, so Re-attach can still collect a result already paid.
retry         what vse/retry.py decides, so no retry pays twice: a job the provider accepted is
              polled and downloaded again; one it never confirmed is sent again with the same key
              where the provider de-duplicates; anything else is a NEW job (new key). Money may
              move only after the budget cap (and, where a first bill is possible, a question).
retry_failed  the same for every job that FAILED or was REJECTED (or was cancelled before it was
              submitted) and has not been run again successfully since; finished, running and
              UNKNOWN jobs are never included.
reattach      polls jobs that have a remote id again (after a reload, a cancel or a poll timeout).
All re-runs go through vse/launch.py, so the result cache applies: a re-run whose inputs match a
finished job costs nothing.
"""

from __future__ import annotations

import time

import bpy
from bpy.props import BoolProperty, StringProperty

from ..vse import compat, gate
from .follow import FollowJobsMixin


def _record(context, job_id: str):
    """(scene, JobRecord) of `job_id`, or of the job selected in the panel when it is empty."""
    from ..vse import records  # late: job code loads at first use (docs/architecture.md "Start-up")

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
        from ..vse.apply import apply_event  # late: job code loads at first use (docs/architecture.md "Start-up")
        from ..worker.runtime import RUNTIME  # late: as above

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


_CONFIRM_DOC = "Retry even when it may cost money beyond the budget cap, or a first attempt may have been billed"


class ConfirmThenFollowMixin(FollowJobsMixin):
    """invoke() may ask first (_ask); its OK runs execute(), which then follows the jobs modally
    like invoke would, instead of blocking the UI until they end (`ui_confirmed` is an operator
    property in each class: a plain attribute does not survive the popup)."""

    def execute(self, context):
        modal = self.ui_confirmed and not bpy.app.background and context.window is not None
        return self._begin(context, modal=modal)


def _ask(op, context, event, message: str, confirm_text: str):
    op.confirm_budget = True
    op.ui_confirmed = True
    try:
        return context.window_manager.invoke_confirm(op, event, title="Retry Lip Sync", message=message,
                                                     confirm_text=confirm_text)
    except TypeError:   # older signature
        return context.window_manager.invoke_confirm(op, event)


class LIPSYNC_OT_retry(ConfirmThenFollowMixin, bpy.types.Operator):
    """Retry a lip-sync job without paying twice: a job the provider accepted is collected again;
    one it never confirmed is resent with the same key where the provider de-duplicates; anything
    else runs as a new job (a finished job's re-run skips the result cache: a deliberate new roll)"""

    bl_idname = "lipsync.retry"
    bl_label = "Retry Lip Sync Job"
    bl_options = {"REGISTER"}

    job_id: StringProperty(name="Job ID", options={"SKIP_SAVE"})
    confirm_budget: BoolProperty(name="Confirm", description=_CONFIRM_DOC, options={"SKIP_SAVE"})
    ui_confirmed: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context, event):
        from ..vse import retry  # late: job code loads at first use (docs/architecture.md "Start-up")

        _scene, job = _record(context, self.job_id)
        if job is not None and not self.confirm_budget and not job.in_flight:
            if retry.may_be_billed_already(job):
                return _ask(self, context, event, "The first submit was never confirmed and may have been "
                            "billed; check the provider's dashboard. Submit a new job?", "Submit New Job")
            if retry.kind(job) != "follow" and retry.over_budget(job):
                return _ask(self, context, event, retry.over_budget(job), "Retry Anyway")
        return super().invoke(context, event)

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
        from ..vse import launch, retry  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene, job = _record(context, self.job_id)
        if job is None:
            return launch.Launched().refuse("", "No job selected")
        if job.in_flight:
            return launch.Launched().refuse("", f'"{job.name}" is still running')
        return retry.retry(scene, job, confirmed=self.confirm_budget, use_cache=job.status != "COMPLETED")


class LIPSYNC_OT_retry_failed(ConfirmThenFollowMixin, bpy.types.Operator):
    """Run again only the lip-sync jobs that failed; finished, running and unknown jobs are never resubmitted"""

    bl_idname = "lipsync.retry_failed"
    bl_label = "Retry Failed Lip Sync Jobs"
    bl_options = {"REGISTER"}

    confirm_budget: BoolProperty(name="Confirm", description=_CONFIRM_DOC, options={"SKIP_SAVE"})
    ui_confirmed: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context, event):
        from ..vse import records  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        over = _batch_over_cap(records.failed(scene)) if scene is not None else ""
        if over and not self.confirm_budget:
            return _ask(self, context, event, over, "Retry Anyway")
        return super().invoke(context, event)

    @classmethod
    def poll(cls, context):
        from ..vse import records  # late: job code loads at first use (docs/architecture.md "Start-up")

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
        from ..vse import launch, records, retry  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        # ids first: a re-run adds records, and a CollectionProperty add invalidates held items
        failed = records.failed(scene)
        over = "" if self.confirm_budget else _batch_over_cap(failed)
        if over:
            return launch.Launched().refuse("", over)
        ids = [job.job_id for job in failed]
        started = launch.Launched()
        for job_id in ids:
            _scene, job = records.find(job_id)
            if job is not None:
                started.add(retry.retry(scene, job, confirmed=True))
        if not started.job_ids and not started.refused:
            started.refuse("", "no failed job")
        return started


def _batch_over_cap(jobs) -> str:
    """The refusal when the jobs a retry would bill again together exceed the budget cap."""
    from ..vse import money, retry  # late: job code loads at first use (docs/architecture.md "Start-up")

    cap = money.budget_cap()
    usd = sum(max(0.0, float(job.estimate)) for job in jobs if retry.kind(job) != "follow")
    if cap > 0 and usd > cap:
        return (f"the estimate ${usd:.2f} exceeds the budget cap ${cap:.2f} (add-on preferences); "
                "confirm to retry anyway")
    return ""


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
        from ..vse import launch, reattach  # late: job code loads at first use (docs/architecture.md "Start-up")
        from ..worker.runtime import RUNTIME  # late: as above

        if not self.follow_only:
            reattach.reattach_all(self.job_id, manual=bool(self.job_id))
        ids = [j for j in RUNTIME.active_ids() if not self.job_id or j == self.job_id]
        if not ids:
            self.report({"INFO"}, "No lip-sync job to re-attach")
        return launch.Launched(job_ids=ids)


classes = (LIPSYNC_OT_cancel, LIPSYNC_OT_retry, LIPSYNC_OT_retry_failed, LIPSYNC_OT_reattach)
