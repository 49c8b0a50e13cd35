"""Jobs with the same inputs share one paid run: the first is the leader, the others join it.

ANY THREAD (a lock guards the table; no bpy). A worker fingerprints its job first
(worker/work.py); `claim(key, job_id)` then answers who runs that content: the job itself when no
other job of this session holds the key, else the leader's id, and the worker emits `Joined`
instead of preparing, uploading and paying again (docs/architecture.md, "Money"). This covers a
strip submitted again while its job runs and identical jobs inside one batch: both workers
fingerprint, one claims first.

The main thread ends a claim (`release`) when the leader ends without a result (failed,
cancelled): the next identical submit runs on its own. A leader that finished keeps its claim, so
a job fingerprinted between the leader's end and the main thread learning of it still joins
(its `known` map was made before); the main thread checks that the result is still there, else
the joiner fails and releases. A file load clears the table (`clear`): the ids named another file.

Example: "Shot" is submitted at 10:00 (job A) and, while A is processing, again at 10:01 (job B):
B's worker computes A's fingerprint, claim answers A, B emits Joined(A) and ends; when A's result
lands the main thread places it for A and re-activates it for B, at no second charge.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_leaders: dict[str, str] = {}      # fingerprint -> job id of the job that runs it


def claim(key: str, job_id: str) -> str:
    """The job id that runs content `key`: `job_id` itself when it is the first, else the leader."""
    if not key:
        return job_id
    with _lock:
        return _leaders.setdefault(key, job_id)


def release(key: str, job_id: str) -> bool:
    """End `job_id`'s claim on `key` (it ended without a result); True when it held it."""
    with _lock:
        if key and _leaders.get(key) == job_id:
            del _leaders[key]
            return True
    return False


def leader(key: str) -> str:
    with _lock:
        return _leaders.get(key, "")


def clear() -> None:
    with _lock:
        _leaders.clear()
