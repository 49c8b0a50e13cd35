"""iter_job_events against the sandbox: retries, paying once, UNKNOWN outcomes, resume, cancel,
downloads, uploads reuse, error shapes, deadlines."""

from __future__ import annotations

import threading

import pytest

from client.capabilities import models_for
from client.config import PROVIDERS
from client.errors import (
    AuthError, Cancelled, DownloadError, InputError, JobFailed, OutcomeUnknown, PollTimeout, ProviderUnavailable,
    RateLimited,
)
from client.events import Completed, Failed, JobState, Status, Submitted, Uploaded
from client.jobs import RemoteRef, iter_job_events
from client.models import AudioInput, Segment
from client.uploads import UploadCache
from tests.client.jobkit import config, fast_sleep, request, run

IDEMPOTENT = ("sync", "runware")
NOT_IDEMPOTENT = ("wavespeed", "foxapi", "fal")
FIRST_MODEL = {p: models_for(p)[0] if p != "sync" else "lipsync-2" for p in PROVIDERS}


def submits(sandbox, provider):
    return [r for r in sandbox.requests() if r["provider"] == provider and r["op"] == "submit"]


def polls(sandbox, provider):
    return [r for r in sandbox.requests() if r["provider"] == provider and r["op"] == "poll"]


def ok(events) -> Completed:
    last = events[-1]
    assert isinstance(last, Completed), getattr(last, "error", last)
    return last


def failed(events) -> Failed:
    last = events[-1]
    assert isinstance(last, Failed), last
    return last


# -- retries ----------------------------------------------------------------------------------

POLL_FAULTS = ["http_429", "http_500", "http_502", "http_503", "reset_before", "malformed_json"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_polls_survive_transient_faults(sandbox, media, tmp_path, provider):
    for kind in POLL_FAULTS:
        sandbox.arm(provider, kind, count=1, on="poll", retry_after=0)
    done = ok(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert len(done.outputs) == 1
    assert sorted(f["kind"] for f in sandbox.stats()["faults_fired"]) == sorted(POLL_FAULTS)
    assert sandbox.stats()["generations"][provider] == 1


@pytest.mark.parametrize("provider", ["sync", "fal"])  # transport-level: two header spellings suffice
def test_retry_after_is_honoured(sandbox, media, tmp_path, provider):
    sandbox.arm(provider, "http_429", count=1, on="poll", retry_after=3)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        fast_sleep(seconds)

    ok(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path, sleep=sleep))
    assert 3 in slept


@pytest.mark.parametrize("provider", PROVIDERS)
def test_upload_faults_are_retried(sandbox, media, tmp_path, provider):
    for kind in ("http_429", "http_503", "reset_before", "http_500"):
        sandbox.arm(provider, kind, count=1, on="upload", retry_after=0)
    ok(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert len(sandbox.stats()["faults_fired"]) == 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_documented_429_on_submit_is_waited_out_by_everyone(sandbox, media, tmp_path, provider):
    # the provider's own rate-limit body proves the submit was not acted on: even providers
    # without idempotency may send it again
    sandbox.arm(provider, "http_429", count=1, on="submit", retry_after=0)
    ok(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert sandbox.stats()["generations"][provider] == 1
    assert len(submits(sandbox, provider)) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_submit_503_is_resent_only_with_idempotency(sandbox, media, tmp_path, provider):
    # a 5xx proves nothing: a gateway answers so after forwarding the request (issue #13)
    sandbox.arm(provider, "http_503", count=1, on="submit")
    events = run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path)
    if provider in IDEMPOTENT:
        ok(events)
        assert len(submits(sandbox, provider)) == 2
    else:
        result = failed(events)
        assert result.state is JobState.UNKNOWN and isinstance(result.error, OutcomeUnknown)
        assert len(submits(sandbox, provider)) == 1


@pytest.mark.parametrize("provider", ["sync", "wavespeed"])
def test_persistent_429_becomes_rate_limited(sandbox, media, tmp_path, provider):
    sandbox.arm(provider, "http_429", count=50, on="poll", retry_after=0)
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert isinstance(result.error, RateLimited)
    assert result.remote_id  # resumable later


# -- paying once --------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", IDEMPOTENT)
def test_idempotent_submit_is_retried_without_a_second_generation(sandbox, media, tmp_path, provider):
    model = FIRST_MODEL[provider]
    req = request(provider, model, media)
    # the first attempt is accepted but its answer is lost; the retries meet server errors
    sandbox.arm(provider, "reset_after", count=1, on="submit")
    sandbox.arm(provider, "http_500", count=1, on="submit")
    sandbox.arm(provider, "http_502", count=1, on="submit")
    done = ok(run(sandbox, req, tmp_path))
    stats = sandbox.stats()
    assert len(submits(sandbox, provider)) == 4
    assert stats["generations"][provider] == 1
    assert stats["generations_by_key"][provider] == {req.client_key: 1}
    assert done.remote_id


@pytest.mark.parametrize("provider", IDEMPOTENT)
def test_second_run_with_same_key_reuses_the_generation(sandbox, media, tmp_path, provider):
    req = request(provider, FIRST_MODEL[provider], media)
    cache = UploadCache()
    first = ok(run(sandbox, req, tmp_path / "1", upload_cache=cache))
    second = ok(run(sandbox, req, tmp_path / "2", upload_cache=cache))
    assert first.remote_id == second.remote_id
    assert sandbox.stats()["generations"][provider] == 1


@pytest.mark.parametrize("provider", NOT_IDEMPOTENT)
@pytest.mark.parametrize("kind", ["reset_after", "reset_before", "http_500", "http_502"])
def test_ambiguous_submit_without_idempotency_is_unknown(sandbox, media, tmp_path, provider, kind):
    sandbox.arm(provider, kind, count=1, on="submit")
    calls = []
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path,
                        on_submitting=calls.append))
    assert result.state is JobState.UNKNOWN and isinstance(result.error, OutcomeUnknown)
    assert "not sent again" in result.error.message
    assert len(submits(sandbox, provider)) == 1
    assert len(calls) == 1
    expected = 1 if kind == "reset_after" else 0
    assert sandbox.stats()["generations"].get(provider, 0) == expected


