"""The worker runtime on its own, without Blender: concurrency, cancel, budgeted drain."""

import sys
import threading
import time

import pytest

from tests.fixtures.addon import lipsync


@pytest.fixture
def runtime():
    return lipsync("worker.runtime")


@pytest.fixture
def ev():
    return lipsync("worker.events")


def _sleeper(seconds, started=None):
    def work(cancel, emit):
        if started is not None:
            started.append(time.monotonic())
        emit("working")
        cancel.wait(seconds)
        emit("cancelled" if cancel.is_set() else "done")
    return work


def test_concurrency_limit_and_order(runtime, ev):
    rt = runtime.Runtime(limit=3)
    seen = []
    for i in range(10):
        rt.submit(f"job{i}", _sleeper(0.05))
    assert rt.running_count() <= 3
    assert rt.wait([f"job{i}" for i in range(10)], lambda j, e: seen.append((j, e)), deadline=10)
    assert rt.max_running == 3
    assert not rt.active_ids()
    for i in range(10):
        mine = [e for j, e in seen if j == f"job{i}"]
        assert mine[0] == "working" and mine[1] == "done" and isinstance(mine[-1], ev.WorkerDone)


def test_cancel_pending_and_running(runtime):
    rt = runtime.Runtime(limit=1)
    events = []
    rt.submit("a", _sleeper(5))
    rt.submit("b", _sleeper(5))
    time.sleep(0.05)
    assert rt.cancel("b") and rt.cancel("a")
    assert rt.wait(["a", "b"], lambda j, e: events.append((j, e)), deadline=3)
    assert ("a", "cancelled") in events
    b = [e for j, e in events if j == "b"]
    assert len(b) == 1 and b[0].cancelled_before_start
    assert not rt.cancel("a")   # finished: nothing to cancel


def test_cancel_many_waiting_jobs_and_start_order(runtime):
    """1,000 jobs waiting for a slot (issue #16): cancelling them all ends each once, before it
    started; the ones left start oldest first."""
    rt = runtime.Runtime(limit=1)
    started = []
    rt.submit("running", _sleeper(5))
    for i in range(1000):
        rt.submit(f"w{i}", lambda cancel, emit, i=i: started.append(i))
    assert rt.any_active({"w999"}) and not rt.any_active({"nope"})
    assert rt.cancel_many([f"w{i}" for i in range(0, 1000, 2)] + ["nope"]) == 500
    events = []
    assert rt.cancel("running")
    assert rt.wait(["running"] + [f"w{i}" for i in range(1000)], lambda j, e: events.append((j, e)), deadline=10)
    done = [j for j, e in events if getattr(e, "cancelled_before_start", False)]
    assert sorted(done) == sorted(f"w{i}" for i in range(0, 1000, 2))          # each once
    assert started == list(range(1, 1000, 2))                                  # the others, in order
    assert not rt.any_active({f"w{i}" for i in range(1000)})


def test_worker_exception_becomes_event(runtime, ev):
    rt = runtime.Runtime()
    events = []

    def boom(cancel, emit):
        raise ValueError("bad input")
    rt.submit("x", boom)
    rt.wait(["x"], lambda j, e: events.append(e), deadline=3)
    assert isinstance(events[0], ev.WorkerError) and "bad input" in events[0].message
    assert isinstance(events[-1], ev.WorkerDone)


def test_drain_respects_budget(runtime):
    rt = runtime.Runtime()
    for i in range(1000):
        rt.events.put(("j", i))
    slow = []

    def apply(job_id, event):
        slow.append(event)
        time.sleep(0.0005)
    n = rt.drain(apply, budget=0.002)
    assert 1 <= n < 20 and rt.last_drain_seconds < 0.01
    # a single slow event still gets applied (no starvation)
    rt2 = runtime.Runtime()
    rt2.events.put(("j", 1))
    assert rt2.drain(lambda j, e: time.sleep(0.01), budget=0.0) == 1


def test_threads_are_daemons(runtime):
    rt = runtime.Runtime()
    names = []

    def work(cancel, emit):
        names.append(threading.current_thread().daemon)
    rt.submit("d", work)
    rt.wait(["d"], lambda j, e: None, deadline=3)
    assert names == [True]


def test_main_thread_first_restores_switch_interval(runtime):
    before = sys.getswitchinterval()
    with runtime.main_thread_first():
        assert sys.getswitchinterval() > 0.049
    assert sys.getswitchinterval() == before
    with pytest.raises(ValueError):
        with runtime.main_thread_first():
            raise ValueError("apply failed")
    assert sys.getswitchinterval() == before
