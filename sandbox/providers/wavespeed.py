"""WaveSpeedAI (docs/providers.md §3): Bearer auth, `{code, message, data}` envelope, predictions.

Submit `POST /api/v3/sync/<model>`, poll `GET /api/v3/predictions/{id}/result`; uploads through
the ticket flow `/api/v3/media/uploads` + PUT (what wavespeed 2.0.5 uses), and the older
`/api/v3/media/upload/binary` and `/api/v3/upload` (multipart, §3.5). Failed predictions carry
`data.code` (1402 etc., §3.3). `POST /api/v3/predictions/delete` (docs) leaves a prediction whose
result reads status `deleted`, one of the SDK's terminal states [U: the live answer may be a 404].
"""

from __future__ import annotations

import secrets
import time

from .. import webhooks
from ..jobs import COMPLETED, FAILED, PENDING, REJECTED, AudioSource, JobSpec
from ..state import OverLimit
from ..timeline import SYNC_MODES, Speaker
from ..validation import Invalid, check_enum, check_keys, check_range, check_type, require
from ..wire import Request, Response
from .base import Provider, iso

MODELS = {"lipsync-1.9.0-beta": "lipsync-1.9.0-beta", "lipsync-2": "lipsync-2", "lipsync-2-pro": "lipsync-2-pro",
          "lipsync-3": "sync-3"}  # §3.1: the sync-3 path is [U]
BASE_KEYS = ("video", "audio", "sync_mode", "enable_sync_mode", "webhook_url")
# [U] §3.2: extra params for lipsync-2/2-pro not documented; accept temperature + active_speaker there only.
EXTRA_KEYS = {"lipsync-2": ("temperature", "active_speaker"), "lipsync-2-pro": ("temperature", "active_speaker")}
FAILURE_CODES = {  # neutral failure kind -> prediction error code (§3.3 error-codes)
    "fault": (1403, "Task execution failed."),
    "rejected": (1200, "Content moderation: the input was flagged."),
    "video_inaccessible": (1402, "Failed to download video from the provided URL."),
    "audio_inaccessible": (1402, "Failed to download audio from the provided URL."),
    "video_invalid": (1401, "Invalid parameter: the video could not be decoded."),
    "audio_invalid": (1401, "Invalid parameter: the audio could not be decoded."),
    "pipeline": (1405, "Task failed."),
}
STATUS = {"PENDING": "created", "PROCESSING": "processing", "COMPLETED": "completed", "FAILED": "failed",
          "REJECTED": "failed", "CANCELLED": "cancelled"}


