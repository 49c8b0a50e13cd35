"""FoxAPI "task-unified" API (docs/providers.md §4): no idempotency, per-task `GET /v1/tasks/{id}`.

Results come as strings, `{url}` items or an `output` object depending on the doc revision
(§4.3 [U]); all three are accepted.
"""

from __future__ import annotations

from typing import Any

import httpx

from .. import endpoints
from ..capabilities import default_sync_mode
from ..errors import JobFailed, LipsyncError, OutcomeUnknown
from ..events import JobState
from ..models import JobRequest
from ..uploads import ProgressReader
from .base import (
    PollResult, Progress, Provider, RemoteRef, as_fraction, body_json, content_type, error_for_status, flatten,
)

STATES = {
    "pending": JobState.QUEUED, "queued": JobState.QUEUED, "processing": JobState.PROCESSING,
    "completed": JobState.COMPLETED, "succeeded": JobState.COMPLETED, "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED, "canceled": JobState.CANCELLED,
}
REJECT_CODES = {"content_policy_violation"}


class FoxApiProvider(Provider):
    name = "foxapi"
    poll_interval = (1.0, 8.0)

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        def body() -> dict[str, Any]:
            reader = ProgressReader(path, progress)
            return {"files": {"file": (reader.name, reader, content_type(path, kind))},
                    "data": {"file_name": reader.name}}

        data = self.json_of(self.call("POST", endpoints.path("foxapi", "upload"), safe=True, body=body))
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]  # EvoLink-style envelope (§4.5)
        url = isinstance(data, dict) and (data.get("url") or data.get("file_url") or data.get("download_url"))
        if not url:
            raise LipsyncError("the upload answer carried no url", self.name)
        return str(url)

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        o = request.options
        body: dict[str, Any] = {
            "model": self.remote_model(request.model), "video_url": refs["video"],
            "audio_url": refs[request.audio[0].id],
            "sync_mode": o.sync_mode or default_sync_mode(self.name, request.model),
        }
        if o.temperature is not None:
            body["temperature"] = o.temperature
        if o.active_speaker is not None:
            body["active_speaker"] = bool(o.active_speaker.auto)
        data = self.json_of(self.call("POST", endpoints.path("foxapi", "submit"), safe=False, json=body))
        task_id = isinstance(data, dict) and (data.get("id") or (data.get("data") or {}).get("id"))
        if not task_id:
            raise OutcomeUnknown("the submit answer carried no task id; the task may exist — check the "
                                 "FoxAPI dashboard before submitting again", self.name)
        return RemoteRef(str(task_id))

    def poll(self, ref: RemoteRef) -> PollResult:
        data = self.json_of(self.call("GET", endpoints.path("foxapi", "poll", id=ref.remote_id), safe=True))
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and "status" not in data:
            data = data["data"]
        status = str(data.get("status", "")).lower()
        state = STATES.get(status, JobState.PROCESSING if status else JobState.UNKNOWN)
        result = PollResult(state=state, progress=as_fraction(data.get("progress")), message=status)
        if state is JobState.COMPLETED:
            result.outputs = result_urls(data)
            result.progress = 1.0
        elif state in (JobState.FAILED, JobState.CANCELLED):
            err = data.get("error") or {}
            if not isinstance(err, dict):
                err = {"message": str(err)}
            code = err.get("code")
            result.fail(JobFailed(code, flatten(err.get("message")) or f"task {status}", self.name,
                                  rejected=str(code) in REJECT_CODES))
        return result

    def proves_refusal(self, response: httpx.Response) -> bool:
        # {"error": {"code", "message", "type", ...}} (§4.4)
        data = body_json(response)
        err = data.get("error") if isinstance(data, dict) else None
        return isinstance(err, dict) and isinstance(err.get("message"), str) and bool(err["message"])

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        data = body_json(response)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            e = data["error"]
            code = e.get("type") or e.get("code")
            message = flatten(e.get("message"))
            if e.get("fallback_suggestion"):
                message = f"{message} — {e['fallback_suggestion']}"
            return error_for_status(self.name, response, str(code) if code else None, message)
        return super().parse_error(response)


def result_urls(data: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for item in data.get("results") or []:
        if isinstance(item, str):
            urls.append(item)
        elif isinstance(item, dict) and item.get("url"):
            urls.append(str(item["url"]))
    if not urls and isinstance(data.get("output"), dict):
        out = data["output"]
        urls = [str(out["url"])] if out.get("url") else [str(u) for u in out.get("urls") or []]
    return urls
