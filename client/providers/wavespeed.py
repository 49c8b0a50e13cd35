"""WaveSpeedAI (docs/providers.md §3): `{code, message, data}` envelopes, no idempotency.

A submit is never re-sent after it may have reached the server (the official SDK's rule,
§3.4). Uploads take the SDK's ticket flow (§3.5): `POST /api/v3/media/uploads` names the file,
the answer holds a presigned PUT (sent without our key) and the `download_url` the model reads.
Paths and model paths come from client/endpoints.py (WAVESPEED).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from .. import endpoints
from ..capabilities import default_sync_mode
from ..errors import JobFailed, LipsyncError, OutcomeUnknown
from ..events import JobState
from ..models import JobRequest
from ..transport import check_url
from ..uploads import ProgressReader
from .base import (
    PollResult, Progress, Provider, RemoteRef, body_json, content_type, error_for_status, file_size, flatten,
)

STATES = {
    "created": JobState.QUEUED, "pending": JobState.QUEUED, "queued": JobState.QUEUED,
    "processing": JobState.PROCESSING, "completed": JobState.COMPLETED, "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED, "canceled": JobState.CANCELLED, "timeout": JobState.FAILED,
    # the SDK ends its wait on deleted, cancelled and timeout too (wavespeed 2.0.5 `_wait`, §3.3)
    "deleted": JobState.FAILED,
}
# prediction error codes (§3.3): 1xxx = fix the input, 1200 = moderation
REJECT_CODES = {"1200"}


class WaveSpeedProvider(Provider):
    name = "wavespeed"
    poll_interval = (1.0, 5.0)  # SDK polls every 1 s; docs suggest 2-5 s for video (§3.4)

    def envelope(self, response: httpx.Response) -> dict[str, Any]:
        data = self.json_of(response)
        if not isinstance(data, dict):
            raise LipsyncError("unexpected answer (not a JSON object)", self.name)
        code = data.get("code")
        if code not in (None, 200, "200") and not isinstance(data.get("data"), dict):
            raise JobFailed(str(code), flatten(data.get("message")) or "request failed", self.name)
        inner = data.get("data", data)
        return inner if isinstance(inner, dict) else {}

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        ctype = content_type(path, kind)
        size = file_size(path)
        ticket = self.envelope(self.call("POST", endpoints.path("wavespeed", "upload"), safe=True, json={
            "filename": os.path.basename(path), "size": size, "content_type": ctype}))
        put = ticket.get("upload") if isinstance(ticket.get("upload"), dict) else {}
        url = ticket.get("download_url")
        if str(put.get("method", "")).upper() != "PUT" or not put.get("url") or not url:
            raise LipsyncError("the upload ticket carried no PUT instruction or download_url", self.name)
        # a presigned storage URL carries its own signature: the key is never sent there
        check_url(str(put["url"]), "upload URL", self.name)
        raw = put.get("headers")
        headers = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        headers["Content-Length"] = str(size)

        def body() -> dict[str, Any]:
            return {"content": ProgressReader(path, progress)}

        self.http.request("PUT", str(put["url"]), safe=True, parse_error=self.parse_error, headers=headers,
                          body=body)
        return str(url)

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        body = {"video": refs["video"], "audio": refs[request.audio[0].id],
                "sync_mode": request.options.sync_mode or default_sync_mode(self.name, request.model)}
        model = self.remote_model(request.model)
        data = self.envelope(self.call("POST", endpoints.path("wavespeed", "submit", model=model), safe=False,
                                       json=body))
        pred_id = data.get("id")
        if not pred_id:
            raise OutcomeUnknown("the submit answer carried no prediction id; the job may exist — "
                                 "check the WaveSpeedAI dashboard before submitting again", self.name)
        return RemoteRef(str(pred_id), {"model": model})

    def poll(self, ref: RemoteRef) -> PollResult:
        # rebuilt from the configured base, not from `urls.get` (requests that carry the key)
        data = self.envelope(self.call("GET", endpoints.path("wavespeed", "poll", id=ref.remote_id), safe=True))
        status = str(data.get("status", "")).lower()
        state = STATES.get(status, JobState.PROCESSING if status else JobState.UNKNOWN)
        result = PollResult(state=state, message=status)
        if state is JobState.COMPLETED:
            result.outputs = [str(u) for u in data.get("outputs") or [] if u]
        elif state in (JobState.FAILED, JobState.CANCELLED):
            code = data.get("code")
            code = None if code in (None, 0, 200, "0", "200") else str(code)
            result.fail(JobFailed(code, flatten(data.get("error")) or f"prediction {status}", self.name,
                                  rejected=code in REJECT_CODES))
        return result

    def proves_refusal(self, response: httpx.Response) -> bool:
        # {"code": <int>, "message": "...", "data": null} (§3.3, the HTTP-level envelope)
        data = body_json(response)
        return (isinstance(data, dict) and isinstance(data.get("code"), int) and data["code"] != 200
                and isinstance(data.get("message"), str) and bool(data["message"]) and not data.get("data"))

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        data = body_json(response)
        if isinstance(data, dict):
            code = data.get("code")
            code = None if code in (None, response.status_code) else str(code)
            return error_for_status(self.name, response, code, flatten(data.get("message") or data.get("error")))
        return super().parse_error(response)