# -- resume ----------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_resume_from_remote_id_never_resubmits(sandbox, media, tmp_path, provider):
    sandbox.configure(processing_seconds=0.3)
    req = request(provider, FIRST_MODEL[provider], media)
    events = iter_job_events(req, config(sandbox, provider), tmp_path, sleep=fast_sleep, poll_interval=0.02,
                             upload_cache=UploadCache())
    submitted = next(e for e in events if isinstance(e, Submitted))
    events.close()  # the host went away (Blender closed) right after the submit
    import json

    saved = json.loads(json.dumps({"id": submitted.remote_id, "extra": submitted.extra}))
    resumed = list(iter_job_events(req, config(sandbox, provider), tmp_path, out_stem="resumed",
                                   resume=RemoteRef(saved["id"], saved["extra"]), sleep=fast_sleep,
                                   poll_interval=0.02))
    done = ok(resumed)
    assert done.remote_id == submitted.remote_id
    assert done.outputs[0].endswith("resumed.mp4")
    assert not any(isinstance(e, (Uploaded, Submitted)) for e in resumed)
    assert len(submits(sandbox, provider)) == 1
    assert sandbox.stats()["generations"][provider] == 1


# -- job outcomes --------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_failed_carries_provider_code_and_message(sandbox, media, tmp_path, provider):
    sandbox.arm(provider, "job_failed", code="E_TEST_42", message="the face went missing")
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert result.state is JobState.FAILED and isinstance(result.error, JobFailed)
    assert result.error.code and "the face went missing" in result.error.message
    assert result.error.human().startswith(
        {"sync": "sync.so", "runware": "Runware", "wavespeed": "WaveSpeedAI", "foxapi": "FoxAPI", "fal": "fal"}
        [provider])
    assert result.remote_id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_job_rejected(sandbox, media, tmp_path, provider):
    sandbox.arm(provider, "job_rejected", message="content policy")
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path))
    assert isinstance(result.error, JobFailed)
    assert result.state in (JobState.REJECTED, JobState.FAILED)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_download_faults(sandbox, media, tmp_path, provider):
    req = request(provider, FIRST_MODEL[provider], media)
    sandbox.arm(provider, "truncated_download")
    ok(run(sandbox, req, tmp_path / "a"))  # a cut-short download is fetched again

    sandbox.reset()
    sandbox.arm(provider, "output_expired")
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path / "b"))
    assert isinstance(result.error, DownloadError) and "expired" in result.error.message
    assert not list((tmp_path / "b").glob("*"))  # no half files left behind

    sandbox.reset()
    sandbox.arm(provider, "output_missing")
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path / "c"))
    assert isinstance(result.error, JobFailed)


