"""A plan's concurrency cap is a wait, not a failure: submits answered 429 keep waiting
(Retry-After) for as long as the running jobs take, for every provider, and are never paid twice.

Real jobs run for minutes; a Hobbyist plan takes one at a time. A client that gives up after a few
429s drops the artist's second job (docs/providers.md §1.12, §6 #8).
"""

from __future__ import annotations

import threading
import time

import pytest

from client.config import ProviderConfig
from client.events import Completed
from client.jobs import iter_job_events
from client.models import AudioInput, JobRequest
from client.uploads import UploadCache
from tests.fixtures.faults import PROVIDERS
from tests.fixtures.sandbox import SANDBOX_KEY
from tests.media_fixtures import make_test_video, make_tone_wav


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("rate_media")
    return {"video": make_test_video(root / "face.mp4", 1.0), "audio": make_tone_wav(root / "line.wav", 0.8)}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_concurrency_429_waits_for_a_free_slot(sandbox, media, tmp_path, provider):
    # one job at a time; the first runs 1.2 s, during which the second is refused ~20 times
    sandbox.configure(provider=provider, concurrency=1, processing_seconds=1.2, retry_after=0.05)
    cfg = ProviderConfig(provider, SANDBOX_KEY, sandbox.base_url(provider))
    ends = {}

    def run(name):
        req = JobRequest(provider=provider, model="lipsync-2", video=media["video"],
                         audio=[AudioInput(id="a1", path=media["audio"])])
        ends[name] = list(iter_job_events(req, cfg, tmp_path / name, poll_interval=0.05,
                                          upload_cache=UploadCache()))[-1]

    first = threading.Thread(target=run, args=("first",))
    first.start()
    deadline = time.monotonic() + 10
    while not sandbox.stats()["generations"][provider] and time.monotonic() < deadline:
        time.sleep(0.02)
    run("second")
    first.join(30)
    throttled = sum(1 for r in sandbox.requests() if r["op"] == "submit" and r["status"] == 429)
    assert throttled >= 5, throttled
    assert all(isinstance(e, Completed) for e in ends.values()), ends
    stats = sandbox.stats()
    assert stats["generations"][provider] == 2 and stats["max_concurrent"][provider] == 1
