"""Kind 3: the same job done by our client and by the official SDK, recorded and compared.

Both talk to the sandbox through the recording proxy (recorder.py, one listener per host role).
Each recorded request becomes a step: host role, method, path (ids replaced), query, auth header
form, content type, the watched headers, and the body's shape (field names, nesting, casing, value
kinds, and the values of identity fields such as model ids). Every difference between the two is
either a bug or listed in DELIBERATE with its reason; an unlisted difference, or a listed one that
went away, fails (docs/providers.md §8 has the table).
"""

from __future__ import annotations

import json
import re
import time

import pytest

import client.config
from client.config import ProviderConfig
from client.events import Completed
from client.jobs import iter_job_events, remote_estimate
from client.models import AudioInput, JobRequest, Options, new_client_key
from client.uploads import UploadCache
from tests.conformance.recorder import Recorder
from tests.conformance.sdks import KEY, SyncSdk, fal_sdk, runware_call, sync_wait, wavespeed_client

DELIBERATE = {
    "sync": {
        ("POST /v2/generate", "headers"):
            "Idempotency-Key on every submit: the docs define it (§1.11) and it lets a lost answer be retried "
            "without paying twice; syncsdk 0.3.0 sends none",
        ("GET /v2/generate/{id}", "query"):
            "wait=true&timeout=N: the docs' long-poll (§1.8) answers the moment the job ends; syncsdk's "
            "generations.get has no wait parameter",
        ("only-client", "POST /v2/assets/upload"):
            "the docs' asset flow (§1.14): presign, PUT, register; syncsdk 0.3.0 has no upload call",
        ("only-client", "PUT /_files/{id}/{name}"): "the presigned PUT of the asset flow (§1.14), without our key",
        ("only-client", "POST /v2/assets"): "asset registration of the asset flow (§1.14)",
        ("only-client", "GET /v2/assets/uploaded"):
            "server-side dedup by content hash before uploading (§1.14); not in syncsdk 0.3.0",
        ("only-sdk", "POST /v2/generate multipart"):
            "syncsdk's only way to send local files: the media travel inside the paid request, so a retry "
            "re-sends them; we upload first and submit URLs",
    },
    "runware": {},
    "wavespeed": {},
    "fal": {},
}

VALUE_KEYS = {"model", "taskType", "operation", "deliveryMethod", "outputType", "type", "sync_mode", "syncMode",
              "storage_type", "logs", "method"}
ID = re.compile(r"^(task-unified-\d+-\w+|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,})$")


def _template(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "_files":
        return "/_files/{id}/{name}"
    return "/".join("{id}" if ID.match(p) else p for p in parts)


def _shape(value, key=None):
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0], key)] if value else []
    if isinstance(value, str):
        if key in VALUE_KEYS:
            return "=" + value
        return "data-uri" if value.startswith("data:") else "url" if value.startswith("http") else "str"
    return type(value).__name__


def _step(ex) -> tuple[str, dict]:
    # a Content-Type on a bodyless GET (the WaveSpeed SDK sends one) says nothing
    ctype = (ex.headers.get("content-type") or "").split(";")[0] if ex.body else ""
    body = ex.json() if ctype == "application/json" else None
    op = f"{ex.method} {_template(ex.path)}"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        op += f" [{body[0].get('taskType')}]"
    if ctype == "multipart/form-data":
        op += " multipart"
        body_shape = "multipart"
    else:
        body_shape = _shape(body) if body is not None else ("bytes" if ex.body else None)
    auth = "x-api-key" if "x-api-key" in ex.headers else (ex.headers.get("authorization", "none").split(" ")[0])
    query = {k: ("{id}" if ID.match(v[0]) else v[0]) for k, v in sorted(ex.query.items())}
    watched = sorted(h for h in ("idempotency-key", "x-fal-file-name") if h in ex.headers)
    return op, {"role": ex.role, "query": query, "auth": auth, "content_type": ctype, "headers": watched,
                "body": body_shape}


def _steps(exchanges) -> dict[str, dict]:
    steps: dict[str, dict] = {}
    for ex in exchanges:
        if ex.method == "GET" and ex.path.startswith("/_files/"):
            continue  # downloading the output is plain HTTP, not the provider's API
        op, step = _step(ex)
        steps.setdefault(op, step)
    return steps


def _differences(ours: dict, theirs: dict) -> dict[tuple[str, str], tuple]:
    diff = {}
    for op in sorted(set(ours) | set(theirs)):
        if op not in theirs:
            diff[("only-client", op)] = (ours[op], None)
        elif op not in ours:
            diff[("only-sdk", op)] = (None, theirs[op])
        else:
            for attr in ours[op]:
                if ours[op][attr] != theirs[op][attr]:
                    diff[(op, attr)] = (ours[op][attr], theirs[op][attr])
    return diff


def _client_job(sandbox, rec, provider, model, tmp_path, media, config=None):
    req = JobRequest(provider=provider, model=model, video=media["video"],
                     audio=[AudioInput(id="a1", path=media["audio"])], options=Options(sync_mode="cut_off"),
                     client_key=new_client_key())
    cfg = config or ProviderConfig(provider, KEY, rec.base("api"))
    events = list(iter_job_events(req, cfg, tmp_path / "client", sleep=lambda s: time.sleep(min(s, 0.02)),
                                  poll_interval=0.02, upload_cache=UploadCache()))
    assert isinstance(events[-1], Completed), events[-1]
    return req, cfg


