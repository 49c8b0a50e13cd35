"""Worker pool, event queue and the budgeted drain: the threading contract, with no bpy in it.

Threading contract (docs/architecture.md, "Threads"):
- `Runtime.submit(job_id, work)` queues a job; at most `limit` jobs run at once, each in its own
  daemon thread. `work(cancel, emit)` runs in that thread and must never touch bpy: it gets a
  `threading.Event` to honour and an `emit(event)` that puts a small object on the queue.
- The main thread calls `drain(apply, budget)` on every timer tick (or in a loop in background
  mode). `apply(job_id, event)` is where RNA gets written; drain stops when the queue is empty or
  the time budget is spent, so a tick never blocks the UI for more than a few milliseconds.
- A job is "active" from submit() until the main thread has drained its `WorkerDone`, i.e. until
  every event of that job has been applied to its record. Operators wait on that.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import sys
import threading
import time
from typing import Any, Callable

from .events import WorkerDone, WorkerError

# Seconds per drain on a UI tick. 1 ms, not 2: the tick also writes the status line and tags
# redraws, and a drain may overshoot by one event, so a 2 ms budget let a burst of events (58 in
# one tick with 100 jobs in flight) reach 2.5-2.8 ms ticks (issue #7: p99 <= 2 ms). A burst now
# spreads over a few ticks of 0.25 s instead.
DEFAULT_BUDGET = 0.001


Work = Callable[[threading.Event, Callable[[Any], None]], None]


@contextlib.contextmanager
def main_thread_first(interval: float = 0.05):
    """Keep the GIL on the main thread for a short, bounded tick.

    Workers are Python threads: with the default 5 ms switch interval each of them can take the
    GIL from the main thread mid-tick. Measured with six busy worker threads, a 1.5 ms piece of
    main-thread work took p90 7.6 ms / max 57 ms; with the interval raised for its duration,
    p90 1.8 / max 2.6 ms. Workers wait at most one tick; the interval is restored on every exit.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(max(before, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class Runtime:
    def __init__(self, limit: int = 3):
        self.events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        # job id -> work, oldest first: O(1) to start the next one and to cancel any one
        self._pending: collections.OrderedDict[str, Work] = collections.OrderedDict()
        self._running: dict[str, threading.Thread] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._active: set[str] = set()                           # submitted, WorkerDone not drained
        self.limit = max(1, int(limit))
        self.max_running = 0          # high-water mark of concurrently running workers
        self.last_drain_seconds = 0.0
        self.last_drain_count = 0

    # -- submission (main thread) --------------------------------------------------------------
    def submit(self, job_id: str, work: Work) -> None:
        with self._lock:
            if job_id in self._active:
                raise RuntimeError(f"job {job_id} is already running")
            self._active.add(job_id)
            self._cancel[job_id] = threading.Event()
            self._pending[job_id] = work
        self._start_ready()

    def set_limit(self, limit: int) -> None:
        with self._lock:
            self.limit = max(1, int(limit))
        self._start_ready()

    def cancel(self, job_id: str) -> bool:
        """Ask a job to stop. A job still waiting for a slot ends at once; a running one ends when
        its work function notices the event (the client checks it between requests)."""
        with self._lock:
            return self._cancel_locked(job_id)

    def _cancel_locked(self, job_id: str) -> bool:
        flag = self._cancel.get(job_id)
        if flag is None:
            return False
        flag.set()
        if self._pending.pop(job_id, None) is not None:
            self.events.put((job_id, WorkerDone(cancelled_before_start=True)))
        return True

    def cancel_many(self, job_ids) -> int:
        """cancel() for each id under one lock: 1,000 jobs in well under a millisecond (issue #16,
        a cancel used to scan every waiting job)."""
        with self._lock:
            return sum(1 for job_id in job_ids if self._cancel_locked(job_id))

    def cancel_all(self) -> None:
        with self._lock:
            ids = list(self._cancel)
        self.cancel_many(ids)

    def is_active(self, job_id: str) -> bool:
        return job_id in self._active

    def any_active(self, job_ids) -> bool:
        """Is any of `job_ids` (a set) still active? Costs the smaller of the two sets."""
        with self._lock:
            return not self._active.isdisjoint(job_ids)

    def active_ids(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    # -- workers --------------------------------------------------------------------------------
    def _start_ready(self) -> None:
        with self._lock:
            while self._pending and len(self._running) < self.limit:
                job_id, work = self._pending.popitem(last=False)
                thread = threading.Thread(target=self._run, args=(job_id, work, self._cancel[job_id]),
                                          name=f"lipsync-{job_id[:8]}", daemon=True)
                self._running[job_id] = thread
                self.max_running = max(self.max_running, len(self._running))
                thread.start()

    def _run(self, job_id: str, work: Work, cancel: threading.Event) -> None:
        def emit(event):
            self.events.put((job_id, event))
        try:
            work(cancel, emit)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread, never swallowed
            emit(WorkerError(f"{type(exc).__name__}: {exc}", exc))
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            emit(WorkerDone())
            self._start_ready()

    # -- main thread ----------------------------------------------------------------------------
    def drain(self, apply: Callable[[str, Any], None], budget: float = DEFAULT_BUDGET,
              clock: Callable[[], float] = time.perf_counter) -> int:
        """Apply queued events until the queue is empty or `budget` seconds are spent.

        At least one event is applied per call when one is waiting, so a slow apply (placing a
        take takes longer than the budget) cannot starve the queue.
        """
        started = clock()
        with main_thread_first():
            count = self._drain(apply, budget, clock, started)
        self.last_drain_seconds = clock() - started
        self.last_drain_count = count
        return count

    def _drain(self, apply, budget, clock, started) -> int:
        count = 0
        while True:
            try:
                job_id, event = self.events.get_nowait()
            except queue.Empty:
                break
            try:
                apply(job_id, event)
            finally:
                if isinstance(event, WorkerDone):
                    with self._lock:
                        self._active.discard(job_id)
                        self._cancel.pop(job_id, None)
                count += 1
            if clock() - started >= budget:
                break
        return count

    def wait(self, job_ids, apply: Callable[[str, Any], None], *, poll: float = 0.02,
             deadline: float | None = None, on_tick: Callable[[], None] | None = None) -> bool:
        """Background mode: drain until every job in `job_ids` ended. False on deadline."""
        job_ids = set(job_ids)
        limit = None if deadline is None else time.monotonic() + deadline
        while job_ids & self._active:
            if not self.drain(apply, budget=0.05):
                time.sleep(poll)
            if on_tick:
                on_tick()
            if limit is not None and time.monotonic() > limit:
                return False
        return True

    def shutdown(self, timeout: float = 1.0) -> None:
        """Add-on unregister: stop following every job (remote jobs keep running and can be
        re-attached from their saved records)."""
        self.cancel_all()
        end = time.monotonic() + timeout
        for thread in list(self._running.values()):
            thread.join(max(0.0, end - time.monotonic()))


RUNTIME = Runtime()
