"""fal.ai queue protocol (docs/providers.md §5.1): `Authorization: Key <FAL_KEY>`, queue + CDN storage.

Submit `POST /fal-ai/sync-lipsync[/v2[/pro]|/v3]`; status, result and cancel URLs DROP the model
sub-path: `/fal-ai/sync-lipsync/requests/{id}[/status|/cancel]`. Storage: token from
`POST /storage/auth/token?storage_type=fal-cdn-v3`, then raw bytes to `{base_url}/files/upload`.
"""

from __future__ import annotations

import secrets
import time

from .. import webhooks
from ..jobs import CANCELLED, COMPLETED, FAILED, PENDING, PROCESSING, REJECTED, AudioSource, JobSpec
from ..state import OverLimit
from ..timeline import SYNC_MODES
from ..validation import Invalid, check_enum, check_keys, check_type
from ..wire import Request, Response
from .base import Provider

APP = "/fal-ai/sync-lipsync"
# endpoint sub-path -> (allowed `model` values, default model) (§5.1 table)
ENDPOINTS = {"": (("lipsync-1.9.0-beta", "lipsync-1.8.0", "lipsync-1.7.1"), "lipsync-1.9.0-beta"),
             "/v2": (("lipsync-2", "lipsync-2-pro"), "lipsync-2"),
             "/v2/pro": (("lipsync-2-pro",), "lipsync-2-pro"),
             "/v3": (("sync-3",), "sync-3")}
FORBID_EXTRA = True  # [U] fal apps may ignore unknown input fields; rejecting them catches client typos
STATUS_HTTP = 200  # [U] status endpoint HTTP code while queued/in progress (fal_client ignores it)
FAILURE = {  # neutral failure kind -> (HTTP status of the result GET, error_type) [U mapping]
    "fault": (500, "runner_disconnected"),
    "rejected": (422, "content_policy_violation"),
    "video_inaccessible": (422, "file_download_error"),
    "audio_inaccessible": (422, "file_download_error"),
    "video_invalid": (422, "invalid_media"),
    "audio_invalid": (422, "invalid_media"),
    "pipeline": (500, "internal_server_error"),
}


