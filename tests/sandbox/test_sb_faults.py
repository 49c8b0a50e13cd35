"""Every fault kind armed and observed once per provider, over plain HTTP."""

from __future__ import annotations

import httpx
import pytest

PROVIDERS = ("sync", "runware", "wavespeed", "foxapi", "fal")


def error_shape_ok(provider: str, status: int, body: dict) -> bool:
    """The provider's own HTTP error body (docs/providers.md §1.10, §2.5, §3.3, §4.4, §5.1)."""
    if provider == "sync":
        return body["statusCode"] == status and {"errorCode", "message", "error"} <= set(body)
    if provider == "runware":
        return bool(body["errors"][0]["code"]) and "message" in body["errors"][0]
    if provider == "wavespeed":
        return body["code"] == status and "message" in body
    if provider == "foxapi":
        return body["error"]["code"] == status and {"message", "type"} <= set(body["error"])
    return "detail" in body


@pytest.fixture
def ready(sandbox, driver, media):
    """(driver, video ref, audio ref) with both inputs uploaded through the provider's facility."""

    def make(provider):
        d = driver(provider)
        return d, d.upload(media["video"]), d.upload(media["short"])

    return make


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reset_before_submit_creates_nothing(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "reset_before", on="submit")
    with pytest.raises(httpx.TransportError):
        d.submit(v, a)
    assert sandbox.stats()["generations"][provider] == 0
    assert d.submit(v, a).status_code in (200, 201)  # fired once, then disarmed
    assert sandbox.stats()["generations"][provider] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reset_after_submit_job_exists(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "reset_after", on="submit")
    with pytest.raises(httpx.TransportError):
        d.submit(v, a)
    stats = sandbox.stats()
    assert stats["generations"][provider] == 1
    assert stats["faults_fired"][0]["kind"] == "reset_after"