@pytest.fixture
def recorder(sandbox):
    made = []

    def make(provider, roles=("api",)):
        made.append(Recorder(sandbox, provider, roles))
        return made[-1]

    yield make
    for rec in made:
        rec.close()


def _check(provider, ours, theirs):
    diff = _differences(_steps(ours), _steps(theirs))
    unexplained = {k: v for k, v in diff.items() if k not in DELIBERATE[provider]}
    gone = set(DELIBERATE[provider]) - set(diff)
    assert not unexplained, "client and SDK differ:\n" + json.dumps(
        {" | ".join(k): {"client": v[0], "sdk": v[1]} for k, v in unexplained.items()}, indent=1, default=str)
    assert not gone, f"listed as deliberate but no longer different: {sorted(gone)}"


def test_sync_client_and_syncsdk_send_the_same_requests(sandbox, recorder, media, tmp_path):
    from sync.common import Audio, GenerationOptions, Video

    rec = recorder("sync")
    req, cfg = _client_job(sandbox, rec, "sync", "lipsync-2", tmp_path, media)
    assert remote_estimate(req, cfg, upload_cache=UploadCache()) > 0
    ours = list(rec.exchanges)
    urls = [ex.json()["url"] for ex in ours if ex.path == "/v2/assets" and ex.method == "POST"]
    rec.clear()
    sdk = SyncSdk(rec.base("api"))
    try:
        with open(media["video"], "rb") as v, open(media["audio"], "rb") as a:
            sdk.client.generations.create_with_files(model="lipsync-2", video=v, audio=a)
        inputs = [Video(url=urls[0]), Audio(url=urls[1])]
        options = GenerationOptions(sync_mode="cut_off")
        gen = sdk.client.generations.create(model="lipsync-2", input=inputs, options=options)
        assert sync_wait(sdk, gen.id).status == "COMPLETED"
        sdk.client.generations.estimate_cost(model="lipsync-2", input=inputs, options=options)
    finally:
        sdk.close()
    _check("sync", ours, rec.exchanges)


def test_runware_client_and_runware_sdk_send_the_same_requests(sandbox, recorder, media, tmp_path):
    from runware import file_to_base64
    from runware.types import task_map as tm

    rec = recorder("runware")
    _client_job(sandbox, rec, "runware", "sync-3", tmp_path, media)
    ours = list(rec.exchanges)
    rec.clear()
    air = next(a for a, entry in tm.models.items() if entry.id == "sync-3")  # the SDK registry's id
    video, audio = [r[0]["mediaUUID"] for r in runware_call(
        rec.base("api"), *[lambda c, p=p: c.media_storage({"operation": "upload", "media": file_to_base64(p)})
                           for p in (media["video"], media["audio"])])]
    runware_call(rec.base("api"), lambda c: c.run({
        "taskType": "videoInference", "model": air, "inputs": {"video": video, "audio": audio},
        "settings": {"syncMode": "cut_off"}, "includeCost": False, "outputType": "URL", "numberResults": 1}))
    _check("runware", ours, rec.exchanges)


def test_wavespeed_client_and_wavespeed_sdk_send_the_same_requests(sandbox, recorder, media, tmp_path):
    rec = recorder("wavespeed")
    _client_job(sandbox, rec, "wavespeed", "lipsync-2", tmp_path, media)
    ours = list(rec.exchanges)
    rec.clear()
    sdk = wavespeed_client(rec.base("api"))
    video, audio = sdk.upload(media["video"]), sdk.upload(media["audio"])
    out = sdk.run("sync/lipsync-2", {"video": video, "audio": audio, "sync_mode": "cut_off"}, poll_interval=0.02,
                  timeout=30)
    assert out["outputs"]
    _check("wavespeed", ours, rec.exchanges)


def test_fal_client_and_fal_sdk_send_the_same_requests(sandbox, recorder, media, tmp_path, monkeypatch):
    from client.providers.base import RemoteRef
    from client.providers.fal import FalProvider
    from client.transport import Http

    rec = recorder("fal", roles=("api", "storage", "cdn"))
    hosts = {role: rec.base(role) for role in ("api", "storage", "cdn")}
    monkeypatch.setitem(client.config.HOSTS, "fal", hosts)
    cfg = ProviderConfig("fal", KEY)  # no base-URL override: each role goes to its own host
    req, _ = _client_job(sandbox, rec, "fal", "lipsync-2", tmp_path, media, config=cfg)
    sandbox.configure("fal", queue_seconds=30)
    with Http("fal") as http:
        provider = FalProvider(cfg, http)
        ref = provider.submit(req, {"video": "https://x.invalid/v.mp4", "a1": "https://x.invalid/a.wav"})
        assert provider.cancel(RemoteRef(ref.remote_id, ref.extra))
    ours = list(rec.exchanges)
    rec.clear()
    sandbox.configure("fal", queue_seconds=0.0)
    sdk = fal_sdk(monkeypatch, hosts["api"], hosts["storage"], hosts["cdn"])
    video, audio = sdk.upload_file(media["video"]), sdk.upload_file(media["audio"])
    arguments = {"video_url": video, "audio_url": audio, "sync_mode": "cut_off", "model": "lipsync-2"}
    assert sdk.submit("fal-ai/sync-lipsync/v2", arguments).get(interval=0.02)["video"]["url"]
    sandbox.configure("fal", queue_seconds=30)
    sdk.submit("fal-ai/sync-lipsync/v2", arguments).cancel()
    _check("fal", ours, rec.exchanges)
