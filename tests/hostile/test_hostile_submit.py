"""Every submit fault x every provider: how many paid POSTs, and how the job ends.

A "paid POST" is a submit the proxy forwarded to the sandbox (it may have created a job). Without
idempotency at most one is allowed under any fault, and a fault after the forward must end
UNKNOWN; with idempotency every POST must carry the same key and the same bytes, and the job ends
COMPLETED or UNKNOWN, never FAILED (a FAILED would feed a paid retry, issue #13).
"""

from __future__ import annotations

import json

import pytest

from client.config import PROVIDERS
from client.errors import OutcomeUnknown
from client.events import Failed, Submitting
from tests.hostile import proxy as hp
from tests.hostile.kit import (
    DOCUMENTED_429, IDEMPOTENT, NOT_IDEMPOTENT, end_state, record_max, request, run, submit_key,
)

# fault name -> (answer after the upstream accepted the submit, how many submits it hits)
AFTER_ACCEPT = {
    "503 page": (hp.gateway(503), 1),
    "502 page": (hp.gateway(502), 1),
    "500 page": (hp.gateway(500), 1),
    "504 page": (hp.gateway(504), 1),
    "408 page": (hp.gateway(408), 1),
    "429 page": (hp.gateway(429, retry_after="0"), 1),
    "503 storm": (hp.gateway(503, retry_after="0"), 10),
    "connection reset": (hp.reset_after(), 1),
    "stalled answer": (hp.stall(30), 1),
    "answer at 1 byte/s": (hp.trickle(1.0), 1),
    "JSON 100000 deep": (hp.garbage(hp.deep_json()), 1),
    '{"data": "str"}': (hp.garbage(b'{"data": "str", "id": {"x": 1}, "request_id": [1]}'), 1),
    "a JSON list": (hp.garbage(b"[]"), 1),
    "cut-off JSON": (hp.garbage(b'{"id": "ab'), 1),
    "HTML under 200": (hp.garbage(b"<html>ok</html>", content_type="text/html"), 1),
    "24 MB JSON": (hp.garbage(hp.oversized_json(24)), 1),
    "gzip bomb (3 GB)": (hp.bomb("gzip", 3072), 1),
    "zstd bomb (3 GB)": (hp.bomb("zstd", 3072), 1),
    "id with a slash": (hp.garbage(b'{"id": "../../x", "request_id": "../../x", "data": {"id": "../../x"}}'), 1),
}