def test_download_size_cap(sandbox, media, tmp_path):
    result = failed(run(sandbox, request("sync", "lipsync-2", media), tmp_path, max_download_bytes=100))
    assert isinstance(result.error, DownloadError) and "limit" in result.error.message
    assert not list(tmp_path.glob("*"))


def test_result_file_honours_the_umask(sandbox, media, tmp_path):
    # The temp file behind the download is 0600; a take on shared storage must not stay private.
    import os
    import stat

    result = ok(run(sandbox, request("sync", "lipsync-2", media), tmp_path))
    old = os.umask(0o022)
    os.umask(old)
    mode = stat.S_IMODE(os.stat(result.outputs[0]).st_mode)
    assert mode == 0o666 & ~old


@pytest.mark.parametrize("provider", ["sync", "runware", "foxapi"])
def test_cancel_between_steps(sandbox, media, tmp_path, provider):
    sandbox.configure(processing_seconds=2.0)
    cancel = threading.Event()
    seen = []
    for event in iter_job_events(request(provider, FIRST_MODEL[provider], media), config(sandbox, provider),
                                 tmp_path, cancel=cancel, sleep=fast_sleep, poll_interval=0.02,
                                 upload_cache=UploadCache()):
        seen.append(event)
        if isinstance(event, Status):
            cancel.set()
    result = failed(seen)
    assert result.state is JobState.CANCELLED and isinstance(result.error, Cancelled)
    assert result.remote_id


def test_cancel_before_start_uploads_nothing(sandbox, media, tmp_path):
    cancel = threading.Event()
    cancel.set()
    result = failed(run(sandbox, request("fal", "lipsync-2", media), tmp_path, cancel=cancel))
    assert result.state is JobState.CANCELLED
    assert sandbox.stats()["uploads"].get("fal", 0) == 0


def test_poll_deadline_gives_unknown_and_resumable(sandbox, media, tmp_path):
    sandbox.configure(processing_seconds=30)
    now = [0.0]

    def clock():
        return now[0]

    def sleep(seconds):
        now[0] += seconds

    result = failed(run(sandbox, request("foxapi", "lipsync-2", media), tmp_path, clock=clock, sleep=sleep,
                        poll_deadline=5, poll_interval=1.0))
    assert isinstance(result.error, PollTimeout) and result.state is JobState.UNKNOWN
    assert result.remote_id in result.error.message


# -- uploads ---------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["sync", "runware", "fal"])
def test_same_content_is_uploaded_once(sandbox, media, tmp_path, provider):
    cache = UploadCache()
    model = FIRST_MODEL[provider]
    ok(run(sandbox, request(provider, model, media), tmp_path / "1", upload_cache=cache))
    uploaded = sandbox.stats()["uploaded_bytes"][provider]
    events = run(sandbox, request(provider, model, media), tmp_path / "2", upload_cache=cache)
    ok(events)
    assert [e.reused for e in events if isinstance(e, Uploaded)] == [True, True]
    assert sandbox.stats()["uploaded_bytes"][provider] == uploaded


