"""Following running jobs from the main thread: a plain object an operator holds while it waits.

`Follower(job_ids)` is the state of one wait (bl_pkg's CommandHandle pattern): `step()` drains a
budget's worth of worker events into the records and updates the status bar; `cancel()` asks the
workers to stop; `wait()` blocks until the jobs end (background mode, scripts, the farm);
`finish()` clears the status bar and returns the batch summary. Operators only add the modal
timer around it (operators/follow.py). Nothing here grows with the number of jobs per tick: most
ticks apply no event and return after one queue check, and the status line is a running tally
(notices.Progress) updated per applied event.
"""

from __future__ import annotations

from ..worker.runtime import DEFAULT_BUDGET, RUNTIME, main_thread_first
from . import apply, notices

_NOT_SHOWN = object()  # before the first tick wrote the status bar


class Follower:
    def __init__(self, job_ids, refused=(), budget: float = DEFAULT_BUDGET) -> None:
        self.job_ids = list(job_ids)
        self._ids = frozenset(self.job_ids)
        self._progress = notices.Progress(self.job_ids)
        self.refused = list(refused)     # "strip: reason" of strips that never became a job
        self.budget = budget
        self.cancelling = False
        self._status = _NOT_SHOWN

    def running(self) -> bool:
        return RUNTIME.any_active(self._ids)

    def step(self, context) -> bool:
        """Drain a budget's worth of events; True while any of these jobs runs."""
        with main_thread_first():
            applied = RUNTIME.drain(apply.apply_event, self.budget)
            running = self.running()
            # Most ticks apply nothing (a job reports every few seconds): then the status text
            # and the panels are as they were, so the tick ends here. Measured with 100 jobs in
            # flight, the text + redraw tags cost 0.15-0.2 ms of a 0.4 ms tick, and 1 ms when
            # the machine is slow for a moment (issue #7, tools/bench/tick.py parts_ms).
            if applied or not running or self._status is _NOT_SHOWN:
                text = notices.status_line(self._progress) if running else None
                if text != self._status:
                    notices.set_status(context, text)
                    self._status = text
                notices.redraw_sequencers(context)
        return running

    def cancel(self) -> None:
        """Stop following: each worker ends at its next check (a submitted job keeps its remote id,
        so Re-attach can collect it later)."""
        self.cancelling = True
        RUNTIME.cancel_many(self.job_ids)

    def wait(self, deadline: float | None = None) -> bool:
        """Block until every job ended (background mode); False on deadline."""
        return RUNTIME.wait(self.job_ids, apply.apply_event, deadline=deadline)

    def finish(self, context) -> tuple[str, str]:
        """Clear the status bar; the (report level, summary) of the batch."""
        self._progress.close()
        if self._status is not None:       # the last tick may have cleared it
            notices.set_status(context, None)
            self._status = None
        notices.redraw_sequencers(context)
        return notices.summarize(self.job_ids, self.refused)

    def problems(self) -> list[str]:
        """Every problem of the batch, one line each (vse/notices.problems)."""
        return notices.problems(self.job_ids, self.refused)
