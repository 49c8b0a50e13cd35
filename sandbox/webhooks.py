"""Completion webhooks: one POST per finished job, to loopback URLs only (the sandbox never leaves the host).

Each provider builds its own payload (sync: the generation object signed with `Sync-Signature`,
§1.9; Runware `{"data": [items]}`, §2.7; WaveSpeed the bare prediction, §3.3; FoxAPI the task body,
§4.2; fal `{request_id, status: OK|ERROR, payload}`, §5.1). Non-loopback URLs are recorded as
"skipped". No retries (§1.9 [U]).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from urllib.parse import urlsplit

SECRET = "whsec_sandbox"  # sync.so webhook signing secret of the sandbox
WAIT_LIMIT = 600.0  # give up watching a job after this many seconds


def sign(secret: str, body: bytes, ts: int | None = None) -> str:
    """`Sync-Signature` header value: t=<unix>,v1=HMAC_SHA256(secret, "<t>.<body>") (§1.9)."""
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def watch(state, job, url: str, build, signed: bool = False) -> None:
    """Deliver `build(job)` to `url` once the job is terminal (background daemon thread)."""
    def run():
        deadline = time.monotonic() + WAIT_LIMIT
        while job.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)
        record = {"provider": job.provider, "job": job.id, "url": url, "status": None}
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            record["status"] = "skipped"
        else:
            body = json.dumps(build(job), separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json"}
            if signed:
                headers["Sync-Signature"] = sign(SECRET, body)
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=15) as resp:
                    record["status"] = resp.status
            except OSError as exc:
                record["status"] = getattr(exc, "code", None) or f"error: {exc}"
        with state.lock:
            state.webhooks.append(record)

    threading.Thread(target=run, name=f"webhook-{job.id}", daemon=True).start()
