"""What `jobs.iter_job_events` yields: small frozen records a host can queue across threads."""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

from .errors import LipsyncError, scrub


class JobState(str, enum.Enum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.REJECTED, JobState.CANCELLED)


@dataclasses.dataclass(frozen=True)
class Uploading:
    name: str
    sent: int
    total: int


@dataclasses.dataclass(frozen=True)
class Uploaded:
    name: str
    ref: str
    reused: bool


@dataclasses.dataclass(frozen=True)
class Submitting:
    """Right before the first paid POST: everything a byte-identical resubmit needs.

    A host that persists this before asking for the next event has it saved before any money can
    move. To resubmit (same key, same uploaded files, same body bytes):
    `iter_job_events(JobRequest.from_json(request_json), ..., uploaded=refs)`. Safe only where
    `idempotent` (sync.so, Runware); without idempotency a job whose submit outcome is unknown
    must not be sent again automatically.
    """

    client_key: str
    #: input name ("video", audio ids) -> the ref the provider got from the upload (URL, asset/media id)
    refs: dict[str, str]
    #: the request as sent (JobRequest.to_json), with any audio crop already turned into a segment
    request_json: str
    idempotent: bool


@dataclasses.dataclass(frozen=True)
class Submitted:
    remote_id: str
    #: what resume needs besides the id (JSON-safe, never the key)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Status:
    state: JobState
    progress: float | None = None
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Downloading:
    received: int
    total: int | None


@dataclasses.dataclass(frozen=True)
class Completed:
    remote_id: str
    outputs: list[str]
    cost: float | None = None
    output_seconds: float | None = None


@dataclasses.dataclass(frozen=True)
class Failed:
    state: JobState
    error: LipsyncError
    remote_id: str | None = None
    #: True: the provider holds the job (retry = poll or download it again, never submit);
    #: False: it provably does not (nothing was sent, or the provider refused it: nothing billed);
    #: None: nobody can tell (state UNKNOWN; resubmit only with the same key where idempotent)
    accepted: bool | None = None


Event = Uploading | Uploaded | Submitting | Submitted | Status | Downloading | Completed | Failed


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-safe form of an event (used by the CLI's --json lines): strict JSON (no NaN/Infinity),
    every string scrubbed of registered keys."""
    data: dict[str, Any] = {"event": type(event).__name__.lower()}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, LipsyncError):
            value = {"type": type(value).__name__, "message": value.message, "human": value.human(),
                     "provider": value.provider, "code": getattr(value, "code", None)}
        data[field.name] = json_safe(value)
    return data


def json_safe(value: Any) -> Any:
    """`value` with enums as their value, non-finite floats as None and strings scrubbed."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {scrub(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    return scrub(str(value))
