"""A known key never shows up in a log record, an exception text, an event repr or CLI output."""

from __future__ import annotations

import logging

import pytest

from client import cli
from client.capabilities import models_for
from client.config import ENV_KEYS, PROVIDERS, ProviderConfig, base_url_env
from client.events import Failed, event_to_dict
from client.jobs import iter_job_events
from client.uploads import UploadCache
from tests.client.jobkit import fast_sleep, request

KEY = "sk-LEAKCHECK-123"
WRONG = "sk-WRONGKEY-456"


@pytest.fixture(scope="module")
def leak_sandbox():
    from sandbox import Sandbox

    sb = Sandbox(port=0, queue_seconds=0.0, processing_seconds=0.05, keys=(KEY,))
    sb.start()
    yield sb
    sb.stop()


def _texts(events) -> str:
    parts = []
    for e in events:
        parts += [repr(e), str(e), str(event_to_dict(e))]
        if isinstance(e, Failed):
            parts += [str(e.error), repr(e.error), e.error.human(), repr(e.error.args)]
    return "\n".join(parts)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_never_leaks(leak_sandbox, media, tmp_path, caplog, provider):
    caplog.set_level(logging.DEBUG)
    leak_sandbox.reset()
    model = models_for(provider)[-1]
    good = ProviderConfig(provider, KEY, leak_sandbox.base_url(provider))
    assert KEY not in repr(good) + str(good)
    runs = []
    runs.append(list(iter_job_events(request(provider, model, media), good, tmp_path / "ok", sleep=fast_sleep,
                                     poll_interval=0.02, upload_cache=UploadCache())))
    leak_sandbox.arm(provider, "job_failed", code="E1", message="boom")
    runs.append(list(iter_job_events(request(provider, model, media), good, tmp_path / "f", sleep=fast_sleep,
                                     poll_interval=0.02, upload_cache=UploadCache())))
    bad = ProviderConfig(provider, WRONG, leak_sandbox.base_url(provider))
    runs.append(list(iter_job_events(request(provider, model, media), bad, tmp_path / "b", sleep=fast_sleep,
                                     poll_interval=0.02, upload_cache=UploadCache())))
    assert [type(r[-1]).__name__ for r in runs] == ["Completed", "Failed", "Failed"]
    everything = "\n".join(_texts(r) for r in runs) + caplog.text
    everything += "\n".join(str(rec.args) for rec in caplog.records)
    assert caplog.records  # the client and httpx did log
    assert KEY not in everything and WRONG not in everything


def test_cli_output_is_keyless(leak_sandbox, media, tmp_path, monkeypatch, capsys):
    leak_sandbox.reset()
    monkeypatch.setenv(ENV_KEYS["runware"], KEY)
    monkeypatch.setenv(base_url_env("runware"), leak_sandbox.base_url("runware"))
    leak_sandbox.arm("runware", "job_failed", code="E2", message="nope")
    for as_json in (["--json"], []):
        cli.main(["run", "--provider", "runware", "--model", "lipsync-2", "--video", media["video"],
                  "--audio", media["audio"], "--out", str(tmp_path / "o.mp4"), "--poll-interval", "0.02",
                  *as_json])
    out = capsys.readouterr()
    assert "nope" in out.out + out.err
    assert KEY not in out.out + out.err
