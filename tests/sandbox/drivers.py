"""Plain-httpx scripts for each provider's protocol (deliberately NOT our client).

Each driver uploads through the provider's own facility, submits, polls to a terminal state and
finds the output URL, exactly as docs/providers.md describes the wire protocol.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import time
import uuid

import httpx

KEY = "sandbox-key"


def ctype_of(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class Driver:
    name = ""
    terminal_ok = "completed"

    def __init__(self, client: httpx.Client, base: str, key: str = KEY):
        self.c, self.base, self.key = client, base, key

    def wait(self, job_id: str, timeout: float = 15.0) -> tuple[str, dict]:
        """Poll until terminal -> ("completed" | "failed" | "rejected", last body)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.poll(job_id)
            state, body = self.state(r)
            if state != "running":
                return state, body
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: job {job_id} did not finish")

    def run(self, video: str, audio: str, **kw) -> tuple[str, dict]:
        r = self.submit(self.upload(video), self.upload(audio), **kw)
        assert r.status_code in (200, 201), r.text
        return self.wait(self.job_id(r))


class SyncDriver(Driver):
    name = "sync"

    @property
    def h(self):
        return {"x-api-key": self.key} if self.key else {}

    def upload(self, path: str) -> str:
        data = open(path, "rb").read()
        r = self.c.post(f"{self.base}/v2/assets/upload", headers=self.h,
                        json={"fileName": os.path.basename(path), "contentType": ctype_of(path), "size": len(data)})
        assert r.status_code == 201, r.text
        up = r.json()
        assert self.c.put(up["uploadUrl"], content=data, headers={"Content-Type": ctype_of(path)}).status_code == 200
        r = self.c.post(f"{self.base}/v2/assets", headers=self.h, json={"url": up["url"]})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def body(self, video, audio, sync_mode=None, model="lipsync-2", options=None, **extra):
        opts = dict(options or {})
        if sync_mode:
            opts["sync_mode"] = sync_mode
        return {"model": model, "input": [{"type": "video", "assetId": video},
                                          {"type": "audio", "assetId": audio, "refId": "a"}],
                "options": opts, **extra}

    def submit(self, video, audio, headers=None, **kw):
        return self.c.post(f"{self.base}/v2/generate", headers={**self.h, **(headers or {})},
                           json=self.body(video, audio, **kw))

    def job_id(self, r):
        return r.json()["id"]

    def poll(self, job_id):
        return self.c.get(f"{self.base}/v2/generate/{job_id}", headers=self.h)

    def state(self, r):
        body = r.json()
        return {"COMPLETED": "completed", "FAILED": "failed", "REJECTED": "rejected"}.get(body["status"],
                                                                                        "running"), body

    def output_url(self, body):
        assert body["outputUrl"] == body["outputMediaUrl"]
        return body["outputUrl"]

    def error_code(self, body):
        assert body["error_code"] == body["errorCode"]
        return body["error_code"]


class RunwareDriver(Driver):
    name = "runware"

    @property
    def h(self):
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def upload(self, path: str) -> str:
        media = f"data:{ctype_of(path)};base64," + base64.b64encode(open(path, "rb").read()).decode()
        r = self.c.post(f"{self.base}/v1", headers=self.h, json=[{"taskType": "mediaStorage", "taskUUID":
                                                                  str(uuid.uuid4()), "operation": "upload",
                                                                  "media": media}])
        assert r.status_code == 200, r.text
        return r.json()["data"][0]["mediaUUID"]

    def task(self, video, audio, sync_mode=None, model="sync:lipsync-2@1", task_uuid=None, sync=None, **extra):
        settings = dict(sync or {})
        if sync_mode:
            settings["syncMode"] = sync_mode
        task = {"taskType": "videoInference", "taskUUID": task_uuid or str(uuid.uuid4()), "model": model,
                "deliveryMethod": "async", "includeCost": True, "inputs": {"video": video, "audio": audio}, **extra}
        if model == "sync:3@0":
            task["settings"] = settings
        else:
            task["providerSettings"] = {"sync": settings}
        return task

    def submit(self, video, audio, **kw):
        return self.c.post(f"{self.base}/v1", headers=self.h, json=[self.task(video, audio, **kw)])

    def job_id(self, r):
        return r.json()["data"][0]["taskUUID"]

    def poll(self, job_id):
        return self.c.post(f"{self.base}/v1", headers=self.h, json=[{"taskType": "getResponse", "taskUUID": job_id}])

    def state(self, r):
        body = r.json()
        if body.get("errors"):
            return "failed", body
        item = body["data"][0]
        if item["status"] == "error":
            return "failed", body
        return ("completed" if item["status"] == "success" else "running"), body

    def output_url(self, body):
        return body["data"][0].get("videoURL")

    def error_code(self, body):
        if body.get("errors"):
            return body["errors"][0]["code"]
        return body["data"][0]["error"]["code"]