class FalProvider(Provider):
    name = "fal"

    def __init__(self, state):
        super().__init__(state)
        self.tokens: set[str] = set()
        r = self.route
        r("POST", "/storage/auth/token", self.storage_token, "upload")
        r("POST", "/files/upload", self.cdn_upload, "upload", auth=False)  # CDN token, not the key
        r("GET", APP + r"/requests/(?P<req_id>[^/]+)/status", self.status, "poll")
        r("PUT", APP + r"/requests/(?P<req_id>[^/]+)/cancel", self.cancel, "other")
        r("GET", APP + r"/requests/(?P<req_id>[^/]+)", self.result, "poll")
        r("POST", APP + r"(?P<sub>(/v2/pro|/v2|/v3)?)", self.submit, "submit")

    # -- protocol basics ------------------------------------------------------------------------
    def api_key(self, req: Request) -> str:
        scheme, _, key = (req.header("authorization") or "").partition(" ")
        return key.strip() if scheme.lower() == "key" else ""

    def authenticate(self, req: Request) -> Response | None:
        if self.state.key_ok(self.api_key(req)):
            return None
        return self.error(401, "unauthorized", "Invalid or missing credentials: use 'Authorization: Key <FAL_KEY>'")

    def error(self, status, code, message, headers=None, **extra) -> Response:
        h = {"X-Fal-Error-Type": code}
        h.update(headers or {})
        return Response.json(status, {"detail": message, **extra}, h)

    def _invalid(self, exc: Invalid) -> Response:
        loc = ["body", *exc.field.split(".")]
        kind = {"unknown": "extra_forbidden", "missing": "missing", "enum": "enum"}.get(exc.reason, "type_error")
        return Response.json(422, {"detail": [{"loc": loc, "msg": exc.message, "type": kind}]})

    # -- storage (§5.1 upload) ------------------------------------------------------------------
    def storage_token(self, req: Request) -> Response:
        if req.arg("storage_type") != "fal-cdn-v3":
            return self.error(400, "bad_request", "storage_type must be fal-cdn-v3")
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return Response.json(200, {"token": token, "token_type": "Bearer", "base_url": self.state.base_url("fal"),
                                   "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime(time.time() + 3600))})

    def cdn_upload(self, req: Request) -> Response:
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            return self.error(401, "unauthorized", "Invalid CDN token")
        name = req.header("x-fal-file-name") or "upload.bin"
        f = self.state.store_file("fal", req.body, name, req.content_type or "application/octet-stream")
        return Response.json(200, {"access_url": self.state.file_url(f)})

    # -- queue ----------------------------------------------------------------------------------
    def _urls(self, req_id: str) -> dict:
        base = f"{self.state.base_url('fal')}{APP}/requests/{req_id}"
        return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}

    def submit(self, req: Request, sub: str) -> Response:
        models, default = ENDPOINTS[sub or ""]
        try:
            body = req.json()
            if not isinstance(body, dict):
                raise Invalid("body", "type", "Input should be a valid dictionary")
            keys = ("video_url", "audio_url", "sync_mode") + (("model",) if len(models) > 1 else ())
            if FORBID_EXTRA:
                check_keys(body, keys)
            for name in ("video_url", "audio_url"):
                if name not in body:
                    raise Invalid(name, "missing", "Field required")
                check_type(body[name], name, "string")
            sync_mode = check_enum(body.get("sync_mode", "cut_off"), "sync_mode", SYNC_MODES)
            model = check_enum(body.get("model", default), "model", models)
        except ValueError:
            return self.error(400, "bad_request", "Body must be valid JSON")
        except Invalid as exc:
            return self._invalid(exc)
        public = {"lipsync-1.8.0": "lipsync-1.9.0-beta", "lipsync-1.7.1": "lipsync-1.9.0-beta"}.get(model, model)
        spec = JobSpec(public, body["video_url"], [AudioSource("audio", ref=body["audio_url"])], sync_mode,
                       options={"endpoint": APP[1:] + sub, "model": model, "sync_mode": sync_mode})
        try:
            job = self.state.create_job("fal", spec, self.api_key(req), extra={"endpoint": APP[1:] + sub})
        except OverLimit as exc:
            return self.error(429, "rate_limited", f"Too many concurrent requests (limit {exc.limit})",
                              {"Retry-After": str(self.state.setting("fal", "retry_after"))})
        if req.arg("fal_webhook"):
            webhooks.watch(self.state, job, req.arg("fal_webhook"), self._webhook_body)
        return Response.json(200, {"request_id": job.id, "gateway_request_id": job.id, **self._urls(job.id),
                                   "queue_position": 0})

    def _job(self, req: Request, req_id: str):
        job = self.state.get_job("fal", req_id)
        return job if job and job.api_key == self.api_key(req) else None

    def status(self, req: Request, req_id: str) -> Response:
        job = self._job(req, req_id)
        if job is None:
            return self.error(404, "request_not_found", f"Request {req_id} not found")
        self.state.on_poll(job)
        status = job.status()
        urls = self._urls(job.id)
        logs = [{"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), "level": "INFO", "source": "user",
                 "message": "sandbox: rendering"}] if _truthy(req.arg("logs")) else None
        if status == PENDING:
            return Response.json(STATUS_HTTP, {"status": "IN_QUEUE", "queue_position": 0,
                                               "response_url": urls["response_url"]})
        if status == PROCESSING:
            return Response.json(STATUS_HTTP, {"status": "IN_PROGRESS", "logs": logs,
                                               "response_url": urls["response_url"]})
        body = {"status": "COMPLETED", "logs": logs, "response_url": urls["response_url"],
                "metrics": {"inference_time": job.queue_s + job.proc_s}}
        if status in (FAILED, REJECTED, CANCELLED):
            code, message, _ = self._failure(job)
            body.update(error=message, error_type=code)
        return Response.json(200, body)

    def _failure(self, job) -> tuple[str, str, int]:
        if job.cancelled:
            return "request_cancelled", "Request was cancelled", 400
        err = job.error()
        http, code = FAILURE.get(err.kind, FAILURE["pipeline"])
        return str(err.code or code), err.message or f"Lipsync failed: {code}", http

    def result(self, req: Request, req_id: str) -> Response:
        job = self._job(req, req_id)
        if job is None:
            return self.error(404, "request_not_found", f"Request {req_id} not found")
        self.state.on_poll(job)
        status = job.status()
        if status in (PENDING, PROCESSING):
            return self.error(400, "request_in_progress", "Request is still in progress")
        if status != COMPLETED:
            code, message, http = self._failure(job)
            return self.error(http, code, message)
        return Response.json(200, self._output(job))

    def _output(self, job) -> dict:
        urls = self.state.output_urls(job)
        f = self.state.files[job.outputs[0]]
        return {"video": {"url": urls[0] if urls else None, "content_type": f.content_type, "file_name": f.name,
                          "file_size": f.size}}

    def _webhook_body(self, job) -> dict:
        """§5.1 webhook: {request_id, gateway_request_id, status: OK|ERROR, payload, error?}."""
        body = {"request_id": job.id, "gateway_request_id": job.id}
        if job.status() == COMPLETED:
            return dict(body, status="OK", payload=self._output(job))
        code, message, _ = self._failure(job)
        return dict(body, status="ERROR", payload={"detail": message}, error=message)

    def cancel(self, req: Request, req_id: str) -> Response:
        job = self._job(req, req_id)
        if job is None:
            return self.error(404, "request_not_found", f"Request {req_id} not found")
        if job.status() == PENDING:
            job.cancelled = True
            return Response.json(202, {"status": "CANCELLATION_REQUESTED"})
        return Response.json(400, {"status": "ALREADY_COMPLETED"})


def _truthy(value: str | None) -> bool:
    # fal-client sends `logs=true`/`logs=false` (httpx's spelling of a bool), the docs show `logs=1`
    return (value or "").lower() in ("1", "true")
