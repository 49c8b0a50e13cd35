"""Helpers for client tests: fast sleeps, configs pointing at the sandbox, a job runner."""

from __future__ import annotations

import time

from client.config import ProviderConfig
from client.events import Completed, Failed
from client.jobs import iter_job_events
from client.models import AudioInput, JobRequest, Options
from client.uploads import UploadCache
from tests.fixtures.sandbox import SANDBOX_KEY

VIDEO_SECONDS = 1.0
AUDIO_SECONDS = 0.8


def fast_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.01))


def config(sandbox, provider: str, key: str = SANDBOX_KEY) -> ProviderConfig:
    return ProviderConfig(provider, key, sandbox.base_url(provider))


def request(provider: str, model: str, media, **fields) -> JobRequest:
    options = fields.pop("options", {})
    base = dict(provider=provider, model=model, video=media["video"],
                audio=[AudioInput(id="a1", path=media["audio"])], options=Options(**options))
    base.update(fields)
    return JobRequest(**base)


def run(sandbox, req: JobRequest, out_dir, *, key: str = SANDBOX_KEY, **kwargs) -> list:
    kwargs.setdefault("sleep", fast_sleep)
    kwargs.setdefault("poll_interval", 0.02)
    kwargs.setdefault("upload_cache", UploadCache())
    events = list(iter_job_events(req, config(sandbox, req.provider, key), out_dir, **kwargs))
    assert isinstance(events[-1], (Completed, Failed))
    assert sum(isinstance(e, (Completed, Failed)) for e in events) == 1
    return events
