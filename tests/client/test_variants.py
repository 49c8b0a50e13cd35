"""Protocol variants the reference leaves open ([U]): both Runware failure shapes, the empty
Runware ack, FoxAPI result objects; concurrency 429s; CLI status/resume; the sync cost endpoint."""

from __future__ import annotations

import json

import pytest

from client import cli
from client.config import ENV_KEYS, base_url_env
from client.errors import JobFailed, RateLimited
from client.events import Completed, Failed, JobState, Submitted
from client.jobs import iter_job_events, remote_estimate
from client.uploads import UploadCache
from tests.client.jobkit import config, fast_sleep, request, run


@pytest.mark.parametrize("shape", ["errors", "item"])
def test_runware_failure_shapes(sandbox, media, tmp_path, shape):
    sandbox.configure(provider="runware", runware_error_shape=shape)
    sandbox.arm("runware", "job_failed", code="inferenceError", message="the model gave up")
    result = run(sandbox, request("runware", "lipsync-2", media), tmp_path)[-1]
    assert isinstance(result, Failed) and isinstance(result.error, JobFailed)
    assert result.error.code == "inferenceError" and "the model gave up" in result.error.message


def test_runware_empty_ack(sandbox, media, tmp_path):
    sandbox.configure(provider="runware", runware_empty_ack=True)
    assert isinstance(run(sandbox, request("runware", "sync-3", media), tmp_path)[-1], Completed)


def test_foxapi_result_objects(sandbox, media, tmp_path):
    sandbox.configure(provider="foxapi", results_as_objects=True)
    done = run(sandbox, request("foxapi", "lipsync-2-pro", media), tmp_path)[-1]
    assert isinstance(done, Completed) and len(done.outputs) == 1


def test_concurrency_limit_is_rate_limited(sandbox, media, tmp_path, monkeypatch):
    # a concurrency 429 is waited out (tests/reliability/test_rel_wire_rate.py); only after the
    # patience deadline does the job end RateLimited
    import client.submitting
    monkeypatch.setattr(client.submitting, "RATE_LIMIT_PATIENCE", 0.3)
    sandbox.configure(provider="sync", concurrency=1, processing_seconds=2.0)
    first = iter_job_events(request("sync", "lipsync-2", media), config(sandbox, "sync"), tmp_path / "1",
                            sleep=fast_sleep, poll_interval=0.02, upload_cache=UploadCache())
    next(e for e in first if isinstance(e, Submitted))
    slept = []
    second = run(sandbox, request("sync", "lipsync-2", media), tmp_path / "2",
                 sleep=lambda s: (slept.append(s), fast_sleep(s)))
    first.close()
    result = second[-1]
    assert isinstance(result, Failed) and isinstance(result.error, RateLimited)
    assert result.error.retry_after == 1 and 1 in slept
    assert "concurrency" in result.error.message.lower() or "limit" in result.error.message.lower()
    assert sandbox.stats()["generations"]["sync"] == 1
    assert any(getattr(e, "message", "").startswith("the provider's concurrency limit") for e in second)


def test_cli_status_and_resume(sandbox, media, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_KEYS["fal"], "sandbox-key")
    monkeypatch.setenv(base_url_env("fal"), sandbox.base_url("fal"))
    sandbox.configure(processing_seconds=0.3)
    events = iter_job_events(request("fal", "sync-3", media), config(sandbox, "fal"), tmp_path,
                             sleep=fast_sleep, poll_interval=0.02, upload_cache=UploadCache())
    sub = next(e for e in events if isinstance(e, Submitted))
    events.close()
    extra = json.dumps(sub.extra)
    assert cli.main(["status", "--provider", "fal", "--id", sub.remote_id, "--extra", extra, "--json"]) == 0
    state = json.loads(capsys.readouterr().out)["state"]
    assert state in ("QUEUED", "PROCESSING", "COMPLETED")
    out = tmp_path / "resumed.mp4"
    assert cli.main(["status", "--provider", "fal", "--id", sub.remote_id, "--extra", extra, "--out", str(out),
                     "--poll-interval", "0.02"]) == 0
    assert out.is_file()
    assert len([r for r in sandbox.requests() if r["op"] == "submit"]) == 1


def test_remote_estimate_sync_and_none_elsewhere(sandbox, media):
    cache = UploadCache()
    usd = remote_estimate(request("sync", "lipsync-2-pro", media, options={"sync_mode": "cut_off"}),
                          config(sandbox, "sync"), upload_cache=cache)
    assert usd == pytest.approx(0.083 * 0.8, abs=0.01)
    assert remote_estimate(request("fal", "lipsync-2", media), config(sandbox, "fal")) is None


def test_cost_endpoint_table_matches_the_provider_classes():
    # the table lets Blender's poll answer without importing provider modules; it must not drift
    from client.capabilities import COST_ENDPOINT
    from client.config import PROVIDERS
    from client.providers import provider_class
    assert COST_ENDPOINT == {p for p in PROVIDERS if hasattr(provider_class(p), "estimate_cost")}


def test_invalid_idempotency_key_is_caught_locally(sandbox, media, tmp_path):
    result = run(sandbox, request("sync", "lipsync-2", media, client_key="has space"), tmp_path)[-1]
    assert isinstance(result, Failed) and result.state is JobState.FAILED
    assert "client_key" in result.error.message and sandbox.stats()["requests"] == 0


