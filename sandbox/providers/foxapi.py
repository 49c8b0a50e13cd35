"""FoxAPI / EvoLink "task-unified" API (docs/providers.md §4): Bearer auth, unified async tasks.

Submit `POST /v1/videos/generations` -> task `task-unified-<unix>-<8 chars>`; poll `GET /v1/tasks/{id}`
(pending 0-10 % -> processing 10-80 % -> completed 100 % | failed); uploads `POST /v1/files/upload/stream`
(multipart) and `/v1/files/upload/base64`. `results` are URL strings, or `{url}` objects with the
`results_as_objects` setting (§4.3 [U] which one is live).
"""

from __future__ import annotations

import base64
import binascii
import random
import string
import time

from .. import webhooks
from ..jobs import CANCELLED, COMPLETED, FAILED, PENDING, PROCESSING, REJECTED, AudioSource, JobSpec
from ..state import OverLimit
from ..timeline import SYNC_MODES, Speaker
from ..validation import Invalid, check_enum, check_keys, check_range, check_type
from ..wire import Request, Response
from .base import Provider

MODELS = ("lipsync-2", "lipsync-2-pro", "sync-3")
DEFAULT_SYNC_MODE = "loop"  # §4.2
TOP_KEYS = ("model", "video_url", "audio_url", "video", "audio", "sync_mode", "temperature", "active_speaker",
            "callback_url", "advanced")
NOT_FOR_SYNC3 = ("temperature", "active_speaker")  # §4.2: lipsync-2/2-pro only
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "internal_error", 502: "upstream_error", 503: "service_unavailable"}
FAILURE_CODES = {  # neutral failure kind -> task error.code (§4.4)
    "fault": ("service_error", "The generation failed upstream."),
    "rejected": ("content_policy_violation", "The input was rejected by the content policy."),
    "video_inaccessible": ("resource_not_found", "The video_url could not be downloaded."),
    "audio_inaccessible": ("resource_not_found", "The audio_url could not be downloaded."),
    "video_invalid": ("invalid_parameters", "The video could not be decoded."),
    "audio_invalid": ("invalid_parameters", "The audio could not be decoded."),
    "pipeline": ("generation_failed", "The generation failed."),
}
CREDITS_PER_SECOND = 1  # [U] §4.5 per_second billing; credit rate not documented


