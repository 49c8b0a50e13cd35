"""Crash points for the crash-and-resume tests (issue #6); inert unless an env var names one.

`LIPSYNC_TEST_CRASH_AT=<point>` makes the job runner stop dead at that point of every job:
`started` (before any upload), `submitted` (the provider accepted the submit, nobody heard of it
yet), `polling` (after the first poll), `downloading` (first bytes of the result on disk, not
renamed), `downloaded` (the result file is complete, Completed not yet sent).
`LIPSYNC_TEST_CRASH_MODE=park` parks the job's thread forever instead of `os._exit(137)`, so a
test host can save its state at exactly that point and then die (tests/reliability).
"""

from __future__ import annotations

import os
import threading

CRASH_ENV = "LIPSYNC_TEST_CRASH_AT"
MODE_ENV = "LIPSYNC_TEST_CRASH_MODE"
POINTS = ("started", "submitted", "polling", "downloading", "downloaded")

#: how many threads are parked (read by the test host)
parked: list[str] = []
_lock = threading.Lock()


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) != name:
        return
    if os.environ.get(MODE_ENV) == "park":
        with _lock:
            parked.append(name)
        threading.Event().wait()
    os._exit(137)
