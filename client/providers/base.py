"""The protocol every provider module implements, and the error mapping they share."""

from __future__ import annotations

import dataclasses
import json
import mimetypes
import os
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from ..capabilities import caps
from ..config import ProviderConfig
from ..errors import (
    AuthError, InputError, JobFailed, LipsyncError, ProviderUnavailable, QuotaExceeded, RateLimited,
)
from ..events import JobState
from ..media_info import duration
from ..models import JobRequest, RemoteRef, Segment  # noqa: F401 - RemoteRef re-exported for the providers
from ..transport import Http, redact_url, retry_after_of

Progress = Callable[[int, int], None]


@dataclasses.dataclass
class PollResult:
    state: JobState
    progress: float | None = None
    message: str = ""
    outputs: list[str] = dataclasses.field(default_factory=list)
    cost: float | None = None
    output_seconds: float | None = None
    error: LipsyncError | None = None
    #: the server's hint for the next poll (Retry-After), seconds
    retry_after: float | None = None

    def fail(self, error: JobFailed) -> "PollResult":
        """End this poll as a failure: REJECTED when the provider's code says it refused the job."""
        self.error = error
        if error.rejected:
            self.state = JobState.REJECTED
        return self


class Provider:
    """upload / submit / poll / cancel / parse_error. Instances live for one job."""

    name = ""
    #: submits are safe to retry (Idempotency-Key or client taskUUID)
    idempotent_submit = False
    #: first and maximum poll interval, seconds
    poll_interval = (1.0, 10.0)

    def __init__(self, config: ProviderConfig, http: Http) -> None:
        self.config = config
        self.http = http

    # -- protocol ------------------------------------------------------------------------------

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        raise NotImplementedError

    def find_uploaded(self, path: str, kind: str, sha256: str) -> str | None:
        """A ref for content the provider already holds (server-side dedup), or None."""
        return None

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        raise NotImplementedError

    def poll(self, ref: RemoteRef) -> PollResult:
        raise NotImplementedError

    def cancel(self, ref: RemoteRef) -> bool:
        return False

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        code, message = generic_code_message(response)
        return error_for_status(self.name, response, code, message)

    def proves_refusal(self, response: httpx.Response) -> bool:
        """Whether an error answer to a submit is this provider's own documented refusal body, which
        proves no job was created (a gateway's page proves nothing, issue #13). Only providers
        without idempotency need it; by default nothing counts as proof."""
        return False

    # -- helpers -------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def remote_model(self, model: str) -> str:
        return caps(self.name, model).remote_model

    def call(self, method: str, path: str, *, safe: bool, role: str = "api", headers=None,
             **kwargs: Any) -> httpx.Response:
        """A request to one of the provider's hosts; the URL is rebuilt from the configured base."""
        h = self.auth_headers()
        h.update(headers or {})
        url = self.config.url(path, role)
        # the key goes only to the configured host: a path is never a URL or a netloc
        host = urllib.parse.urlsplit(self.config.host(role))
        parts = urllib.parse.urlsplit(url)
        if not path.startswith("/") or (parts.scheme, parts.netloc) != (host.scheme, host.netloc):
            raise InputError(f"refusing to send the key to {redact_url(url)!r}: not the configured host", self.name)
        return self.http.request(method, url, safe=safe, parse_error=self.parse_error, refusal=self.proves_refusal,
                                 headers=h, **kwargs)

    def json_of(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise ProviderUnavailable(
                f"unreadable answer (HTTP {response.status_code}, not JSON)", self.name,
                status=response.status_code) from None


def content_type(path: str, kind: str) -> str:
    guessed = mimetypes.guess_type(path)[0]
    if guessed:
        return guessed
    return {"video": "video/mp4", "audio": "audio/wav"}.get(kind, "application/octet-stream")


def file_size(path: str) -> int:
    return os.path.getsize(path)


def body_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def generic_code_message(response: httpx.Response) -> tuple[str | None, str]:
    data = body_json(response)
    text = response.text[:300] if data is None else ""
    if isinstance(data, dict):
        msg = data.get("message") or data.get("detail") or data.get("error") or ""
        if isinstance(msg, dict):
            msg = msg.get("message", "")
        return (str(data.get("code") or data.get("errorCode") or "") or None), flatten(msg)
    return None, text.strip()


def flatten(message: Any) -> str:
    """Messages come as a string, a list of strings, or a list of {loc, msg} dicts (fal 422)."""
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, list):
        parts = []
        for item in message:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                msg = item.get("msg") or item.get("message") or json.dumps(item)
                parts.append(f"{loc}: {msg}" if loc else str(msg))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(message, dict):
        return str(message.get("message") or message.get("msg") or json.dumps(message))
    return str(message)


def error_for_status(provider: str, response: httpx.Response, code: str | None, message: str) -> LipsyncError:
    """The typed error for an HTTP failure; `code`/`message` come from the provider's body."""
    status = response.status_code
    detail = message or response.reason_phrase or f"HTTP {status}"
    if code:
        detail = f"{detail} ({code})" if code not in detail else detail
    if status in (401, 403):
        return AuthError(f"the API key was refused (HTTP {status}): {detail}", provider, status=status)
    if status == 402:
        return QuotaExceeded(f"insufficient balance or plan limit (HTTP 402): {detail}", provider, status=status)
    if status == 429:
        return RateLimited(f"rate or concurrency limit reached: {detail}", provider,
                           retry_after=retry_after_of(response), status=status)
    if status >= 500:
        return ProviderUnavailable(f"server error HTTP {status}: {detail}", provider, status=status)
    if status == 404:
        return JobFailed(code or "not_found", f"not found (HTTP 404): {detail}", provider, status=status)
    return InputError(f"the request was refused (HTTP {status}): {detail}", provider, status=status)


def as_float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def as_fraction(value: Any) -> float | None:
    """Progress as 0..1 whether the provider sends 0..1 or a percentage."""
    v = as_float(value)
    if v is None:
        return None
    return max(0.0, min(1.0, v / 100 if v > 1 else v))


def crop_segments(req: JobRequest) -> list:
    """The request's segments; a cropped single audio without segments becomes one segment.

    The APIs crop audio only inside segments (docs/providers.md §1.5, §2.3), so a whole-video segment
    [0, video duration] carries the crop. The duration is read from the local video header.
    """
    if req.segments:
        return list(req.segments)
    cropped = [a for a in req.audio if a.start is not None]
    if not cropped:
        return []
    a = cropped[0]
    seconds = duration(req.video) if os.path.isfile(req.video) else None
    if not seconds:
        raise InputError(f"cropping audio {a.id!r} needs the video length, which could not be read from "
                         f"{os.path.basename(req.video)}; add a segment instead", req.provider)
    return [Segment(start=0.0, end=round(seconds, 3), audio_id=a.id, audio_start=a.start, audio_end=a.end)]
