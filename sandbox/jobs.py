"""A generation: what was asked (JobSpec, provider-neutral) and where it is in its life (Job).

Life is driven by time, computed lazily on every look: PENDING for queue_seconds, PROCESSING for
processing_seconds and until the output file exists (rendered in a worker thread), then
COMPLETED, or FAILED / REJECTED when a fault or a bad input says so. Providers map these generic
states onto their own spellings.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from .timeline import Segment, Speaker

PENDING, PROCESSING, COMPLETED, FAILED, REJECTED, CANCELLED = (
    "PENDING", "PROCESSING", "COMPLETED", "FAILED", "REJECTED", "CANCELLED")
TERMINAL = (COMPLETED, FAILED, REJECTED, CANCELLED)


@dataclass
class AudioSource:
    id: str
    ref: str | None = None  # URL, data URI, raw base64 or a stored file/asset id
    text: str | None = None  # TTS input: rendered as word-timed tone bursts


@dataclass
class JobSpec:
    model: str  # public model name (lipsync-2, sync-3, ...)
    video: str  # ref, like AudioSource.ref
    audios: list[AudioSource]
    sync_mode: str
    segments: list[Segment] = field(default_factory=list)
    speaker: Speaker | None = None
    options: dict = field(default_factory=dict)  # as the client sent them (for stats)
    number_results: int = 1
    output_format: str = "mp4"
    output_name: str | None = None


class Failure(Exception):
    """Why a job failed: `kind` is provider-neutral, providers map it to their own codes.

    kind: fault | rejected | video_inaccessible | audio_inaccessible | video_invalid | audio_invalid | pipeline.
    Raised by input resolution/rendering, stored on the job.
    """

    def __init__(self, kind: str, message: str, code: str | int | None = None, status: str = FAILED):
        super().__init__(message)
        self.kind, self.message, self.code, self.status = kind, message, code, status


@dataclass
class Job:
    provider: str
    spec: JobSpec
    api_key: str
    queue_s: float
    proc_s: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_key: str | None = None  # Idempotency-Key / taskUUID
    created: float = field(default_factory=time.monotonic)
    created_at: float = field(default_factory=time.time)
    failure: Failure | None = None  # armed job fault (applies once processing time is over)
    render_failure: Failure | None = None
    output_missing: bool = False
    output_expired: bool = False
    truncate_downloads: int = 0
    cancelled: bool = False
    outputs: list[str] = field(default_factory=list)  # stored file ids
    info: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # provider bookkeeping (echoed request, flags)
    done: threading.Event = field(default_factory=threading.Event)

    def status(self, now: float | None = None) -> str:
        if self.cancelled:
            return CANCELLED
        t = (time.monotonic() if now is None else now) - self.created
        if t < self.queue_s:
            return PENDING
        if t < self.queue_s + self.proc_s:
            return PROCESSING
        if self.failure:
            return self.failure.status
        if not self.done.is_set():
            return PROCESSING
        if self.render_failure:
            return self.render_failure.status
        return COMPLETED

    def error(self) -> Failure | None:
        status = self.status()
        if status in (FAILED, REJECTED):
            return self.failure or self.render_failure
        return None

    def progress(self, now: float | None = None) -> float:
        """0..1; 1 only when terminal."""
        status = self.status(now)
        if status in TERMINAL:
            return 1.0 if status == COMPLETED else 0.0
        t = (time.monotonic() if now is None else now) - self.created
        if status == PENDING:
            return 0.0
        span = max(self.proc_s, 1e-6)
        return max(0.0, min(0.95, (t - self.queue_s) / span))

    def wait_terminal(self, deadline: float) -> None:
        """Block until the job ends or `deadline` (monotonic): a long-poll. Wakes the moment the
        render finishes (like a real server answering early), else re-checks every 50 ms."""
        while self.status() not in TERMINAL:
            now = time.monotonic()
            if now >= deadline:
                return
            step = min(0.05, deadline - now)
            if self.done.is_set():  # rendered; the planned processing time is what is left
                time.sleep(max(0.001, min(step, self.created + self.queue_s + self.proc_s - now)))
            else:
                self.done.wait(step)

    def is_active(self, now: float | None = None) -> bool:
        return self.status(now) in (PENDING, PROCESSING)
