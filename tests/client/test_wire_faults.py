"""Every fault kind x every provider x every request type, through the client job runner.

Each job must end in exactly one Completed/Failed; COMPLETED (after safe retries) or FAILED /
REJECTED / UNKNOWN with a one-line reason naming the provider; never a second generation for one
job; a failed or partial download leaves no file behind (no output, no .part), and a completed
one is the whole file the provider holds.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

import client.transport
from client.events import Completed, Failed
from client.jobs import iter_job_events
from client.models import AudioInput, JobRequest, Options, new_client_key
from client.uploads import UploadCache
from client.config import ProviderConfig
from tests.fixtures.faults import (ALL_KINDS, IDEMPOTENT, JOB_KINDS, LABELS, PROVIDERS, READ_TIMEOUT, REQUEST_KINDS,
                      SLOW_SECONDS, expected_states, fault_params, reason_words)
from tests.fixtures.sandbox import SANDBOX_KEY
from tests.media_fixtures import make_test_video, make_tone_wav

MODEL = "lipsync-2"
OPS = ("upload", "submit", "poll", "download")


def _cases():
    for provider in PROVIDERS:
        for kind in REQUEST_KINDS:
            for on in OPS:
                if kind == "slow" and on in ("upload", "download"):
                    continue   # a slow transfer is a slow poll/submit for the retry logic
                yield pytest.param(provider, kind, on, id=f"{provider}-{kind}-{on}")
        for kind in JOB_KINDS:
            yield pytest.param(provider, kind, "default", id=f"{provider}-{kind}")
        yield pytest.param(provider, "job_failed", "poll", id=f"{provider}-job_failed-poll")
        yield pytest.param(provider, "truncated_download", "always", id=f"{provider}-truncated_download-always")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("wire_media")
    return {"video": make_test_video(root / "face.mp4", 1.0), "audio": make_tone_wav(root / "line.wav", 0.8)}


def _fast_sleep(seconds):
    time.sleep(min(seconds, 0.01))


def _quiet_until_handled(sandbox, kind):
    """A 'slow' request goes on inside the sandbox after the client gave up: let it finish, so the
    counters read afterwards (and the next test) see its effect."""
    if kind == "slow":
        time.sleep(SLOW_SECONDS - READ_TIMEOUT + 0.25)
    sandbox.wait_idle(5.0)


@pytest.mark.parametrize("provider,kind,on", list(_cases()))
def test_fault_matrix_wire(sandbox, media, tmp_path, monkeypatch, provider, kind, on):
    if kind == "slow":
        monkeypatch.setattr(client.transport, "default_timeout",
                            lambda: httpx.Timeout(connect=2.0, read=READ_TIMEOUT, write=5.0, pool=2.0))
    sandbox.configure(provider=provider, processing_seconds=0.05)
    params = fault_params(kind, provider)
    arm_on = None if on in ("default", "always") else on
    if on == "always":      # every download of the job's output is cut short
        params["times"], arm_on = 10, "submit"
    sandbox.arm(provider, kind, count=1, on=arm_on, **params)
    key = new_client_key()
    req = JobRequest(provider=provider, model=MODEL, video=media["video"],
                     audio=[AudioInput(id="a1", path=media["audio"])], options=Options(), client_key=key)
    out = tmp_path / "out"
    events = list(iter_job_events(req, ProviderConfig(provider, SANDBOX_KEY, sandbox.base_url(provider)), out,
                                  sleep=_fast_sleep, poll_interval=0.02, upload_cache=UploadCache()))
    _quiet_until_handled(sandbox, kind)
    stats = sandbox.stats()

    # exactly one terminal event, last
    terminal = [e for e in events if isinstance(e, (Completed, Failed))]
    assert len(terminal) == 1 and events[-1] is terminal[0]
    end = terminal[0]
    state = "COMPLETED" if isinstance(end, Completed) else end.state.value
    want = expected_states(kind, on, provider)
    if on == "always":
        want = {"FAILED"}
    detail = end.error.human() if isinstance(end, Failed) else ""
    assert state in want, (state, detail)
    # the fault really fired (else this case proves nothing)
    assert any(f["kind"] == kind for f in stats["faults_fired"]), "the fault never fired"

    # never a second generation for one job
    assert stats["generations"][provider] <= 1, stats["generations"]
    if provider in IDEMPOTENT:
        assert set(stats["generations_by_key"][provider]) <= {key}
    files = sorted(os.listdir(out)) if out.exists() else []
    assert not [f for f in files if f.endswith(".part")], files
    if isinstance(end, Completed):
        assert stats["generations"][provider] == 1
        [path] = end.outputs
        assert os.path.dirname(path) == str(out) and os.path.basename(path) == "lipsync.mp4"
        served = [j for j in stats["jobs"] if j["provider"] == provider]
        assert served and files == ["lipsync.mp4"]
        _assert_whole_video(sandbox, path)
    else:
        assert files == [], files            # nothing half-written, nothing that could become a strip
        line = end.error.human()
        assert "\n" not in line and LABELS[provider] in line, line
        for word in reason_words(kind):
            assert word in line, line
        if kind == "job_failed":
            assert fault_params(kind, provider)["code"] in line, line
        if kind == "job_rejected":
            assert state == "REJECTED"
        if state == "UNKNOWN":
            assert "submit" in line.lower() or "dashboard" in line.lower() or "may" in line.lower(), line


def _assert_whole_video(sandbox, path):
    """Bytes equal to an output the sandbox stored (so not truncated, not an error body)."""
    import hashlib
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with sandbox.state.lock:
        stored = {f.sha256 for f in sandbox.state.files.values() if f.job_id}
    assert digest in stored, "the downloaded file is not the provider's output"


def test_matrix_is_complete():
    """Every fault kind the sandbox knows is in the matrix, for every provider."""
    from sandbox.faults import KINDS
    assert set(KINDS) == set(ALL_KINDS)
    cases = {(p.values[0], p.values[1]) for p in _cases()}
    assert cases == {(p, k) for p in PROVIDERS for k in ALL_KINDS}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("what", ["video", "audio"])
def test_longer_than_the_provider_takes_is_refused_before_upload(sandbox, media, tmp_path, monkeypatch, provider,
                                                                 what):
    from client.errors import InputError
    from tests.media_fixtures import make_tone_wav
    audio = media["audio"] if what == "video" else make_tone_wav(tmp_path / "long.wav", 2.0)
    monkeypatch.setenv(f"LIPSYNC_{provider.upper()}_MAX_SECONDS", "0.9" if what == "video" else "1.5")
    req = JobRequest(provider=provider, model=MODEL, video=media["video"], audio=[AudioInput(id="a1", path=audio)])
    [end] = list(iter_job_events(req, ProviderConfig(provider, SANDBOX_KEY, sandbox.base_url(provider)), tmp_path,
                                 upload_cache=UploadCache()))
    assert isinstance(end, Failed) and isinstance(end.error, InputError)
    assert f"the {what} lasts" in end.error.human() and LABELS[provider] in end.error.human()
    assert sandbox.stats()["requests"] == 0
