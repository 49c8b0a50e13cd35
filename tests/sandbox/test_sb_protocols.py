"""Protocol fidelity per provider: auth, validation error shapes, status lifecycles, quirks."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from tests.sandbox.test_sb_faults import PROVIDERS, error_shape_ok

# -- auth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["wrong-key", ""])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_or_missing_key_gets_provider_401(sandbox, driver, media, provider, key):
    good = driver(provider)
    v, a = good.upload(media["video"]), good.upload(media["short"])
    bad = driver(provider, key=key)
    r = bad.submit(v, a)
    assert r.status_code == 401
    assert error_shape_ok(provider, 401, r.json()), r.text
    assert sandbox.stats()["generations"][provider] == 0


def test_runware_authentication_task_and_ping(sandbox, http):
    url = sandbox.base_url("runware") + "/v1"
    r = http.post(url, json=[{"taskType": "authentication", "apiKey": "sandbox-key"},
                             {"taskType": "ping", "ping": True}])
    assert r.status_code == 200
    kinds = [d["taskType"] for d in r.json()["data"]]
    assert kinds == ["authentication", "ping"] and r.json()["data"][1]["pong"] is True
    r = http.post(url, json=[{"taskType": "authentication", "apiKey": "nope"}, {"taskType": "ping"}])
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "invalidApiKey"


def test_fal_cdn_upload_needs_storage_token(sandbox, http):
    r = http.post(sandbox.base_url("fal") + "/files/upload", content=b"x",
                  headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401


# -- validation -----------------------------------------------------------------------------------


def test_sync_validation_errors(sandbox, driver, media):
    d = driver("sync")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    cases = [
        (dict(options={"sync_mode": "zigzag"}), "sync_mode"),
        (dict(options={"temperature": "hot"}), "temperature"),
        (dict(options={"unknown_option": 1}), "unknown_option"),
        (dict(extra_field=True), "extra_field"),
        (dict(model="lipsync-9"), "model"),
        (dict(options={"active_speaker_detection": {"coordinates": [1, 2]}}), "frame_number"),
    ]
    for kwargs, word in cases:
        r = d.submit(v, a, **kwargs)
        assert r.status_code == 400, (kwargs, r.text)
        body = r.json()
        assert body["statusCode"] == 400 and body["error"] == "Bad Request"
        assert any(word in m for m in body["message"]), body
    # image inputs are sync-3 only
    r = d.c.post(f"{d.base}/v2/generate", headers=d.h, json={
        "model": "lipsync-2", "input": [{"type": "image", "assetId": v}, {"type": "audio", "assetId": a}]})
    assert r.status_code == 400
    # segments must reference an input refId
    r = d.submit(v, a, segments=[{"startTime": 0, "endTime": 1, "audioInput": {"refId": "zz"}}])
    assert r.status_code == 400
    # sync-3 ignores temperature rather than rejecting it (§1.4)
    assert d.submit(v, a, model="sync-3", options={"temperature": 0.7}).status_code == 201
    r = d.submit(v, a, headers={"Idempotency-Key": "bad key!"})
    assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_IDEMPOTENCY_KEY"
    assert sandbox.stats()["generations"]["sync"] == 1


def test_runware_validation_errors(sandbox, driver, media):
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    cases = [
        (dict(model="sync:3@0", sync_mode="loop"), "invalidSyncMode"),  # sync-3 has no loop (§2.3)
        (dict(model="sync:lipsync@3", sync_mode="cut_off"), "invalidModel"),  # not in the SDK registry (§2.2)
        (dict(outputType="base64Data"), "invalidOutputType"),  # the SDK's Literal['URL'] (§2.3)
        (dict(speech={"text": "hi"}), "unsupportedParameter"),  # no top-level speech (Sync3Params)
        (dict(sync={"temperature": 2}), "invalidTemperature"),
        (dict(numberResults=5), "invalidNumberResults"),
        (dict(bogus=1), "unsupportedParameter"),
        (dict(model="sync:nope@1"), "invalidModel"),
        (dict(task_uuid="not-a-uuid"), "invalidTaskUUID"),
        (dict(outputFormat="GIF"), "invalidOutputFormat"),
    ]
    for kwargs, code in cases:
        r = d.submit(v, a, **kwargs)
        assert r.status_code == 400, (kwargs, r.text)
        assert r.json()["errors"][0]["code"] == code, (kwargs, r.text)
    task = d.task(v, a, deliveryMethod="sync")
    r = d.c.post(f"{d.base}/v1", headers=d.h, json=[task])
    assert r.json()["errors"][0]["code"] == "invalidDeliveryMethod"
    # sync-3 TTS is inputs.speech, a list of {id, provider, voiceId, text}; the object form is refused
    speech = {"id": "s1", "provider": "elevenlabs", "voiceId": "v-1", "text": "hello"}
    task = d.task(v, a, model="sync:3@0")
    task["inputs"] = {"video": v, "speech": speech}
    assert d.c.post(f"{d.base}/v1", headers=d.h, json=[task]).json()["errors"][0]["code"] == "invalidSpeech"
    task["inputs"]["speech"], task["taskUUID"] = [speech], str(uuid.uuid4())
    assert d.c.post(f"{d.base}/v1", headers=d.h, json=[task]).status_code == 200
    # deliveryMethod defaults to async (docs); sync-3 takes `settings`, not providerSettings
    task = d.task(v, a, model="sync:3@0", sync_mode="cut_off")
    del task["deliveryMethod"]
    assert d.c.post(f"{d.base}/v1", headers=d.h, json=[task]).status_code == 200
    assert sandbox.stats()["generations"]["runware"] == 2


def test_wavespeed_validation_errors(sandbox, driver, media):
    d = driver("wavespeed")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    r = d.submit(v, a, model="lipsync-7")
    assert r.status_code == 404 and r.json()["code"] == 404
    for kwargs in (dict(sync_mode="zigzag"), dict(model="lipsync-1.9.0-beta", temperature=0.5), dict(foo=1)):
        r = d.submit(v, a, **kwargs)
        assert r.status_code == 400 and r.json()["code"] == 400, r.text
    r = d.c.post(f"{d.base}/api/v3/sync/lipsync-2", headers=d.h, json={"video": v})
    assert r.status_code == 400 and "audio" in r.json()["message"]
    assert d.submit(v, a, model="lipsync-2", temperature=0.3).status_code == 200


def test_foxapi_validation_errors(sandbox, driver, media):
    d = driver("foxapi")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    for kwargs, param in ((dict(model="sync-3", temperature=0.5), "temperature"),
                          (dict(model="sync-3", active_speaker=True), "active_speaker"),
                          (dict(model="lipsync-1.9.0-beta"), "model"), (dict(sync_mode="x"), "sync_mode"),
                          (dict(temperature=3), "temperature"), (dict(colour="red"), "colour")):
        r = d.submit(v, a, **kwargs)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == param and r.json()["error"]["code"] == 400


def test_fal_validation_errors(sandbox, driver, media):
    d = driver("fal")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    r = d.submit(v, a, sync_mode="zigzag")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "sync_mode"]
    assert d.submit(v, a, endpoint="fal-ai/sync-lipsync/v3", model="lipsync-2").status_code == 422
    assert d.submit(v, a, endpoint="fal-ai/sync-lipsync/v2", model="lipsync-2-pro").status_code == 200
    r = d.c.post(f"{d.base}/fal-ai/sync-lipsync/v2", headers=d.h, json={"video_url": v})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "missing"


# -- lifecycles -----------------------------------------------------------------------------------


def _states(d, job_id, timeout=5.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = d.poll(job_id)
        seen.append(r.json())
        if d.state(r)[0] != "running":
            break
        time.sleep(0.05)
    return seen


def _dedupe(values):
    out = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def test_sync_lifecycle_and_long_poll(sandbox, driver, media):
    sandbox.configure("sync", queue_seconds=0.5, processing_seconds=0.5)
    d = driver("sync")
    r = d.submit(d.upload(media["video"]), d.upload(media["short"]))
    assert r.status_code == 201 and r.json()["status"] == "PENDING"
    job_id = r.json()["id"]
    assert _dedupe(b["status"] for b in _states(d, job_id)) == ["PENDING", "PROCESSING", "COMPLETED"]
    r = d.c.get(f"{d.base}/v2/generate/{job_id}", params={"wait": "true", "timeout": 2}, headers=d.h)
    assert r.headers["Retry-After"] == "2" and r.headers["X-Sync-Wait-Mode"] == "long_poll"
    for bad in ("0", "11", "x"):
        r = d.c.get(f"{d.base}/v2/generate/{job_id}", params={"wait": "true", "timeout": bad}, headers=d.h)
        assert r.status_code == 400
    assert d.c.get(f"{d.base}/v2/generate/nope", headers=d.h).status_code == 404


def test_sync_long_poll_returns_at_completion(sandbox, driver, media):
    sandbox.configure("sync", processing_seconds=0.4)
    d = driver("sync")
    job_id = d.job_id(d.submit(d.upload(media["video"]), d.upload(media["short"])))
    t0 = time.monotonic()
    r = d.c.get(f"{d.base}/v2/generate/{job_id}", params={"wait": "true", "timeout": 5}, headers=d.h)
    assert r.json()["status"] == "COMPLETED" and time.monotonic() - t0 < 3


def test_runware_lifecycle_cost_and_number_results(sandbox, driver, media):
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    r = d.submit(v, a, numberResults=2)
    assert r.json() == {"data": [{"taskType": "videoInference", "taskUUID": d.job_id(r)}]}
    seen = _states(d, d.job_id(r))
    assert seen[0]["data"][0]["status"] == "processing"
    items = seen[-1]["data"]
    assert len(items) == 2 and all(i["status"] == "success" and i["videoURL"] and "cost" in i for i in items)
    assert len({i["videoURL"] for i in items}) == 2
    assert abs(items[0]["cost"] - 1.2 * 0.044) < 1e-6  # §2.2 $0.044 per second of audio
    state, body = d.wait(d.job_id(d.submit(v, a, includeCost=False)))
    assert "cost" not in body["data"][0]  # cost only with includeCost (§2.4)
    r = d.poll(str(uuid.uuid4()))
    assert r.json()["errors"][0]["code"] == "taskFailedOrNotFound"


def test_runware_error_item_shape(sandbox, driver, media):
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    sandbox.arm("runware", "job_failed", shape="item")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert body["data"][0]["status"] == "error" and body["data"][0]["error"]["code"] == "providerError"
    sandbox.arm("runware", "job_failed")
    state, body = d.wait(d.job_id(d.submit(v, a)))
    assert body["errors"][0]["code"] == "providerError" and "data" not in body


def test_wavespeed_lifecycle_and_envelope(sandbox, driver, media):
    sandbox.configure("wavespeed", queue_seconds=0.5, processing_seconds=0.5)
    d = driver("wavespeed")
    r = d.submit(d.upload(media["video"]), d.upload(media["short"]))
    body = r.json()
    assert body["code"] == 200 and body["message"] == "success" and body["data"]["status"] == "created"
    assert body["data"]["urls"]["get"].endswith(f"/api/v3/predictions/{body['data']['id']}/result")
    seen = _states(d, body["data"]["id"])
    assert _dedupe(b["data"]["status"] for b in seen) == ["created", "processing", "completed"]
    assert seen[-1]["data"]["has_nsfw_contents"] == [False]


def test_foxapi_lifecycle_progress_and_ids(sandbox, driver, media):
    sandbox.configure("foxapi", queue_seconds=0.5, processing_seconds=0.6)
    d = driver("foxapi")
    r = d.submit(d.upload(media["video"]), d.upload(media["short"]))
    body = r.json()
    assert re.fullmatch(r"task-unified-\d{10}-[a-z0-9]{8}", body["id"])
    assert body["status"] == "pending" and body["object"] == "video.generation.task" and body["progress"] == 0
    seen = _states(d, body["id"])
    assert _dedupe(b["status"] for b in seen) == ["pending", "processing", "completed"]
    progress = [b["progress"] for b in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(0 <= b["progress"] <= 10 for b in seen if b["status"] == "pending")
    assert all(10 <= b["progress"] <= 80 for b in seen if b["status"] == "processing")
    assert isinstance(seen[-1]["results"][0], str)
    sandbox.configure("foxapi", results_as_objects=True)
    assert isinstance(d.poll(body["id"]).json()["results"][0]["url"], str)
    assert d.poll("task-unified-0-nothere").status_code == 404


def test_fal_lifecycle_urls_drop_model_subpath(sandbox, driver, media):
    sandbox.configure("fal", queue_seconds=0.5, processing_seconds=0.5)
    d = driver("fal")
    r = d.submit(d.upload(media["video"]), d.upload(media["short"]), endpoint="fal-ai/sync-lipsync/v2/pro")
    body = r.json()
    rid = body["request_id"]
    base = f"{d.base}/fal-ai/sync-lipsync/requests/{rid}"
    assert (body["status_url"], body["response_url"], body["cancel_url"]) == (base + "/status", base, base + "/cancel")
    assert d.c.get(base, headers=d.h).status_code == 400  # result before completion
    raw = []
    while True:
        s = d.c.get(body["status_url"], headers=d.h).json()
        raw.append(s["status"])
        if s["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert _dedupe(raw) == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    out = d.c.get(base, headers=d.h).json()["video"]
    assert out["content_type"] == "video/mp4" and out["file_size"] > 0
    (job,) = sandbox.stats()["jobs"]
    assert job["model"] == "lipsync-2-pro"


def test_fal_cancel_while_queued(sandbox, driver, media):
    sandbox.configure("fal", queue_seconds=5)
    d = driver("fal")
    body = d.submit(d.upload(media["video"]), d.upload(media["short"])).json()
    r = d.c.put(body["cancel_url"], headers=d.h)
    assert r.status_code == 202 and r.json()["status"] == "CANCELLATION_REQUESTED"
    assert d.c.get(body["status_url"], headers=d.h).json()["status"] == "COMPLETED"
    assert d.c.get(body["response_url"], headers=d.h).status_code == 400


# -- inputs and outputs ---------------------------------------------------------------------------


def test_sync_multipart_generate(sandbox, driver, media, http):
    d = driver("sync")
    files = {"video": ("face.mp4", open(media["video"], "rb").read(), "video/mp4"),
             "audio": ("line.wav", open(media["short"], "rb").read(), "audio/wav")}
    r = http.post(f"{d.base}/v2/generate", headers=d.h, files=files,
                  data={"model": "lipsync-2", "options": '{"sync_mode": "cut_off"}'})
    assert r.status_code == 201, r.text
    state, body = d.wait(r.json()["id"])
    assert state == "completed" and abs(body["outputDuration"] - 1.2) < 0.04
    stats = sandbox.stats()
    assert stats["uploads"]["sync"] == 2
    assert stats["uploaded_bytes"]["sync"] == len(files["video"][1]) + len(files["audio"][1])


def test_sync_presigned_put_checks_signature(sandbox, driver, http):
    d = driver("sync")
    up = http.post(f"{d.base}/v2/assets/upload", headers=d.h,
                   json={"fileName": "a.wav", "contentType": "audio/wav", "size": 4}).json()
    assert http.put(up["url"], content=b"abcd").status_code == 403  # no signature
    assert http.put(up["uploadUrl"], content=b"abcd", headers={"Content-Type": "video/mp4"}).status_code == 403
    assert http.put(up["uploadUrl"], content=b"abcd", headers={"Content-Type": "audio/wav"}).status_code == 200
    assert http.get(up["url"]).content == b"abcd"


def test_inaccessible_input_fails_with_provider_code(sandbox, driver, media):
    codes = {"sync": "generation_input_video_inaccessible", "wavespeed": 1402, "foxapi": "resource_not_found",
             "runware": "invalidInputsVideo", "fal": "file_download_error"}
    for provider, code in codes.items():
        d = driver(provider)
        a = d.upload(media["short"])
        v = "https://example.invalid/gone.mp4" if provider != "sync" else None
        if provider == "sync":
            r = d.c.post(f"{d.base}/v2/generate", headers=d.h, json={
                "model": "lipsync-2", "input": [{"type": "video", "url": "https://example.invalid/gone.mp4"},
                                                {"type": "audio", "assetId": a}]})
        else:
            r = d.submit(v, a)
        state, body = d.wait(d.job_id(r))
        assert state == "failed" and d.error_code(body) == code, (provider, body)


def test_wavespeed_ticket_upload_and_fal_data_uri(sandbox, driver, media, http):
    d = driver("wavespeed")
    data = open(media["short"], "rb").read()
    r = http.post(f"{d.base}/api/v3/media/uploads", headers=d.h,
                  json={"filename": "a.wav", "size": len(data), "content_type": "audio/wav"}).json()["data"]
    assert http.put(r["upload"]["url"], content=data, headers=r["upload"]["headers"]).status_code == 200
    assert http.get(r["download_url"]).content == data
    import base64

    f = driver("fal")
    uri = "data:audio/wav;base64," + base64.b64encode(data).decode()
    state, body = f.wait(f.job_id(f.submit(f.upload(media["video"]), uri, sync_mode="cut_off")))
    assert state == "completed"


def test_request_log_records_everything(sandbox, driver, media, http):
    d = driver("foxapi")
    d.upload(media["short"])
    log = http.get(f"{sandbox.url}/_sandbox/requests").json()
    assert log[-1]["provider"] == "foxapi" and log[-1]["op"] == "upload" and log[-1]["status"] == 200
    assert sandbox.stats()["requests"] == len(log)


def test_wavespeed_enable_sync_mode(sandbox, driver, media):
    d = driver("wavespeed")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    body = d.submit(v, a, enable_sync_mode=True).json()["data"]
    assert body["status"] == "completed" and body["outputs"]
    sandbox.configure("wavespeed", processing_seconds=5, wavespeed_sync_timeout=0.2)
    body = d.submit(v, a, enable_sync_mode=True).json()["data"]
    assert body["status"] == "processing" and body["code"] == 5004


def test_runware_empty_ack_switch(sandbox, driver, media):
    sandbox.configure("runware", runware_empty_ack=True)
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    task = d.task(v, a)
    r = d.c.post(f"{d.base}/v1", headers=d.h, json=[task])
    assert r.json() == {"data": []}
    assert d.wait(task["taskUUID"])[0] == "completed"


# -- answers in the official SDKs' shapes (docs/providers.md §8) ----------------------------------


def test_sync_assets_models_and_multipart_assets_have_the_sdk_fields(sandbox, driver, media, http):
    d = driver("sync")
    for _ in range(3):
        d.upload(media["short"])
    files = {"video": ("face.mp4", open(media["video"], "rb").read(), "video/mp4")}
    assert http.post(f"{d.base}/v2/generate", headers=d.h, files=files,
                     data={"model": "lipsync-2", "input": json.dumps([{"type": "audio", "url": "https://x.invalid/a.wav"}])}
                     ).status_code == 201
    page = http.get(f"{d.base}/v2/assets", headers=d.h, params={"limit": 3}).json()
    assert set(page) == {"items", "nextCursor", "totalCount"} and page["totalCount"] == 4
    assert len(page["items"]) == 3 and page["nextCursor"]
    rest = http.get(f"{d.base}/v2/assets", headers=d.h, params={"limit": 3, "cursor": page["nextCursor"]}).json()
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    for asset in page["items"] + rest["items"]:
        assert {"id", "createdAt", "updatedAt", "type", "visibility"} <= set(asset), asset
    assert http.get(f"{d.base}/v2/assets", headers=d.h, params={"types": "VIDEO"}).json()["totalCount"] == 1
    models = http.get(f"{d.base}/v2/models", headers=d.h).json()
    assert all({"id", "name", "type", "version"} <= set(m) and m["type"] == "lipsync" for m in models)


def test_fal_status_logs_in_the_sdk_spelling(sandbox, driver, media):
    sandbox.configure("fal", processing_seconds=5)
    d = driver("fal")
    body = d.submit(d.upload(media["video"]), d.upload(media["short"])).json()
    assert isinstance(d.c.get(body["status_url"], params={"logs": "true"}, headers=d.h).json()["logs"], list)
    assert d.c.get(body["status_url"], params={"logs": "false"}, headers=d.h).json()["logs"] is None


def test_runware_upload_answers_and_image_upload(sandbox, driver, media, http):
    import base64

    d = driver("runware")
    bare = base64.b64encode(open(media["short"], "rb").read()).decode()
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "upload", "media": bare}
    item = http.post(f"{d.base}/v1", headers=d.h, json=[task]).json()["data"][0]
    assert item["operation"] == "upload" and item["mediaURL"].endswith(".wav")
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
    r = http.post(f"{d.base}/v1", headers=d.h, json=[{"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()),
                                                        "image": png}])
    assert r.status_code == 200 and r.json()["data"][0]["imageUUID"]
    r = http.post(f"{d.base}/v1", headers=d.h, json=[{"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()),
                                                        "image": bare}])
    assert r.json()["errors"][0]["code"] == "invalidImage"  # images only; audio goes to mediaStorage
    task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "delete",
            "media": item["mediaUUID"]}
    assert http.post(f"{d.base}/v1", headers=d.h, json=[task]).json()["data"][0]["operation"] == "delete"
    assert http.get(item["mediaURL"]).status_code == 404


def test_wavespeed_deleted_prediction_reads_deleted(sandbox, driver, media):
    sandbox.configure("wavespeed", processing_seconds=5)
    d = driver("wavespeed")
    pred = d.job_id(d.submit(d.upload(media["video"]), d.upload(media["short"])))
    r = d.c.post(f"{d.base}/api/v3/predictions/delete", headers=d.h, json={"ids": [pred, "nope"]})
    assert r.json() == {"code": 200, "message": "success", "data": {"deleted_count": 1}}
    data = d.poll(pred).json()["data"]
    assert data["status"] == "deleted" and data["outputs"] == []
