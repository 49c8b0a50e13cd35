"""Why the extension keeps its own client: the SDK behaviours docs/providers.md §8 cites, measured.

Each test puts an SDK and our client through the same sandbox fault and counts what the sandbox
saw (generations created, submits received, headers sent). The figures are printed (pytest -s).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import pathlib
import time

import pytest

from client.config import ProviderConfig
from client.events import Completed, Failed, JobState
from client.jobs import iter_job_events
from client.models import AudioInput, JobRequest, Options, new_client_key
from client.uploads import UploadCache
from tests.conformance.sdks import KEY, SyncSdk, fal_sdk, runware_call, wavespeed_client


def _ours(sandbox, provider, model, media, tmp_path):
    req = JobRequest(provider=provider, model=model, video=media["video"],
                     audio=[AudioInput(id="a1", path=media["audio"])], options=Options(), client_key=new_client_key())
    events = list(iter_job_events(req, ProviderConfig(provider, KEY, sandbox.base_url(provider)), tmp_path / "ours",
                                  sleep=lambda s: time.sleep(min(s, 0.02)), poll_interval=0.02,
                                  upload_cache=UploadCache()))
    return events[-1]


def _submits(sandbox, provider):
    return [r for r in sandbox.requests() if r["provider"] == provider and r["op"] == "submit"]


def test_fal_client_pays_twice_when_a_submit_answer_is_lost(sandbox, media, tmp_path, monkeypatch):
    sdk = fal_sdk(monkeypatch, sandbox.base_url("fal"))
    args = {"video_url": sdk.upload_file(media["video"]), "audio_url": sdk.upload_file(media["audio"])}
    sandbox.arm("fal", "reset_after", on="submit")  # accepted, then the connection drops
    sdk.submit("fal-ai/sync-lipsync/v2", args)
    sdk_generations = sandbox.stats()["generations"]["fal"]
    sandbox.arm("fal", "http_429", on="submit")
    sdk.submit("fal-ai/sync-lipsync/v2", args)
    print(f"\nfal-client 1.0.3: lost answer -> {sdk_generations} paid jobs; 429 -> {len(_submits(sandbox, 'fal'))} "
          "submits so far")
    assert sdk_generations == 2  # the SDK re-sent the paid POST
    sandbox.reset()
    sandbox.configure(processing_seconds=0.05)
    sandbox.arm("fal", "reset_after", on="submit")
    end = _ours(sandbox, "fal", "lipsync-2", media, tmp_path)
    assert isinstance(end, Failed) and end.state is JobState.UNKNOWN
    assert sandbox.stats()["generations"]["fal"] == 1 and len(_submits(sandbox, "fal")) == 1


def test_syncsdk_sends_no_idempotency_key_and_does_not_retry_by_default(sandbox, media, tmp_path):
    from sync.core.api_error import ApiError

    sdk = SyncSdk(sandbox.base_url("sync"))
    try:
        sandbox.arm("sync", "http_503", on="submit")
        with open(media["video"], "rb") as v, open(media["audio"], "rb") as a, pytest.raises(ApiError):
            sdk.client.generations.create_with_files(model="lipsync-2", video=v, audio=a)
    finally:
        sdk.close()
    sdk_submits = _submits(sandbox, "sync")
    assert len(sdk_submits) == 1 and sdk_submits[0]["idempotency_key"] is None
    sandbox.reset()
    sandbox.configure(processing_seconds=0.05)
    sandbox.arm("sync", "http_503", on="submit")
    assert isinstance(_ours(sandbox, "sync", "lipsync-2", media, tmp_path), Completed)
    ours = _submits(sandbox, "sync")
    assert len(ours) == 2 and len({s["idempotency_key"] for s in ours}) == 1 and ours[0]["idempotency_key"]
    assert sandbox.stats()["generations"]["sync"] == 1


def test_syncsdk_brings_pydantic(capsys):
    needs = {r.split(";")[0].split(" ")[0].split(">")[0].split("(")[0].strip().lower()
             for r in importlib.metadata.requires("syncsdk")}
    assert {"pydantic", "pydantic-core", "httpx"} <= needs
    sizes = {name: _installed_bytes(name) for name in ("pydantic", "pydantic_core", "syncsdk")}
    print(f"\nsyncsdk 0.3.0 requires {sorted(needs)}; installed bytes {sizes}")
    assert sizes["pydantic_core"] > 1_000_000  # a compiled, per-platform wheel


def test_runware_sdk_is_async_only_and_fails_a_retried_accepted_submit(sandbox, media, tmp_path):
    import runware
    from runware import file_to_base64
    from runware.errors import RunwareError

    assert inspect.iscoroutinefunction(runware.Runware.run)
    assert inspect.iscoroutinefunction(runware.Runware.media_storage)
    assert not [n for n in dir(runware) if n.lower().startswith("sync") and callable(getattr(runware, n))]
    base = sandbox.base_url("runware")
    video, audio = [r[0]["mediaUUID"] for r in runware_call(
        base, *[lambda c, p=p: c.media_storage({"operation": "upload", "media": file_to_base64(p)})
                for p in (media["video"], media["audio"])])]
    sandbox.arm("runware", "reset_after", on="submit")
    with pytest.raises(RunwareError) as raised:
        runware_call(base, lambda c: c.run({"taskType": "videoInference", "model": "sync:3@0",
                                            "inputs": {"video": video, "audio": audio}}))
    print(f"\nrunware-sdk 1.8.0 after a lost submit answer: code {raised.value.code!r} ({raised.value}), "
          f"{sandbox.stats()['generations']['runware']} task accepted")
    # its REST retry re-sent the task, the server answered conflictTaskUUID, and the SDK (which maps
    # every conflict* to "validation", runware/errors.py derive_code) failed a job that is running
    assert raised.value.code == "validation" and "already exists" in str(raised.value)
    assert sandbox.stats()["generations"]["runware"] == 1
    sandbox.reset()
    sandbox.configure(processing_seconds=0.05)
    sandbox.arm("runware", "reset_after", on="submit")
    assert isinstance(_ours(sandbox, "runware", "sync-3", media, tmp_path), Completed)
    assert sandbox.stats()["generations"]["runware"] == 1


def test_wavespeed_sdk_never_resends_a_submit_and_brings_requests(sandbox, media, tmp_path):
    sdk = wavespeed_client(sandbox.base_url("wavespeed"))
    body = {"video": sdk.upload(media["video"]), "audio": sdk.upload(media["audio"])}
    sandbox.arm("wavespeed", "reset_after", on="submit")
    with pytest.raises(RuntimeError, match="will not retry"):
        sdk.run("sync/lipsync-2", body, poll_interval=0.02, timeout=10)
    assert len(_submits(sandbox, "wavespeed")) == 1 and sandbox.stats()["generations"]["wavespeed"] == 1
    assert any(r.startswith("requests") for r in importlib.metadata.requires("wavespeed"))


def _installed_bytes(dist: str) -> int:
    files = importlib.metadata.distribution(dist).files or []
    return sum(os.path.getsize(f.locate()) for f in files if pathlib.Path(f.locate()).is_file())
