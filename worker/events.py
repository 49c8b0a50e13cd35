"""The one vocabulary of events a worker sends to the main thread.

Small frozen records, safe to queue across threads: the client's job events (client/events.py,
re-exported here) plus the host-side ones below. `vse/apply.py` dispatches on these types with
one table; a new event type is added here and there, nowhere else.
"""

from __future__ import annotations

import dataclasses
import threading

from ..client.events import Completed, Downloading, Failed, Status, Submitted, Submitting, Uploaded, Uploading


@dataclasses.dataclass(frozen=True)
class Phase:
    """A local phase the client has no event for: PREPARING (media), SUBMITTING (about to POST)."""
    name: str
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Media is cut; `request_json` is the JobRequest that will be (or was) submitted."""
    request_json: str
    input_hash: str = ""


@dataclasses.dataclass(frozen=True)
class Fingerprinted:
    """The job's content fingerprint (worker/fingerprint.py), saved on the record for cache hits."""
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class CacheHit:
    """`source_job` already produced this result; nothing was prepared, uploaded or submitted."""
    source_job: str
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class BeforeSubmit:
    """The next step is the paid POST. The main thread saves `submitting` (client key, uploaded
    refs, the request as sent) in the record, then sets `saved`; the worker waits for that before
    it lets the client send (docs/architecture.md "Money"). A resubmit after a crash can then send
    the same bytes under the same key, and a record that is gone is never paid for."""
    submitting: Submitting
    saved: threading.Event = dataclasses.field(default_factory=threading.Event, compare=False)


@dataclasses.dataclass(frozen=True)
class Joined:
    """A running (or just finished) job `leader` has the same inputs: this one waits for its
    result instead of paying again (worker/joins.py); nothing was prepared, uploaded or submitted."""
    leader: str
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class WorkerError:
    """The work function raised (a bug or an input problem caught outside the client)."""
    message: str
    exception: BaseException | None = None


@dataclasses.dataclass(frozen=True)
class WorkerDone:
    """Always the last event of a job; `cancelled_before_start` when it never got a thread."""
    cancelled_before_start: bool = False


CLIENT_EVENTS = (Uploading, Uploaded, Submitted, Status, Downloading, Completed, Failed)
HOST_EVENTS = (Phase, Prepared, Fingerprinted, CacheHit, Joined, BeforeSubmit, WorkerError, WorkerDone)

__all__ = ["BeforeSubmit", "CLIENT_EVENTS", "HOST_EVENTS", "CacheHit", "Completed", "Downloading", "Failed",
           "Fingerprinted", "Joined", "Phase", "Prepared", "Status", "Submitted", "Submitting", "Uploaded",
           "Uploading", "WorkerDone", "WorkerError"]