class WaveSpeedDriver(Driver):
    name = "wavespeed"

    @property
    def h(self):
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def upload(self, path: str) -> str:
        files = {"file": (os.path.basename(path), open(path, "rb").read(), ctype_of(path))}
        r = self.c.post(f"{self.base}/api/v3/media/upload/binary", headers=self.h, files=files)
        assert r.status_code == 200, r.text
        return r.json()["data"]["download_url"]

    def submit(self, video, audio, sync_mode=None, model="lipsync-2", **extra):
        body = {"video": video, "audio": audio, **extra}
        if sync_mode:
            body["sync_mode"] = sync_mode
        return self.c.post(f"{self.base}/api/v3/sync/{model}", headers=self.h, json=body)

    def job_id(self, r):
        return r.json()["data"]["id"]

    def poll(self, job_id):
        return self.c.get(f"{self.base}/api/v3/predictions/{job_id}/result", headers=self.h)

    def state(self, r):
        body = r.json()
        st = body["data"]["status"]
        return {"completed": "completed", "failed": "failed"}.get(st, "running"), body

    def output_url(self, body):
        outs = body["data"]["outputs"]
        return outs[0] if outs else None

    def error_code(self, body):
        return body["data"]["code"]


class FoxApiDriver(Driver):
    name = "foxapi"

    @property
    def h(self):
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def upload(self, path: str) -> str:
        files = {"file": (os.path.basename(path), open(path, "rb").read(), ctype_of(path))}
        r = self.c.post(f"{self.base}/v1/files/upload/stream", headers=self.h, files=files)
        assert r.status_code == 200, r.text
        return r.json()["url"]

    def submit(self, video, audio, sync_mode=None, model="lipsync-2", **extra):
        body = {"model": model, "video_url": video, "audio_url": audio, **extra}
        if sync_mode:
            body["sync_mode"] = sync_mode
        return self.c.post(f"{self.base}/v1/videos/generations", headers=self.h, json=body)

    def job_id(self, r):
        return r.json()["id"]

    def poll(self, job_id):
        return self.c.get(f"{self.base}/v1/tasks/{job_id}", headers=self.h)

    def state(self, r):
        body = r.json()
        return {"completed": "completed", "failed": "failed"}.get(body["status"], "running"), body

    def output_url(self, body):
        results = body["results"] or []
        if not results:
            return None
        return results[0]["url"] if isinstance(results[0], dict) else results[0]

    def error_code(self, body):
        return body["error"]["code"]


class FalDriver(Driver):
    name = "fal"

    @property
    def h(self):
        return {"Authorization": f"Key {self.key}"} if self.key else {}

    def upload(self, path: str) -> str:
        r = self.c.post(f"{self.base}/storage/auth/token", params={"storage_type": "fal-cdn-v3"}, headers=self.h,
                        json={})
        assert r.status_code == 200, r.text
        tok = r.json()
        r = self.c.post(f"{tok['base_url']}/files/upload", content=open(path, "rb").read(),
                        headers={"Authorization": f"{tok['token_type']} {tok['token']}",
                                 "Content-Type": ctype_of(path), "X-Fal-File-Name": os.path.basename(path)})
        assert r.status_code == 200, r.text
        return r.json()["access_url"]

    def submit(self, video, audio, sync_mode=None, endpoint="fal-ai/sync-lipsync/v2", **extra):
        body = {"video_url": video, "audio_url": audio, **extra}
        if sync_mode:
            body["sync_mode"] = sync_mode
        return self.c.post(f"{self.base}/{endpoint}", headers=self.h, json=body)

    def job_id(self, r):
        body = r.json()
        self.last_submit = body
        return body["request_id"]

    def poll(self, job_id):
        return self.c.get(f"{self.base}/fal-ai/sync-lipsync/requests/{job_id}/status", headers=self.h)

    def state(self, r):
        body = r.json()
        if body["status"] != "COMPLETED":
            return "running", body
        result = self.c.get(body["response_url"], headers=self.h)
        if result.status_code != 200:
            return "failed", {"status": body, "result": result.json(), "http": result.status_code}
        return "completed", result.json()

    def output_url(self, body):
        return body["video"]["url"]

    def error_code(self, body):
        return body["status"]["error_type"]


DRIVERS = {d.name: d for d in (SyncDriver, RunwareDriver, WaveSpeedDriver, FoxApiDriver, FalDriver)}


def dumps(obj) -> str:
    return json.dumps(obj, indent=1)[:2000]