@pytest.mark.parametrize("status", (500, 502, 503))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_5xx_on_submit(sandbox, ready, provider, status):
    d, v, a = ready(provider)
    sandbox.arm(provider, f"http_{status}", on="submit")
    r = d.submit(v, a)
    assert r.status_code == status
    assert error_shape_ok(provider, status, r.json()), r.text
    assert sandbox.stats()["generations"][provider] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_429_with_retry_after(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "http_429", on="submit", retry_after=3)
    r = d.submit(v, a)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3"
    assert error_shape_ok(provider, 429, r.json()), r.text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_poll_times_out_client(sandbox, ready, provider):
    d, v, a = ready(provider)
    job_id = d.job_id(d.submit(v, a))
    sandbox.arm(provider, "slow", on="poll", seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        slow = type(d)(httpx.Client(timeout=0.3), d.base, d.key)
        slow.poll(job_id)
    assert d.wait(job_id)[0] == "completed"  # the next poll is normal again


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_json_on_submit(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "malformed_json", on="submit")
    r = d.submit(v, a)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert sandbox.stats()["generations"][provider] == 1  # handled: the job exists (outcome unknown)


DEFAULT_FAILED = {"sync": "generation_pipeline_failed", "runware": "providerError", "wavespeed": 1403,
                  "foxapi": "service_error", "fal": "runner_disconnected"}
DEFAULT_REJECTED = {"sync": "generation_input_validation_failed", "runware": "contentPolicyViolation",
                    "wavespeed": 1200, "foxapi": "content_policy_violation", "fal": "content_policy_violation"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_failed(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "job_failed")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert state == "failed", body
    assert d.error_code(body) == DEFAULT_FAILED[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_rejected(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "job_rejected")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert state == ("rejected" if provider == "sync" else "failed"), body
    assert d.error_code(body) == DEFAULT_REJECTED[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_output_expired(sandbox, ready, provider, http):
    d, v, a = ready(provider)
    sandbox.arm(provider, "output_expired")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert state == "completed"
    r = http.get(d.output_url(body))
    assert r.status_code == 403
    assert b"AccessDenied" in r.content


@pytest.mark.parametrize("provider", PROVIDERS)
def test_output_missing(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.arm(provider, "output_missing")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert state == "completed"
    assert d.output_url(body) is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_truncated_download(sandbox, ready, provider, http):
    d, v, a = ready(provider)
    sandbox.arm(provider, "truncated_download")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert state == "completed"
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(d.output_url(body))
    r = http.get(d.output_url(body))  # count=1: the retry gets the whole file
    assert r.status_code == 200 and len(r.content) == int(r.headers["Content-Length"])


# -- "on" selects the request kind --------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_fault_on_upload(sandbox, driver, media, provider):
    d = driver(provider)
    sandbox.arm(provider, "http_503", on="upload")
    with pytest.raises(AssertionError):
        d.upload(media["short"])
    d.upload(media["short"])
    assert sandbox.stats()["uploads"][provider] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_failed_on_poll_and_poll_503(sandbox, ready, provider):
    d, v, a = ready(provider)
    sandbox.configure(provider, processing_seconds=5.0)
    job_id = d.job_id(d.submit(v, a))
    sandbox.arm(provider, "http_503", on="poll")
    assert d.poll(job_id).status_code == 503
    sandbox.arm(provider, "job_failed", on="poll", code="generation_timeout" if provider == "sync" else None)
    state, body = d.wait(job_id)
    assert state == "failed"
    if provider == "sync":
        assert body["error_code"] == "generation_timeout"


def test_faults_over_admin_http(sandbox, http):
    r = http.post(f"{sandbox.url}/_sandbox/faults", json={"provider": "fal", "kind": "http_502", "count": 2,
                                                         "on": "any", "params": {}})
    assert r.status_code == 200 and r.json()["armed"]["count"] == 2
    assert http.get(f"{sandbox.url}/_sandbox/faults").json()["armed"][0]["kind"] == "http_502"
    assert http.post(f"{sandbox.url}/_sandbox/faults", json={"provider": "fal", "kind": "nope"}).status_code == 400
    assert http.delete(f"{sandbox.url}/_sandbox/faults").json()["armed"] == []
    assert http.post(f"{sandbox.url}/_sandbox/reset").status_code == 200
    assert http.get(f"{sandbox.url}/_sandbox/stats").json()["requests"] == 0


def test_cli_fault_spec_parses():
    from sandbox.__main__ import parse_fault

    assert parse_fault("sync:http_429:submit:2:retry_after=5") == {
        "provider": "sync", "kind": "http_429", "on": "submit", "count": 2, "params": {"retry_after": 5}}
    assert parse_fault("*:slow:poll:seconds=0.5")["params"] == {"seconds": 0.5}


def test_http_fault_params_shape_the_body(sandbox, ready):
    d, v, a = ready("sync")
    sandbox.arm("sync", "http_503", on="submit", code="IDEMPOTENCY_OUTCOME_UNKNOWN", generationId="g-1")
    r = d.submit(v, a, headers={"Idempotency-Key": "k"})
    body = r.json()
    assert r.status_code == 503 and body["errorCode"] == "IDEMPOTENCY_OUTCOME_UNKNOWN" and body["generationId"] == "g-1"


def test_truncated_download_can_resume_with_range(sandbox, ready, http):
    d, v, a = ready("wavespeed")
    sandbox.arm("wavespeed", "truncated_download")
    url = d.output_url(d.wait(d.job_id(d.submit(v, a)))[1])
    got = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with http.stream("GET", url) as r:
            total = int(r.headers["Content-Length"])
            for chunk in r.iter_raw():
                got += chunk
    assert 0 < len(got) < total
    r = http.get(url, headers={"Range": f"bytes={len(got)}-"})
    assert r.status_code == 206 and r.headers["Content-Range"] == f"bytes {len(got)}-{total - 1}/{total}"
    assert got + r.content == http.get(url).content


def test_output_expired_as_404_on_download(sandbox, ready, http):
    d, v, a = ready("foxapi")
    url = d.output_url(d.wait(d.job_id(d.submit(v, a)))[1])
    sandbox.arm("foxapi", "output_expired", on="download", status=404)
    assert http.get(url).status_code == 404
    assert http.get(url).status_code == 200
