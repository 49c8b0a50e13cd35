"""Helpers for the hostile tests: configs through the proxy, one job run, the figures table."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from client.capabilities import models_for
from client.config import PROVIDERS, ProviderConfig
from client.events import Completed, Failed
from client.jobs import iter_job_events
from client.models import AudioInput, JobRequest, Options
from client.transport import Limits
from client.uploads import UploadCache

#: the sandbox's only key: long and distinctive, so any copy of it in any output is found
LEAK_KEY = "sk-HOSTILE-Leak-Check-9f3a71"
IDEMPOTENT = ("sync", "runware")
NOT_IDEMPOTENT = ("wavespeed", "foxapi", "fal")
MODEL = {p: "lipsync-2" if "lipsync-2" in models_for(p) else models_for(p)[0] for p in PROVIDERS}
#: short request bounds so slow-server tests take seconds, not minutes
FAST_LIMITS = Limits(request_seconds=2.0, min_rate=16 * 1024)

FIGURES: dict[str, Any] = {}
_lock = threading.Lock()


def record_max(name: str, value: float, fmt: str = "{:.3f}") -> None:
    """Keep the largest value seen for `name` (figures are worst cases)."""
    with _lock:
        old = FIGURES.get(name)
        if old is None or value > old[0]:
            FIGURES[name] = (value, fmt.format(value))


def figure_text(name: str) -> str:
    return FIGURES[name][1]


def fast_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.01))


def config(proxy, provider: str, key: str = LEAK_KEY) -> ProviderConfig:
    return ProviderConfig(provider, key, proxy.base_url(provider))


def request(provider: str, media, **fields) -> JobRequest:
    options = fields.pop("options", {})
    base = dict(provider=provider, model=MODEL[provider], video=media["video"],
                audio=[AudioInput(id="a1", path=media["audio"])], options=Options(**options))
    base.update(fields)
    return JobRequest(**base)


def run(proxy, req: JobRequest, out_dir, **kwargs) -> list:
    kwargs.setdefault("sleep", fast_sleep)
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("upload_cache", UploadCache())
    kwargs.setdefault("limits", FAST_LIMITS)
    events = list(iter_job_events(req, config(proxy, req.provider), out_dir, **kwargs))
    assert sum(isinstance(e, (Completed, Failed)) for e in events) == 1
    assert isinstance(events[-1], (Completed, Failed))
    return events


def end_state(events) -> str:
    last = events[-1]
    return "COMPLETED" if isinstance(last, Completed) else last.state.value


def submit_key(seen) -> str | None:
    """The idempotency key a submit carried: sync.so's header, Runware's taskUUID (§1.11, §2.6)."""
    if seen.provider == "sync":
        return seen.headers.get("idempotency-key")
    if seen.provider == "runware":
        tasks = json.loads(seen.body)
        return next(t.get("taskUUID") for t in tasks if t.get("taskType") == "videoInference")
    return None


# each provider's own documented refusal of a submit for a rate limit (providers.md §1.10, §2.5,
# §3.3, §4.4, §5.1): the only kind of 429 that proves no job was created
DOCUMENTED_429 = {
    "sync": {"statusCode": 429, "errorCode": "rate_limit_exceeded", "message": "Rate limit exceeded.",
             "error": "Too Many Requests"},
    "runware": {"errors": [{"code": "tooManyRequests", "message": "Too many requests."}]},
    "wavespeed": {"code": 429, "message": "Too many requests", "data": None},
    "foxapi": {"error": {"code": 429, "message": "Rate limit exceeded", "type": "rate_limit_error"}},
    "fal": {"detail": "Rate limit exceeded"},
}
