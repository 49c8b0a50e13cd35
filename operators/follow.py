"""The waiting half every job operator shares (Flamenco pattern, STYLE habit 2).

- UI: `invoke()` starts the jobs, adds a 0.25 s window-manager timer and a modal handler; each
  TIMER event runs `step()`, which drains the worker queue within a 1 ms budget, updates the
  status bar and redraws the sequencer. Esc stops waiting: the operator's jobs are cancelled
  locally (a submitted job keeps its remote id and can be re-attached). `_finish()` removes the
  timer and status text on every exit path.
- Background (`blender -b`, scripts): `INVOKE_DEFAULT` lands in `execute()` (reference/blender.md
  §4: timers never fire, modal() is never called), which starts the same jobs and drains in a
  loop until they end, then reports the same summary.
"""

from __future__ import annotations

import bpy

from . import jobs
from .runtime import DEFAULT_BUDGET, RUNTIME, main_thread_first

TIMER_SECONDS = 0.25


def redraw_sequencers(context) -> None:
    wm = context.window_manager
    for window in getattr(wm, "windows", ()):
        screen = window.screen
        for area in (screen.areas if screen else ()):
            if area.type in ("SEQUENCE_EDITOR", "PROPERTIES"):
                area.tag_redraw()


_NOT_SHOWN = object()  # FollowJobsMixin._status before the first tick wrote the status bar


def _set_status(context, text) -> None:
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        try:
            workspace.status_text_set(text)
        except (AttributeError, RuntimeError, TypeError):
            pass


class FollowJobsMixin:
    """Mixin for operators that start jobs. Subclasses implement `start_jobs(context) -> list`
    returning the job ids started (empty after reporting why nothing started)."""

    budget = DEFAULT_BUDGET

    def start_jobs(self, context) -> list:
        raise NotImplementedError

    def invoke(self, context, event):
        return self._begin(context, modal=not bpy.app.background and context.window is not None)

    def execute(self, context):
        return self._begin(context, modal=False)

    def _begin(self, context, modal: bool):
        self._timer = None
        self._timer_used = False
        self._cancelling = False
        self._refused = []
        self._job_ids = list(self.start_jobs(context) or [])
        if not self._job_ids:
            return {"CANCELLED"}
        if not modal:
            RUNTIME.wait(self._job_ids, jobs.apply_event)
            return self._finish(context, {"FINISHED"})
        wm = context.window_manager
        self._timer_used = True   # the artist waited in the UI: tell them when it ends
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        self.step(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and getattr(event, "value", "PRESS") == "PRESS" and not self._cancelling:
            self._cancelling = True
            for job_id in self._job_ids:
                RUNTIME.cancel(job_id)
            # keep draining until the workers confirm, so no record stays "running"
            return {"RUNNING_MODAL"} if self.step(context) else self._finish(context, {"CANCELLED"})
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self.step(context):
            return {"RUNNING_MODAL"}
        return self._finish(context, {"CANCELLED"} if self._cancelling else {"FINISHED"})

    def step(self, context) -> bool:
        """Drain a budget's worth of events; True while any of this operator's jobs runs."""
        with main_thread_first():
            applied = RUNTIME.drain(jobs.apply_event, self.budget)
            running = any(RUNTIME.is_active(j) for j in self._job_ids)
            # Most ticks apply nothing (a job reports every few seconds): then the status text
            # and the panels are as they were, so the tick ends here. Measured with 100 jobs in
            # flight, the text + redraw tags cost 0.15-0.2 ms of a 0.4 ms tick, and 1 ms when
            # the machine is slow for a moment (issue #7, tools/bench/tick.py parts_ms).
            shown = getattr(self, "_status", _NOT_SHOWN)
            if applied or not running or shown is _NOT_SHOWN:
                text = jobs.status_line(self._job_ids) if running else None
                if text != shown:
                    _set_status(context, text)
                    self._status = text
                redraw_sequencers(context)
        return running

    def _finish(self, context, result):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if getattr(self, "_status", _NOT_SHOWN) is not None:   # the last tick may have cleared it
            _set_status(context, None)
            self._status = None
        redraw_sequencers(context)
        level, text = jobs.summarize(self._job_ids, getattr(self, "_refused", ()))
        if result == {"CANCELLED"} and level == "INFO":
            level = "WARNING"
        self.report({level}, text)
        if getattr(self, "_timer_used", False):
            from .abswitch import notify
            notify(context, f"Lip Sync finished: {text}")
        return result