def test_url_inputs_are_not_uploaded(sandbox, media, tmp_path):
    cache = UploadCache()
    first = run(sandbox, request("wavespeed", "lipsync-2", media), tmp_path / "1", upload_cache=cache)
    refs = {e.name: e.ref for e in first if isinstance(e, Uploaded)}
    sandbox_uploads = sandbox.stats()["uploads"]["wavespeed"]
    req = request("wavespeed", "lipsync-2", media, video=refs["video"],
                  audio=[AudioInput(id="a1", path=refs["a1"])])
    ok(run(sandbox, req, tmp_path / "2", upload_cache=UploadCache()))
    assert sandbox.stats()["uploads"]["wavespeed"] == sandbox_uploads


# -- errors of every shape ---------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_key_is_auth_error(sandbox, media, tmp_path, provider):
    result = failed(run(sandbox, request(provider, FIRST_MODEL[provider], media), tmp_path, key="wrong-key-000"))
    assert isinstance(result.error, AuthError)
    assert "API key" in result.error.human()


def test_missing_key_fails_before_network(sandbox, media, tmp_path):
    result = failed(run(sandbox, request("sync", "lipsync-2", media), tmp_path, key=""))
    assert isinstance(result.error, AuthError) and "SYNC_API_KEY" in result.error.message
    assert sandbox.stats()["requests"] == 0


def test_validation_happens_before_any_upload(sandbox, media, tmp_path):
    req = request("foxapi", "sync-3", media, options={"temperature": 0.4})
    result = failed(run(sandbox, req, tmp_path))
    assert isinstance(result.error, InputError)
    assert "temperature" in result.error.message and "sync-3" in result.error.message
    assert sandbox.stats()["requests"] == 0


def test_missing_file_is_input_error(sandbox, media, tmp_path):
    result = failed(run(sandbox, request("sync", "lipsync-2", media, video=str(tmp_path / "nope.mp4")), tmp_path))
    assert isinstance(result.error, InputError) and "not found" in result.error.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_validation_errors_are_input_errors(sandbox, media, tmp_path, provider):
    """The provider's own 4xx body (NestJS, errors[], envelope, error object, detail) becomes a
    readable InputError; sent through the provider module over HTTP with a body it rejects."""
    from client.providers import provider_class
    from client.transport import Http

    paths = {"sync": "/v2/generate", "runware": "/v1", "wavespeed": "/api/v3/sync/lipsync-2",
             "foxapi": "/v1/videos/generations", "fal": "/fal-ai/sync-lipsync/v2"}
    body = [{"taskType": "videoInference", "taskUUID": "not-a-uuid"}] if provider == "runware" else {"model": 7}
    with Http(provider, sleep=fast_sleep) as http:
        p = provider_class(provider)(config(sandbox, provider), http)
        with pytest.raises((InputError, JobFailed)) as info:
            response = p.call("POST", paths[provider], safe=True, json=body)
            if provider == "runware":
                p.raise_errors(response.json())
    assert info.value.provider == provider and len(info.value.message) > 10


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_remote_id(sandbox, media, tmp_path, provider):
    req = request(provider, FIRST_MODEL[provider], media)
    ref = RemoteRef("00000000-0000-4000-8000-000000000000")
    result = failed(list(iter_job_events(req, config(sandbox, provider), tmp_path, resume=ref, sleep=fast_sleep,
                                         poll_interval=0.02, poll_deadline=2)))
    assert isinstance(result.error, (JobFailed, PollTimeout, ProviderUnavailable, InputError))


def test_server_5xx_everywhere_is_provider_unavailable(sandbox, media, tmp_path):
    sandbox.arm("sync", "http_503", count=100, on="upload")
    result = failed(run(sandbox, request("sync", "lipsync-2", media), tmp_path))
    assert isinstance(result.error, ProviderUnavailable) and result.state is JobState.FAILED


# -- provider specifics --------------------------------------------------------------------------

