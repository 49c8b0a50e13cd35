"""WaveSpeedAI (providers.md §3): `{code, message, data}` envelopes, no idempotency.

A submit is never re-sent after it may have reached the server (the official SDK's rule,
§3.4); uploads go through `media/upload/binary` (multipart, streamed).
"""

from __future__ import annotations

from typing import Any

import httpx

from ..capabilities import default_sync_mode
from ..errors import JobFailed, LipsyncError, OutcomeUnknown
from ..events import JobState
from ..models import JobRequest
from ..uploads import ProgressReader
from .base import PollResult, Progress, Provider, RemoteRef, body_json, content_type, error_for_status, flatten

STATES = {
    "created": JobState.QUEUED, "pending": JobState.QUEUED, "queued": JobState.QUEUED,
    "processing": JobState.PROCESSING, "completed": JobState.COMPLETED, "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED, "canceled": JobState.CANCELLED, "timeout": JobState.FAILED,
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
        def body() -> dict[str, Any]:
            reader = ProgressReader(path, progress)
            return {"files": {"file": (reader.name, reader, content_type(path, kind))}}

        data = self.envelope(self.call("POST", "/api/v3/media/upload/binary", safe=True, body=body))
        url = data.get("download_url") or data.get("url")
        if not url:
            raise LipsyncError("the upload answer carried no download_url", self.name)
        return str(url)

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        body = {"video": refs["video"], "audio": refs[request.audio[0].id],
                "sync_mode": request.options.sync_mode or default_sync_mode(self.name, request.model)}
        model = self.remote_model(request.model)
        data = self.envelope(self.call("POST", f"/api/v3/{model}", safe=False, json=body))
        pred_id = data.get("id")
        if not pred_id:
            raise OutcomeUnknown("the submit answer carried no prediction id; the job may exist — "
                                 "check the WaveSpeedAI dashboard before submitting again", self.name)
        return RemoteRef(str(pred_id), {"model": model})

    def poll(self, ref: RemoteRef) -> PollResult:
        # rebuilt from the configured base, not from `urls.get` (requests that carry the key)
        data = self.envelope(self.call("GET", f"/api/v3/predictions/{ref.remote_id}/result", safe=True))
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
