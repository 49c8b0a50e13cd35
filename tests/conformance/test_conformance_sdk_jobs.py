"""Kind 1: each official SDK drives a whole lip-sync job against the sandbox and parses every answer.

Upload, submit, poll and result, plus the SDK's calls for assets, models, cancel and estimates
where the SDK has them. Answers are checked with the SDK's own types: syncsdk's validating parser,
runware-sdk's TypedDicts, fal-client's status classes. FoxAPI has no official SDK (docs/providers.md §4).
"""

from __future__ import annotations

import typing

import httpx

from sandbox.media import probe
from tests.conformance.sdks import (
    SyncSdk, check_typed, fal_sdk, runware_call, sync_parse, sync_wait, wavespeed_client,
)


def _is_video(sandbox, url: str, tmp_path) -> bool:
    path = tmp_path / "out.mp4"
    path.write_bytes(httpx.get(url, timeout=20).content)
    return probe(str(path))["video_seconds"] > 0


def test_syncsdk_full_job_and_every_answer_parses(sandbox, media, tmp_path):
    from sync.common import Audio, GenerationOptions, Video
    from sync.common.types import (
        Asset, EstimatedGenerationCost, Generation, ModelInfo, PaginatedAssetsResponse,
    )

    sdk = SyncSdk(sandbox.base_url("sync"))
    try:
        # no `options` here: syncsdk 0.3.0 puts them in the form as a dict, which httpx 0.28 refuses
        # (TypeError) — docs/providers.md §8
        with open(media["video"], "rb") as v, open(media["audio"], "rb") as a:
            created = sdk.client.generations.create_with_files(model="lipsync-2", video=v, audio=a)
        sync_parse(Generation, sdk.last())
        done = sync_wait(sdk, created.id)
        sync_parse(Generation, sdk.last())
        assert done.status == "COMPLETED" and _is_video(sandbox, done.output_url, tmp_path)
        # a JSON create from the assets the multipart create registered, and its estimate
        assets = sdk.client.assets.list()
        page = sync_parse(PaginatedAssetsResponse, sdk.last())
        assert {a.type for a in page.items} == {"VIDEO", "AUDIO"} and page.total_count == 2
        urls = {a.type: a.url for a in assets.items}
        inputs = [Video(url=urls["VIDEO"]), Audio(url=urls["AUDIO"])]
        estimate = sdk.client.generations.estimate_cost(model="lipsync-2", input=inputs)
        sync_parse(typing.List[EstimatedGenerationCost], sdk.last())
        assert estimate[0].estimated_generation_cost > 0
        second = sdk.client.generations.create(model="lipsync-2", input=inputs,
                                               options=GenerationOptions(sync_mode="cut_off"))
        assert sync_wait(sdk, second.id).status == "COMPLETED"
        sdk.client.generations.list()
        assert len(sync_parse(typing.List[Generation], sdk.last())) == 2
        sync_parse(Asset, sdk.client.assets.get(assets.items[0].id) and sdk.last())
        models = sdk.client.models.list()
        sync_parse(typing.List[ModelInfo], sdk.last())
        assert {m.name for m in models} >= {"lipsync-2", "sync-3"}
    finally:
        sdk.close()
    assert sandbox.stats()["generations"]["sync"] == 2


def test_fal_client_full_job_status_logs_and_cancel(sandbox, media, tmp_path, monkeypatch):
    import fal_client

    client = fal_sdk(monkeypatch, sandbox.base_url("fal"))
    video, audio = client.upload_file(media["video"]), client.upload_file(media["audio"])
    sandbox.configure("fal", processing_seconds=0.3)
    handle = client.submit("fal-ai/sync-lipsync/v2", {"video_url": video, "audio_url": audio, "sync_mode": "cut_off"})
    seen = list(handle.iter_events(with_logs=True, interval=0.05))
    assert isinstance(seen[-1], fal_client.Completed) and seen[-1].error is None
    assert any(isinstance(s, fal_client.InProgress) and s.logs for s in seen)  # logs=true is honoured
    result = handle.get()
    assert result["video"]["content_type"] == "video/mp4" and _is_video(sandbox, result["video"]["url"], tmp_path)
    assert isinstance(client.status("fal-ai/sync-lipsync/v2", handle.request_id), fal_client.Completed)
    assert client.result("fal-ai/sync-lipsync/v2", handle.request_id) == result
    # cancel while queued
    sandbox.configure("fal", queue_seconds=30)
    queued = client.submit("fal-ai/sync-lipsync/v3", {"video_url": video, "audio_url": audio})
    assert isinstance(queued.status(), fal_client.Queued)
    queued.cancel()
    final = queued.status(with_logs=True)
    assert isinstance(final, fal_client.Completed) and final.error_type == "request_cancelled"


def test_wavespeed_sdk_full_job(sandbox, media, tmp_path):
    client = wavespeed_client(sandbox.base_url("wavespeed"))
    video, audio = client.upload(media["video"]), client.upload(media["audio"])
    out = client.run("sync/lipsync-2", {"video": video, "audio": audio, "sync_mode": "cut_off"}, poll_interval=0.05,
                     timeout=30)
    assert len(out["outputs"]) == 1 and _is_video(sandbox, out["outputs"][0], tmp_path)
    (job,) = sandbox.stats()["jobs"]
    pred = client.get_result(job["id"])
    assert pred["code"] == 200 and pred["data"]["status"] == "completed"
    no_throw = client.run_no_throw("sync/lipsync-3", {"video": video, "audio": audio}, poll_interval=0.05, timeout=30)
    assert no_throw["status"] == "completed" and no_throw["error"] is None


def test_runware_sdk_full_job_and_every_answer_fits_its_types(sandbox, media, tmp_path):
    from runware import file_to_base64
    from runware.types import task_map as tm

    progress = []

    def job(model, inputs, settings_key, settings):
        from runware import RunOptions

        return lambda c: c.run({"taskType": "videoInference", "model": model, "inputs": inputs,
                                settings_key: settings, "includeCost": True, "outputType": "URL"},
                               RunOptions(on_progress=progress.append))

    uploads = runware_call(sandbox.base_url("runware"),
                           lambda c: c.media_storage({"operation": "upload", "media": file_to_base64(media["video"])}),
                           lambda c: c.media_storage({"operation": "upload", "media": file_to_base64(media["audio"])}))
    for (item,) in uploads:
        check_typed(item, tm.MediaStorageResultUpload)
    video, audio = uploads[0][0]["mediaUUID"], uploads[1][0]["mediaUUID"]
    inputs = {"video": video, "audio": audio}
    results = runware_call(sandbox.base_url("runware"),
                           job("sync:3@0", inputs, "settings", {"syncMode": "cut_off"}),
                           job("sync:lipsync-2@1", inputs, "providerSettings", {"sync": {"syncMode": "bounce"}}))
    for (item,), result_type in zip(results, (tm.Sync3Result, tm.SyncLipsync2Result)):
        check_typed(item, result_type, tm.GetResponseResult)
        assert item["cost"] > 0 and _is_video(sandbox, item["videoURL"], tmp_path)
    (polled,) = runware_call(sandbox.base_url("runware"),
                             lambda c: c.get_response({"taskUUID": results[0][0]["taskUUID"]}))
    check_typed(polled[0], tm.Sync3Result, tm.GetResponseResult)
    png = file_to_base64(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (image,) = runware_call(sandbox.base_url("runware"), lambda c: c.image_upload({"image": png}))
    check_typed(image[0], tm.ImageUploadResult)