def test_runware_several_results_and_cost(sandbox, media, tmp_path):
    req = request("runware", "lipsync-2", media, options={"number_results": 2, "output_quality": 80})
    done = ok(run(sandbox, req, tmp_path))
    assert [p.rsplit("/", 1)[-1] for p in done.outputs] == ["lipsync.mp4", "lipsync_2.mp4"]
    assert done.cost is not None and done.cost > 0


@pytest.mark.parametrize("model", ["lipsync-2", "sync-3"])
def test_runware_segments_and_crop(sandbox, media, tmp_path, model):
    req = request("runware", model, media,
                  audio=[AudioInput(id="a1", path=media["audio"]), AudioInput(id="a2", path=media["audio2"])],
                  segments=[Segment(start=0, end=0.5, audio_id="a1", audio_start=0.1, audio_end=0.6),
                            Segment(start=0.5, end=1.0, audio_id="a2")])
    ok(run(sandbox, req, tmp_path))
    (job,) = sandbox.stats()["jobs"]
    assert len(job["segments"]) == 2


def test_single_audio_crop_becomes_a_segment(sandbox, media, tmp_path):
    req = request("sync", "lipsync-2", media, audio=[AudioInput(id="a1", path=media["audio"], start=0.2, end=0.7)])
    ok(run(sandbox, req, tmp_path))
    (job,) = sandbox.stats()["jobs"]
    assert len(job["segments"]) == 1


def test_sync_cost_endpoint(sandbox, media, tmp_path):
    from client.providers import provider_class
    from client.transport import Http

    req = request("sync", "lipsync-2", media)
    events = run(sandbox, req, tmp_path)
    refs = {e.name: e.ref for e in events if isinstance(e, Uploaded)}
    with Http("sync") as http:
        usd = provider_class("sync")(config(sandbox, "sync"), http).estimate_cost(req, refs)
    assert usd == pytest.approx(0.05 * 0.8, abs=0.01)


def test_fal_cancel_reaches_the_queue(sandbox, media, tmp_path):
    sandbox.configure(processing_seconds=2.0)
    cancel = threading.Event()
    events = []
    for event in iter_job_events(request("fal", "lipsync-2", media), config(sandbox, "fal"), tmp_path,
                                 cancel=cancel, sleep=fast_sleep, poll_interval=0.02, upload_cache=UploadCache()):
        events.append(event)
        if isinstance(event, Submitted):
            cancel.set()
    assert failed(events).state is JobState.CANCELLED
    assert any(r["path"].endswith("/cancel") for r in sandbox.requests())


def test_sync_server_side_dedup_survives_a_lost_cache(sandbox, media, tmp_path):
    ok(run(sandbox, request("sync", "lipsync-2", media), tmp_path / "1", upload_cache=UploadCache()))
    uploads = sandbox.stats()["uploads"]["sync"]
    events = run(sandbox, request("sync", "lipsync-2", media), tmp_path / "2", upload_cache=UploadCache())
    ok(events)
    assert [e.reused for e in events if isinstance(e, Uploaded)] == [True, True]
    assert sandbox.stats()["uploads"]["sync"] == uploads


def test_plain_http_off_loopback_is_refused_before_sending(media, tmp_path):
    from client.config import ProviderConfig

    cfg = ProviderConfig("sync", "sandbox-key", "http://example.com/sync")
    result = failed(list(iter_job_events(request("sync", "lipsync-2", media), cfg, tmp_path,
                                         upload_cache=UploadCache())))
    assert isinstance(result.error, InputError) and "only https" in result.error.message


def test_failed_job_forgets_reused_uploads(sandbox, media, tmp_path):
    cache = UploadCache()
    ok(run(sandbox, request("fal", "lipsync-2", media), tmp_path / "1", upload_cache=cache))
    sandbox.reset()  # the provider lost the files; our cache still points at them
    failed(run(sandbox, request("fal", "lipsync-2", media), tmp_path / "2", upload_cache=cache))
    events = run(sandbox, request("fal", "lipsync-2", media), tmp_path / "3", upload_cache=cache)
    ok(events)
    assert [e.reused for e in events if isinstance(e, Uploaded)] == [False, False]
