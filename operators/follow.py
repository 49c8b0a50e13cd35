"""FollowJobsMixin: the modal-or-blocking glue of every operator that starts jobs.

The wait itself is a plain vse/follower.py Follower; this mixin only adds Blender's parts:
- In the UI, `invoke()` starts the jobs, adds a 0.25 s window-manager timer and returns
  RUNNING_MODAL; each TIMER event runs one `Follower.step` (a drain within a small budget, so
  Blender never freezes); Esc cancels (the workers stop at their next check; submitted remote
  jobs go on and can be re-attached).
- In background mode (`blender -b ... --python-expr ...`) `modal()` is never called
  (docs/blender.md §4), so `execute()` starts the same jobs and waits in a loop until they end,
  then reports the same summary.
`_finish()` removes the timer on every exit path.
"""

from __future__ import annotations

import bpy

from ..vse import compat

TIMER_SECONDS = 0.25


class FollowJobsMixin:
    """Subclasses implement `start_jobs(context) -> vse.launch.Launched` (job ids started, and
    the strips refused with their reasons)."""

    def start_jobs(self, context):
        raise NotImplementedError

    def invoke(self, context, event):
        return self._begin(context, modal=not bpy.app.background and context.window is not None)

    def execute(self, context):
        return self._begin(context, modal=False)

    def report_refused(self, launched) -> None:
        """Nothing started: say why (one strip: its reason; several: each, "strip: reason")."""
        if len(launched.refused) == 1:
            self.report({"ERROR"}, launched.refused[0][1])
        else:
            self.report_all(f"Nothing started, {len(launched.refused)} refused", launched.reasons())

    def report_all(self, title: str, lines) -> None:
        """Every line in the Info log, then `title` as the one line the status bar shows; in the UI
        also a popup listing them (no "(+2 more)": each problem is the artist's to read)."""
        for line in lines:
            self.report({"WARNING"}, line)
        from ..vse import notices  # late: job code loads at first use (docs/architecture.md "Start-up")

        self.report({"ERROR"}, f"{title}: {lines[0]} (all {len(lines)} are listed in the Info log)"
                    if len(lines) > 1 else f"{title}: {lines[0]}" if lines else title)
        context = getattr(self, "_context", None)      # set by _begin, which calls report_refused
        if context is not None and len(lines) > 1 and not bpy.app.background:
            notices.popup(context, title, lines)

    def _begin(self, context, modal: bool):
        from ..vse import launch  # late: job code loads at first use (docs/architecture.md "Start-up")
        from ..vse.follower import Follower  # late: as above

        self._context = context
        self._timer = None
        self._timer_used = False
        with launch.batch(compat.sequencer_scene(context)):   # the timeline read once for all strips
            launched = self.start_jobs(context)
        if not launched.job_ids:
            if launched.refused:
                self.report_refused(launched)
            return {"CANCELLED"}
        self._follower = Follower(launched.job_ids, launched.reasons())
        if not modal:
            self._follower.wait()
            return self._finish(context, {"FINISHED"})
        wm = context.window_manager
        self._timer_used = True   # the artist waited in the UI: tell them when it ends
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        self._follower.step(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        follower = self._follower
        if event.type == "ESC" and getattr(event, "value", "PRESS") == "PRESS" and not follower.cancelling:
            follower.cancel()
            # keep draining until the workers confirm, so no record stays "running"
            return {"RUNNING_MODAL"} if follower.step(context) else self._finish(context, {"CANCELLED"})
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if follower.step(context):
            return {"RUNNING_MODAL"}
        return self._finish(context, {"CANCELLED"} if follower.cancelling else {"FINISHED"})

    def _finish(self, context, result):
        from ..vse import notices  # late: job code loads at first use (docs/architecture.md "Start-up")

        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        level, text = self._follower.finish(context)
        if result == {"CANCELLED"} and level == "INFO":
            level = "WARNING"
        problems = self._follower.problems()
        if len(problems) > 1:          # each on its own line of the Info log, then the summary
            for line in problems:
                self.report({"WARNING"}, line)
            if self._timer_used:
                notices.popup(context, "Lip Sync: " + text.split(":", 1)[0], problems)
        self.report({level}, text)
        if self._timer_used:
            notices.notify(context, f"Lip Sync finished: {text}")
        return result
