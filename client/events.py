"""What `jobs.iter_job_events` yields: small frozen records a host can queue across threads."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .errors import LipsyncError


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


Event = Uploading | Uploaded | Submitted | Status | Downloading | Completed | Failed


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-safe form of an event (used by the CLI's --json lines)."""
    data: dict[str, Any] = {"event": type(event).__name__.lower()}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, JobState):
            value = value.value
        elif isinstance(value, LipsyncError):
            value = {"type": type(value).__name__, "message": value.message, "human": value.human(),
                     "provider": value.provider, "code": getattr(value, "code", None)}
        data[field.name] = value
    return data