class FoxApiProvider(Provider):
    name = "foxapi"

    def __init__(self, state):
        super().__init__(state)
        r = self.route
        r("POST", "/v1/files/upload/stream", self.upload_stream, "upload")
        r("POST", "/v1/files/upload/base64", self.upload_base64, "upload")
        r("POST", "/v1/videos/generations", self.submit, "submit")
        r("GET", r"/v1/tasks/(?P<task_id>[^/]+)", self.task, "poll")

    # -- protocol basics ------------------------------------------------------------------------
    def api_key(self, req: Request) -> str:
        return self.bearer(req) or ""

    def authenticate(self, req: Request) -> Response | None:
        if self.state.key_ok(self.api_key(req)):
            return None
        return self.error(401, "invalid_api_key", "Invalid or missing API key")

    def error(self, status, code, message, headers=None, param=None, **extra) -> Response:
        err = {"code": status, "message": message, "type": ERROR_TYPES.get(status, "error")}
        if param:
            err["param"] = param
        if status in (429, 502, 503):
            err["fallback_suggestion"] = "retry later"
        return Response.json(status, {"error": err}, headers)

    # -- uploads (§4.5) -------------------------------------------------------------------------
    def _file_answer(self, f) -> Response:
        return Response.json(200, {"id": f.meta["fox_id"], "filename": f.name, "url": self.state.file_url(f),
                                   "size": f.size, "created": int(f.created)})

    def upload_stream(self, req: Request) -> Response:
        try:
            parts = req.multipart()
        except ValueError:
            parts = {}
        part = parts.get("file")
        if part is None:
            return self.error(400, "invalid_request", "multipart field 'file' is required", param="file")
        name = parts["file_name"].text if "file_name" in parts else (part.filename or "upload.bin")
        f = self.state.store_file("foxapi", part.data, name, part.content_type or "application/octet-stream")
        f.meta["fox_id"] = f"file-{int(time.time())}-{_rand(6)}"
        return self._file_answer(f)

    def upload_base64(self, req: Request) -> Response:
        try:
            body = req.json()
            data = body["file_data"]
            ctype = "application/octet-stream"
            if data.startswith("data:"):
                head, _, data = data.partition(",")
                ctype = head[5:].split(";")[0]
            raw = base64.b64decode(data, validate=True)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return self.error(400, "invalid_request", "file_data must be base64 or a data URI", param="file_data")
        f = self.state.store_file("foxapi", raw, body.get("file_name") or "upload.bin", ctype)
        f.meta["fox_id"] = f"file-{int(time.time())}-{_rand(6)}"
        return self._file_answer(f)

    # -- tasks ----------------------------------------------------------------------------------
    def submit(self, req: Request) -> Response:
        try:
            body = req.json()
            if not isinstance(body, dict):
                raise Invalid("body", "type", "request body must be a JSON object")
            check_keys(body, TOP_KEYS)
            model = check_enum(body.get("model", "lipsync-2"), "model", MODELS)
            # Older revision used video/audio instead of video_url/audio_url (§4.2): accept both.
            video = check_type(body.get("video_url", body.get("video")), "video_url", "string") \
                if body.get("video_url", body.get("video")) is not None else _missing("video_url")
            audio = check_type(body.get("audio_url", body.get("audio")), "audio_url", "string") \
                if body.get("audio_url", body.get("audio")) is not None else _missing("audio_url")
            sync_mode = check_enum(body.get("sync_mode", DEFAULT_SYNC_MODE), "sync_mode", SYNC_MODES)
            if model == "sync-3":
                for key in NOT_FOR_SYNC3:
                    if key in body:
                        raise Invalid(key, "unsupported", f"{key} is not supported by sync-3")
            if "temperature" in body:
                check_range(body["temperature"], "temperature", 0, 1)
            speaker = None
            if "active_speaker" in body and check_type(body["active_speaker"], "active_speaker", "bool"):
                speaker = Speaker(auto=True)
            if "callback_url" in body:
                url = check_type(body["callback_url"], "callback_url", "string")
                # HTTPS only (§4.2); plain http is let through for loopback receivers in tests.
                loopback = url.startswith(("http://127.0.0.1", "http://localhost"))
                if not (url.startswith("https://") or loopback) or len(url) > 2048:
                    raise Invalid("callback_url", "type", "callback_url must be an HTTPS URL of at most 2048 chars")
            if "advanced" in body:
                check_type(body["advanced"], "advanced", "object")
        except ValueError:
            return self.error(400, "invalid_request", "request body must be valid JSON")
        except Invalid as exc:
            return self.error(400, "invalid_request", exc.message, param=exc.field)
        spec = JobSpec(model, video, [AudioSource("audio", ref=audio)], sync_mode, speaker=speaker,
                       options={k: v for k, v in body.items() if k not in ("video_url", "audio_url", "video",
                                                                           "audio")})
        now = int(time.time())
        try:
            job = self.state.create_job("foxapi", spec, self.api_key(req),
                                        job_id=f"task-unified-{now}-{_rand(8)}", extra={"created": now})
        except OverLimit as exc:
            return self.error(429, "rate_limited", f"Too many concurrent tasks (limit {exc.limit})",
                              {"Retry-After": str(self.state.setting("foxapi", "retry_after"))})
        if body.get("callback_url"):
            webhooks.watch(self.state, job, body["callback_url"], self._task_body)
        return Response.json(200, {
            "created": now, "id": job.id, "model": model, "object": "video.generation.task", "progress": 0,
            "status": "pending", "task_info": {"can_cancel": True, "estimated_time": 45}, "type": "video",
            "usage": {"billing_rule": "per_second", "credits_reserved": 5, "user_group": "default"}})

    def task(self, req: Request, task_id: str) -> Response:
        job = self.state.get_job("foxapi", task_id)
        if job is None or job.api_key != self.api_key(req):
            return self.error(404, "not_found", f"Task {task_id} not found")
        self.state.on_poll(job)
        return Response.json(200, self._task_body(job))

    def _task_body(self, job) -> dict:
        status = job.status()
        # §4.3 progress bands: pending 0-10, processing 10-80, completed 100, failed 0.
        progress = {PENDING: 5, COMPLETED: 100}.get(status, 0)
        if status == PROCESSING:
            progress = 10 + int(70 * job.progress())
        name = {PENDING: "pending", PROCESSING: "processing", COMPLETED: "completed", FAILED: "failed",
                REJECTED: "failed", CANCELLED: "cancelled"}[status]
        body = {"id": job.id, "object": "video.generation.task", "type": "video", "model": job.spec.model,
                "status": name, "progress": progress, "created": job.extra["created"], "results": None,
                "error": None, "task_info": {"can_cancel": status == PENDING},
                "usage": {"credits_reserved": 5, "user_group": "default"}}
        if status == COMPLETED:
            urls = self.state.output_urls(job)
            as_objects = self.state.setting("foxapi", "results_as_objects")
            body["results"] = [{"url": u} for u in urls] if as_objects else urls
        elif status in (FAILED, REJECTED):
            err = job.error()
            code, message = FAILURE_CODES.get(err.kind, FAILURE_CODES["pipeline"])
            body["error"] = {"code": err.code or code, "message": err.message or message}
        return body


def _rand(n: int) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


def _missing(name: str):
    raise Invalid(name, "missing", f"{name} is required")
