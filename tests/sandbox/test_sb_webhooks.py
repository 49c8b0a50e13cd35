"""Completion webhooks to a loopback receiver, in each provider's payload shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.webhooks import SECRET


@pytest.fixture
def receiver():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def _wait(got, n=1):
    deadline = time.monotonic() + 10
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(got) >= n
    return got[-1]


def test_webhooks_every_provider(sandbox, driver, media, receiver, http):
    url, got = receiver
    subs = {
        "sync": lambda d, v, a: d.submit(v, a, webhookUrl=url),
        "runware": lambda d, v, a: d.submit(v, a, webhookURL=url),
        "wavespeed": lambda d, v, a: d.c.post(f"{d.base}/api/v3/sync/lipsync-2", params={"webhook": url},
                                               headers=d.h, json={"video": v, "audio": a}),
        "foxapi": lambda d, v, a: d.submit(v, a, callback_url=url),
        "fal": lambda d, v, a: d.c.post(f"{d.base}/fal-ai/sync-lipsync/v2", params={"fal_webhook": url},
                                         headers=d.h, json={"video_url": v, "audio_url": a}),
    }
    for n, (provider, submit) in enumerate(subs.items(), start=1):
        d = driver(provider)
        r = submit(d, d.upload(media["video"]), d.upload(media["short"]))
        assert r.status_code in (200, 201), r.text
        headers, raw = _wait(got, n)
        body = json.loads(raw)
        if provider == "sync":
            t, v1 = (kv.split("=", 1)[1] for kv in headers["Sync-Signature"].split(","))
            expected = hmac.new(SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(v1, expected)
            assert body["status"] == "COMPLETED" and body["outputUrl"]
        elif provider == "runware":
            assert body["data"][0]["status"] == "success" and body["data"][0]["videoURL"]
        elif provider == "wavespeed":
            assert body["status"] == "completed" and "code" not in body and body["outputs"]
        elif provider == "foxapi":
            assert body["status"] == "completed" and body["results"]
        else:
            assert body["status"] == "OK" and body["payload"]["video"]["url"]
    deadline = time.monotonic() + 5
    while len(sandbox.stats()["webhooks"]) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [w["status"] for w in sandbox.stats()["webhooks"]] == [200] * 5


def test_failed_job_webhook_and_non_loopback_skipped(sandbox, driver, media, receiver):
    url, got = receiver
    d = driver("fal")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    sandbox.arm("fal", "job_failed")
    d.c.post(f"{d.base}/fal-ai/sync-lipsync/v2", params={"fal_webhook": url}, headers=d.h,
             json={"video_url": v, "audio_url": a})
    body = json.loads(_wait(got)[1])
    assert body["status"] == "ERROR" and body["error"]
    d = driver("sync")
    d.submit(d.upload(media["video"]), d.upload(media["short"]), webhookUrl="https://example.com/hook")
    deadline = time.monotonic() + 5
    while len(sandbox.stats()["webhooks"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.stats()["webhooks"][-1]["status"] == "skipped"
