"""fal.ai queue protocol (docs/providers.md §5.1).

Three hosts (queue, storage-token, CDN; client/endpoints.py FAL) — a base-URL override maps all
of them to one base. Status/result/cancel URLs drop the model sub-path (`fal-ai/sync-lipsync/v2`
-> `fal-ai/sync-lipsync`). No idempotency: a submit is never re-sent once it may have reached the
server (unlike fal-client, which retries it, §8).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

import httpx

from .. import endpoints
from ..capabilities import default_sync_mode
from ..errors import JobFailed, LipsyncError, OutcomeUnknown
from ..events import JobState
from ..models import JobRequest
from ..uploads import ProgressReader
from .base import PollResult, Progress, Provider, RemoteRef, body_json, content_type, error_for_status, flatten

STATES = {"IN_QUEUE": JobState.QUEUED, "IN_PROGRESS": JobState.PROCESSING, "COMPLETED": JobState.COMPLETED}
JOB_ERROR_TYPES = {"request_timeout", "startup_timeout", "file_download_error", "invalid_media",
                   "content_policy_violation", "request_cancelled", "generation_failed"}
# the `model` field each endpoint takes (§5.1 table); v2/pro and v3 take none
MODEL_FIELD = endpoints.FAL.model_field
KNOWN_APPS = ("fal-ai/sync-lipsync",)


def header_file_name(name: str) -> str:
    """X-Fal-File-Name as an HTTP header can carry it: ASCII names as they are, others as their
    UTF-8 percent-encoding (RFC 3986), which is ASCII and gives the original back. fal-client sends
    the raw name (httpx then fails on a non-ASCII one, issue #13); control characters are encoded
    too, so a name cannot end the header early."""
    if name.isascii() and name.isprintable():
        return name
    return urllib.parse.quote(name, safe=" !#$&'()+,;=@[]^`{}~-._")


def app_of(endpoint: str) -> str:
    return "/".join(endpoint.split("/")[:2])


class FalProvider(Provider):
    name = "fal"
    poll_interval = (0.5, 5.0)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.config.api_key}"}

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        token = self.json_of(self.call("POST", endpoints.path("fal", "token"), safe=True, role="storage",
                                       params={"storage_type": "fal-cdn-v3"}, json={}))
        if not isinstance(token, dict) or not token.get("token"):
            raise LipsyncError("the storage token answer carried no token", self.name)
        # one-part uploads go to the CDN host itself, as fal-client's `_upload_v3` does; the token's
        # `base_url` is only for multipart uploads (>100 MB, which this client does not make)
        cdn = self.config.host("cdn")
        ctype = content_type(path, kind)
        size = os.path.getsize(path)
        headers = {"Authorization": f"{token.get('token_type') or 'Bearer'} {token['token']}",
                   "Content-Type": ctype, "X-Fal-File-Name": header_file_name(os.path.basename(path)),
                   "Content-Length": str(size)}

        def body() -> dict[str, Any]:
            return {"content": ProgressReader(path, progress)}

        # the CDN takes the short-lived storage token, never the API key
        response = self.http.request("POST", cdn + endpoints.path("fal", "cdn_upload"), safe=True,
                                     parse_error=self.parse_error, headers=headers, body=body)
        data = self.json_of(response)
        url = isinstance(data, dict) and data.get("access_url")
        if not url:
            raise LipsyncError("the CDN answer carried no access_url", self.name)
        return str(url)

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        endpoint = self.remote_model(request.model)
        body: dict[str, Any] = {
            "video_url": refs["video"], "audio_url": refs[request.audio[0].id],
            "sync_mode": request.options.sync_mode or default_sync_mode(self.name, request.model),
        }
        if request.model in MODEL_FIELD:
            body["model"] = MODEL_FIELD[request.model]
        data = self.json_of(self.call("POST", endpoints.path("fal", "submit", model=endpoint), safe=False,
                                      json=body))
        request_id = isinstance(data, dict) and data.get("request_id")
        if not request_id:
            raise OutcomeUnknown("the queue answer carried no request_id; the request may exist — check "
                                 "the fal dashboard before submitting again", self.name)
        return RemoteRef(str(request_id), {"app": app_of(endpoint)})

    def _app(self, ref: RemoteRef) -> str:
        # resume data may come from a saved file: only the apps this client submits to are used
        app = ref.extra.get("app")
        return app if app in KNOWN_APPS else "fal-ai/sync-lipsync"

    def poll(self, ref: RemoteRef) -> PollResult:
        app = self._app(ref)
        # logs=false, as fal-client's status() sends by default: this client shows no fal logs
        data = self.json_of(self.call("GET", endpoints.path("fal", "status", app=app, id=ref.remote_id), safe=True,
                                      params={"logs": "false"}))
        status = str(data.get("status", "")).upper() if isinstance(data, dict) else ""
        state = STATES.get(status, JobState.UNKNOWN)
        message = status.lower()
        if state is JobState.QUEUED and data.get("queue_position") is not None:
            message = f"in queue (position {data['queue_position']})"
        if state is not JobState.COMPLETED:
            return PollResult(state=state, message=message)
        if data.get("error"):
            kind = data.get("error_type")
            rejected = kind == "content_policy_violation"
            state = JobState.REJECTED if rejected else (
                JobState.CANCELLED if kind == "request_cancelled" else JobState.FAILED)
            return PollResult(state, error=JobFailed(kind, flatten(data["error"]), self.name, rejected=rejected))
        try:
            result = self.json_of(self.call("GET", endpoints.path("fal", "result", app=app, id=ref.remote_id),
                                            safe=True))
        except JobFailed as exc:
            return PollResult(JobState.FAILED, error=exc)
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        return PollResult(JobState.COMPLETED, progress=1.0, outputs=[str(url)] if url else [])

    def cancel(self, ref: RemoteRef) -> bool:
        self.call("PUT", endpoints.path("fal", "cancel", app=self._app(ref), id=ref.remote_id), safe=True)
        return True

    def proves_refusal(self, response: httpx.Response) -> bool:
        # {"detail": "..."} or, for validation, {"detail": [{loc, msg, type}]} (§5.1)
        data = body_json(response)
        detail = data.get("detail") if isinstance(data, dict) else None
        if isinstance(detail, list):
            return bool(detail) and all(isinstance(d, dict) and isinstance(d.get("msg"), str) for d in detail)
        return isinstance(detail, str) and bool(detail)

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        data = body_json(response)
        error_type = response.headers.get("x-fal-error-type")
        message = ""
        if isinstance(data, dict):
            error_type = data.get("error_type") or error_type
            message = flatten(data.get("detail") or data.get("error") or data.get("message"))
        elif response.text:
            message = response.text[:300]
        # the result request of a failed job answers with the job's own error type (§5.1); the
        # gateway's transient errors (injected 5xx, overload) stay retryable
        path = response.request.url.path if response.request else ""
        if (error_type and "/requests/" in path and not path.endswith(("/status", "/cancel"))
                and (response.status_code in (400, 422) or error_type in JOB_ERROR_TYPES
                     or error_type.startswith("runner_"))):
            return JobFailed(error_type, message or error_type, self.name, status=response.status_code,
                             rejected=error_type == "content_policy_violation")
        if response.status_code == 422:
            return error_for_status(self.name, response, error_type, f"invalid input: {message}")
        return error_for_status(self.name, response, error_type, message)