class WaveSpeedProvider(Provider):
    name = "wavespeed"

    def __init__(self, state):
        super().__init__(state)
        r = self.route
        r("POST", "/api/v3/media/upload/binary", self.upload_binary, "upload")
        r("POST", "/api/v3/upload", self.upload_binary, "upload")
        r("POST", "/api/v3/media/uploads", self.upload_ticket, "upload")
        r("POST", r"/api/v3/sync/(?P<model>[^/]+)", self.submit, "submit")
        r("POST", "/api/v3/predictions/delete", self.delete, "other")
        r("GET", r"/api/v3/predictions/(?P<pred_id>[^/]+)/result", self.result, "poll")
        r("GET", r"/api/v3/predictions/(?P<pred_id>[^/]+)", self.result, "poll")

    # -- protocol basics ------------------------------------------------------------------------
    def api_key(self, req: Request) -> str:
        return self.bearer(req) or ""

    def authenticate(self, req: Request) -> Response | None:
        if self.state.key_ok(self.api_key(req)):
            return None
        return self.error(401, "unauthorized", "Unauthorized: invalid or missing API key")

    def error(self, status, code, message, headers=None, **extra) -> Response:
        # [U] §3.3: HTTP-level error body presumably {"code": <http>, "message": ...}.
        return Response.json(status, {"code": status, "message": message, "data": None}, headers)

    def envelope(self, data: dict) -> Response:
        return Response.json(200, {"code": 200, "message": "success", "data": data})

    # -- uploads (§3.5) -------------------------------------------------------------------------
    def upload_binary(self, req: Request) -> Response:
        try:
            part = req.multipart().get("file")
        except ValueError:
            part = None
        if part is None:
            return self.error(400, "bad_request", "multipart field 'file' is required")
        ctype = part.content_type or "application/octet-stream"
        f = self.state.store_file("wavespeed", part.data, part.filename or "upload.bin", ctype)
        url = self.state.file_url(f)
        if req.path == "/api/v3/upload":
            return self.envelope({"url": url})
        return self.envelope({"type": _kind(ctype), "download_url": url, "filename": f.name, "size": f.size})

    def upload_ticket(self, req: Request) -> Response:
        try:
            body = req.json()
            name = check_type(require(body, "filename"), "filename", "string")
            size = check_range(require(body, "size"), "size", 1, None, integer=True)
            ctype = check_type(body.get("content_type") or "application/octet-stream", "content_type", "string")
        except (ValueError, TypeError, Invalid) as exc:
            return self.error(400, "bad_request", getattr(exc, "message", "invalid JSON body"))
        f = self.state.reserve_file("wavespeed", name, ctype)
        f.meta.update(token=secrets.token_hex(16), size=size)
        url = self.state.file_url(f)
        return self.envelope({"type": _kind(ctype), "download_url": url, "filename": f.name, "size": size,
                              "upload": {"method": "PUT", "url": f"{url}?X-Amz-Signature={f.meta['token']}",
                                         "headers": {"Content-Type": ctype}}})

    def presigned_put(self, req: Request, f) -> Response:
        if f is None or req.arg("X-Amz-Signature") != f.meta.get("token"):
            return Response.text(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
        self.state.store_file("wavespeed", req.body, f.name, f.content_type, file_id=f.id)
        return Response(200, b"")

    # -- predictions ----------------------------------------------------------------------------
    def submit(self, req: Request, model: str) -> Response:
        if model not in MODELS:
            return self.error(404, "not_found", f"model sync/{model} not found")
        try:
            body = req.json()
            if not isinstance(body, dict):
                raise Invalid("body", "type", "request body must be a JSON object")
            check_keys(body, BASE_KEYS + EXTRA_KEYS.get(model, ()))
            video = check_type(require(body, "video"), "video", "string")
            audio = check_type(require(body, "audio"), "audio", "string")
            sync_mode = check_enum(body.get("sync_mode", "cut_off"), "sync_mode", SYNC_MODES)  # default cut_off
            if "temperature" in body:
                check_range(body["temperature"], "temperature", 0, 1)
            speaker = None
            if "active_speaker" in body and check_type(body["active_speaker"], "active_speaker", "bool"):
                speaker = Speaker(auto=True)
            for flag in ("enable_sync_mode",):
                if flag in body:
                    check_type(body[flag], flag, "bool")
            if "webhook_url" in body:
                check_type(body["webhook_url"], "webhook_url", "string")
        except ValueError:
            return self.error(400, "bad_request", "request body must be valid JSON")
        except Invalid as exc:
            # Parameter errors share the envelope; 1400 missing / 1401 invalid in `code` [U].
            return Response.json(400, {"code": 400, "message": f"{'1400' if exc.reason == 'missing' else '1401'}: "
                                                               f"{exc.message}", "data": None})
        spec = JobSpec(MODELS[model], video, [AudioSource("audio", ref=audio)], sync_mode, speaker=speaker,
                       options={k: v for k, v in body.items() if k not in ("video", "audio")})
        try:
            job = self.state.create_job("wavespeed", spec, self.api_key(req), extra={"model": model,
                                                                                    "input": body})
        except OverLimit as exc:
            return self.error(429, "too_many_requests", f"Too many concurrent tasks (limit {exc.limit})",
                              {"Retry-After": str(self.state.setting("wavespeed", "retry_after"))})
        hook = req.arg("webhook") or body.get("webhook_url")
        if hook:  # §3.3: the webhook body is the bare prediction, no envelope
            webhooks.watch(self.state, job, hook, self._prediction)
        if body.get("enable_sync_mode"):
            limit = float(self.state.setting("wavespeed", "wavespeed_sync_timeout"))
            deadline = time.monotonic() + limit
            job.wait_terminal(deadline)
            data = self._prediction(job)
            if job.is_active():
                # §3.2: the blocking call gives up (code 5004) while the task keeps running; poll it. [U] shape
                data.update(code=5004, error=f"Sync mode timed out after {limit:g} seconds; poll the prediction")
            return self.envelope(data)
        return self.envelope(self._prediction(job, created=True))

    def delete(self, req: Request) -> Response:
        try:
            body = req.json()
            ids = check_type(require(body, "ids"), "ids", "array") if isinstance(body, dict) else None
        except (ValueError, Invalid):
            ids = None
        if ids is None:
            return self.error(400, "bad_request", "ids (an array of prediction ids) is required")
        count = 0
        for pred_id in ids:
            job = self.state.get_job("wavespeed", str(pred_id))
            if job is not None and job.api_key == self.api_key(req) and not job.extra.get("deleted"):
                job.extra["deleted"] = True
                count += 1
        return self.envelope({"deleted_count": count})

    def _prediction(self, job, created: bool = False) -> dict:
        if job.extra.get("deleted"):
            return {"id": job.id, "model": f"sync/{job.extra['model']}", "input": job.extra["input"], "outputs": [],
                    "urls": {"get": f"{self.state.base_url('wavespeed')}/api/v3/predictions/{job.id}/result"},
                    "has_nsfw_contents": [], "status": "deleted", "created_at": iso(job.created_at),
                    "error": "The prediction was deleted.", "timings": {"inference": 0}}
        status = PENDING if created else job.status()
        urls = self.state.output_urls(job) if status == COMPLETED else []
        data = {"id": job.id, "model": f"sync/{job.extra['model']}", "input": job.extra["input"],
                "outputs": urls, "urls": {"get": f"{self.state.base_url('wavespeed')}/api/v3/predictions/"
                                                 f"{job.id}/result"},
                "has_nsfw_contents": [False] * len(urls), "status": STATUS[status],
                "created_at": iso(job.created_at), "error": "",
                "timings": {"inference": int(1000 * (job.queue_s + job.proc_s)) if status == COMPLETED else 0}}
        if status in (FAILED, REJECTED):
            err = job.error()
            code, message = FAILURE_CODES.get(err.kind, FAILURE_CODES["pipeline"])
            data["code"] = int(err.code) if isinstance(err.code, int) or str(err.code or "").isdigit() else code
            data["error"] = err.message or message
        return data

    def result(self, req: Request, pred_id: str) -> Response:
        job = self.state.get_job("wavespeed", pred_id)
        if job is None or job.api_key != self.api_key(req):
            return self.error(404, "not_found", f"prediction {pred_id} not found")
        self.state.on_poll(job)
        return self.envelope(self._prediction(job))


def _kind(ctype: str) -> str:
    for kind in ("image", "video", "audio"):
        if ctype.startswith(kind):
            return kind
    return "video"