def _generations(hostile, provider) -> int:
    hostile.sandbox.wait_idle(5.0)
    return hostile.sandbox.stats()["generations"].get(provider, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", list(AFTER_ACCEPT))
def test_fault_after_the_submit_was_accepted(hostile, media, tmp_path, provider, fault):
    answer, count = AFTER_ACCEPT[fault]
    hostile.add(hp.Rule(provider, "submit", answer, forward=True, count=count, name=fault))
    req = request(provider, media)
    events = run(hostile, req, tmp_path)
    state = end_state(events)
    submits = hostile.requests(provider, "submit")
    paid = hostile.paid_posts(provider)
    assert any(s.rule == fault for s in submits), "the fault never fired"
    assert _generations(hostile, provider) <= 1
    if provider in NOT_IDEMPOTENT:
        record_max(f"paid POSTs per job, no idempotency: {fault}", len(paid), "{:.0f}")
        assert len(paid) == 1, [s.rule for s in submits]
        assert state == "UNKNOWN", events[-1]
        last = events[-1]
        assert isinstance(last.error, OutcomeUnknown) and last.accepted is None
        assert "may" in last.error.message and "dashboard" in last.error.message
    else:
        record_max(f"submit POSTs per job, idempotent (same key, same bytes): {fault}", len(submits), "{:.0f}")
        assert state in ("COMPLETED", "UNKNOWN"), events[-1]
        keys = {submit_key(s) for s in submits}
        assert keys == {req.client_key}, keys
        assert len({s.body for s in submits}) == 1, "a resend changed the body"
        if state == "UNKNOWN":
            assert events[-1].accepted is None and req.client_key in events[-1].error.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_providers_documented_429_proves_nothing_was_created(hostile, media, tmp_path, provider):
    body = json.dumps(DOCUMENTED_429[provider]).encode()
    hostile.add(hp.Rule(provider, "submit", hp.with_retry_after(429, "0", body), forward=False, count=2,
                        name="documented 429"))
    events = run(hostile, request(provider, media), tmp_path)
    assert end_state(events) == "COMPLETED", events[-1]
    assert len(hostile.requests(provider, "submit")) == 3
    assert len(hostile.paid_posts(provider)) == 1
    assert _generations(hostile, provider) == 1


@pytest.mark.parametrize("provider", NOT_IDEMPOTENT)
def test_a_429_page_before_the_upstream_is_still_unknown(hostile, media, tmp_path, provider):
    # a gateway's own 429 page proves nothing about the upstream, even when (here) it did not
    # forward: the client cannot tell the two apart, so it must not resend
    hostile.add(hp.Rule(provider, "submit", hp.gateway(429, retry_after="0"), forward=False, name="429 page"))
    events = run(hostile, request(provider, media), tmp_path)
    assert end_state(events) == "UNKNOWN"
    assert len(hostile.requests(provider, "submit")) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_is_resent_and_accepted_is_false(hostile, media, tmp_path, provider):
    # nothing can reach a closed port: retrying even a paid submit is safe, and the end says so
    import socket

    from client.config import ProviderConfig
    from client.jobs import iter_job_events
    from client.uploads import UploadCache
    from tests.hostile.kit import FAST_LIMITS, LEAK_KEY, fast_sleep

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ProviderConfig(provider, LEAK_KEY, f"http://127.0.0.1:{port}/{provider}")
    events = list(iter_job_events(request(provider, media), cfg, tmp_path, sleep=fast_sleep, limits=FAST_LIMITS,
                                  upload_cache=UploadCache()))
    last = events[-1]
    assert isinstance(last, Failed) and last.state.value == "FAILED" and last.accepted is False
    assert not any(isinstance(e, Submitting) for e in events)  # it never got past the uploads


@pytest.mark.parametrize("provider", IDEMPOTENT)
def test_idempotent_resubmit_from_saved_refs_sends_the_same_bytes(hostile, media, tmp_path, provider):
    """The Blender side's resubmit: the first attempt's answer is lost for good (UNKNOWN); a later
    run from the Submitting event's request JSON and refs, with the cut files gone, sends the same
    bytes under the same key and gets the same job (sync.so would answer 422 to a changed body)."""
    import shutil

    from client.models import JobRequest

    hostile.add(hp.Rule(provider, "submit", hp.gateway(503), forward=True, count=5, name="503 page"))
    work = tmp_path / "work"
    work.mkdir()
    local = {k: shutil.copy(v, work) for k, v in media.items()}
    first = run(hostile, request(provider, local), tmp_path / "1")
    assert end_state(first) == "UNKNOWN"
    submitting = next(e for e in first if isinstance(e, Submitting))
    shutil.rmtree(work)  # the host cleaned its work folder; only the record remains
    again = JobRequest.from_json(submitting.request_json)
    second = run(hostile, again, tmp_path / "2", uploaded=submitting.refs)
    assert end_state(second) == "COMPLETED", second[-1]
    submits = hostile.requests(provider, "submit")
    assert len({s.body for s in submits}) == 1 and {submit_key(s) for s in submits} == {again.client_key}
    assert len(hostile.requests(provider, "upload")) == len(hostile.requests(provider, "upload")[:99])
    assert _generations(hostile, provider) == 1


def test_sync_key_reused_with_another_body_is_unknown_not_failed(hostile, media, tmp_path):
    """The suspected case: the same key with different uploads (a re-cut file uploaded again) makes
    sync.so answer 422 IDEMPOTENCY_KEY_REUSED: that job exists, so the end is UNKNOWN, not FAILED."""
    hostile.add(hp.Rule("sync", "submit", hp.gateway(503), forward=True, count=5, name="503 page"))
    req = request("sync", media)
    assert end_state(run(hostile, req, tmp_path / "1")) == "UNKNOWN"
    recut = tmp_path / "recut.wav"
    recut.write_bytes(open(media["audio"], "rb").read() + b"\0\0")  # the same line, cut again
    from client.models import AudioInput
    import dataclasses

    changed = dataclasses.replace(req, audio=[AudioInput(id="a1", path=str(recut))])
    events = run(hostile, changed, tmp_path / "2")
    last = events[-1]
    assert end_state(events) == "UNKNOWN" and "IDEMPOTENCY" in last.error.message, last
    assert last.accepted is None
    assert _generations(hostile, "sync") == 1