def test_tts_inputs(sandbox, media, tmp_path):
    from client.models import Segment, TextInput

    # sync.so: an audio file and a TTS line on one timeline (segments, §1.5)
    req = request("sync", "lipsync-2", media, text=[TextInput(id="t1", text="hello there", voice="v-1")],
                  segments=[Segment(start=0, end=0.5, audio_id="a1"), Segment(start=0.5, end=1.0, audio_id="t1")])
    assert isinstance(run(sandbox, req, tmp_path / "s")[-1], Completed)
    # Runware sync-3: text only, through `inputs.speech`
    req = request("runware", "sync-3", media, audio=[], text=[TextInput(id="t1", text="hi", voice="v-2")])
    assert isinstance(run(sandbox, req, tmp_path / "r")[-1], Completed)
    jobs = sandbox.stats()["jobs"]
    assert len(jobs) == 2 and len(jobs[0]["segments"]) == 2



class _OutcomeUnknownOnce:
    """An httpx transport in front of the real one: the first sync submit reaches the sandbox, but
    its answer is replaced by sync.so's 503 IDEMPOTENCY_OUTCOME_UNKNOWN (§1.11)."""

    def __init__(self, with_id: bool):
        import httpx

        self.inner = httpx.HTTPTransport()
        self.with_id = with_id
        self.fired = False

    def handle_request(self, req):
        import httpx

        response = self.inner.handle_request(req)
        if not self.fired and req.method == "POST" and req.url.path.endswith("/v2/generate"):
            self.fired = True
            response.read()
            body = {"statusCode": 503, "errorCode": "IDEMPOTENCY_OUTCOME_UNKNOWN",
                    "message": "The outcome of the original request is unknown", "error": "Service Unavailable"}
            if self.with_id:
                body["generationId"] = json.loads(response.content)["id"]
            return httpx.Response(503, json=body)
        return response

    def close(self):
        self.inner.close()


@pytest.mark.parametrize("with_id", [True, False])
def test_sync_idempotency_outcome_unknown(sandbox, media, tmp_path, with_id):
    req = request("sync", "lipsync-2", media)
    done = run(sandbox, req, tmp_path, transport=_OutcomeUnknownOnce(with_id))[-1]
    assert isinstance(done, Completed)
    submits = [r for r in sandbox.requests() if r["op"] == "submit"]
    # with a generationId we poll it at once; without, the same key is sent again and replayed
    assert len(submits) == (1 if with_id else 2)
    assert sandbox.stats()["generations_by_key"]["sync"] == {req.client_key: 1}


def test_runware_output_options_and_foxapi_progress(sandbox, media, tmp_path):
    from client.events import Status
    from client.models import ActiveSpeaker

    req = request("runware", "sync-3", media, options={
        "output_format": "WEBM", "output_quality": 50, "ttl": 3600, "safety_check": True, "emotion": "happy",
        "mode": "lips", "active_speaker": ActiveSpeaker(boxes=[[10, 10, 100, 100]] * 25), "sync_mode": "remap"})
    done = run(sandbox, req, tmp_path / "r")[-1]
    assert isinstance(done, Completed) and done.outputs[0].endswith("lipsync.webm")
    (job,) = sandbox.stats()["jobs"]
    assert job["sync_mode"] == "remap" and job["active_speaker"]

    sandbox.configure(processing_seconds=0.4)
    events = run(sandbox, request("foxapi", "lipsync-2", media, options={"temperature": 0.7}), tmp_path / "f")
    progress = [e.progress for e in events if isinstance(e, Status) and e.progress is not None]
    assert progress and all(0 <= p <= 1 for p in progress) and progress[-1] == 1.0


def test_wavespeed_deleted_prediction_ends_the_job(sandbox, media, tmp_path):
    """A prediction deleted while it runs reads status `deleted`, a terminal state for the official
    SDK (wavespeed 2.0.5 `_wait`): the job ends FAILED at the next poll instead of polling to its
    deadline (docs/providers.md §3.3)."""
    import httpx

    sandbox.configure(provider="wavespeed", processing_seconds=30.0)
    naps = []

    def bounded_sleep(seconds):
        # a client that does not stop on `deleted` would poll on to its 6-hour deadline
        naps.append(seconds)
        assert len(naps) < 300, "still polling a deleted prediction"
        fast_sleep(seconds)

    events = iter_job_events(request("wavespeed", "lipsync-2", media), config(sandbox, "wavespeed"), tmp_path,
                             sleep=bounded_sleep, poll_interval=0.02, upload_cache=UploadCache())
    sub = next(e for e in events if isinstance(e, Submitted))
    r = httpx.post(sandbox.base_url("wavespeed") + "/api/v3/predictions/delete", json={"ids": [sub.remote_id]},
                   headers={"Authorization": "Bearer sandbox-key"})
    assert r.json()["data"] == {"deleted_count": 1}
    polls_before = len([q for q in sandbox.requests() if q["op"] == "poll"])
    end = [e for e in events if isinstance(e, (Completed, Failed))]
    assert len(end) == 1 and isinstance(end[0], Failed) and end[0].state is JobState.FAILED
    assert "deleted" in end[0].error.message
    assert len([q for q in sandbox.requests() if q["op"] == "poll"]) - polls_before <= 2
