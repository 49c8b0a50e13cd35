"""sync.so (docs/providers.md §1): x-api-key, /v2/generate JSON or multipart, assets, idempotency, long-poll.

Answers follow the official SDK's types (syncsdk 0.3.0 `sync/common/types`: Generation, Asset,
PaginatedAssetsResponse, ModelInfo, EstimatedGenerationCost), so the SDK parses every one.
[U] choices (documented constants below): default sync_mode, the idempotency conflict answer, the
validation errorCode, the 401 errorCode, the model ids and versions of GET /v2/models.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid

from .. import media, webhooks
from ..jobs import CANCELLED, COMPLETED, AudioSource, JobSpec
from ..state import OverLimit
from ..timeline import output_seconds
from ..validation import Invalid, check_enum, check_keys, check_range, check_type, require
from ..wire import Request, Response
from .base import REASONS, Provider, iso
from .sync_options import parse_options, parse_segments
from .tts import sync_text_item

MODELS = ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3")
DEFAULT_SYNC_MODE = "cut_off"  # [U] §1.4: server default not stated; fal/WaveSpeed/Runware-sync-3 use cut_off
# §1.13 upper bound (Creator plan) $/s at 25 fps, used by /v2/analyze/cost.
PRICE_PER_SECOND = {"lipsync-1.9.0-beta": 0.025, "lipsync-2": 0.05, "lipsync-2-pro": 0.083, "sync-3": 0.133}
MODEL_VERSIONS = {"lipsync-1.9.0-beta": "1.9.0-beta", "lipsync-2": "2", "lipsync-2-pro": "2", "sync-3": "3"}  # [U]
VALIDATION_CODE = "validation_error"  # [U] errorCode of NestJS validation 400s
UNAUTHORIZED_CODE = "unauthorized"  # [U]
IDEMPOTENCY_CONFLICT = (422, "IDEMPOTENCY_KEY_REUSED")  # [U] §1.11: "IDEMPOTENCY_* family", code not seen
IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
WAIT_RETRY_AFTER = "2"
FAILURE_CODES = {  # neutral failure kind -> generation error_code (§1.10)
    "fault": ("generation_pipeline_failed", "An error occurred in the generation pipeline."),
    "rejected": ("generation_input_validation_failed", "The generation was rejected."),
    "video_inaccessible": ("generation_input_video_inaccessible", "The video input could not be downloaded."),
    "audio_inaccessible": ("generation_input_audio_inaccessible", "The audio input could not be downloaded."),
    "video_invalid": ("generation_media_metadata_missing", "The video input has no readable duration/frame rate."),
    "audio_invalid": ("generation_input_audio_invalid", "The audio input could not be decoded."),
    "pipeline": ("generation_pipeline_failed", "An error occurred in the generation pipeline."),
}
TOP_KEYS = ("model", "input", "options", "segments", "webhookUrl", "outputFileName", "projectId", "dubParams",
            "dialogueEdit")


class SyncProvider(Provider):
    name = "sync"

    def __init__(self, state):
        super().__init__(state)
        r = self.route
        r("POST", "/v2/assets/upload", self.presign, "upload")
        r("POST", "/v2/assets", self.register_asset, "upload")
        r("GET", "/v2/assets", self.list_assets, "other")
        r("GET", "/v2/assets/uploaded", self.find_uploaded, "other")
        r("GET", r"/v2/assets/(?P<asset_id>[^/]+)", self.get_asset, "other")
        r("POST", "/v2/generate", self.create, "submit")
        r("POST", "/v2/generate/upload", self.create, "submit")  # older docs alias (§1.1)
        r("GET", r"/v2/generate/(?P<gen_id>[^/]+)", self.get, "poll")
        r("GET", r"/v2/generations/(?P<gen_id>[^/]+)", self.get, "poll")
        r("GET", r"/v2/generations/(?P<gen_id>[^/]+)/download", self.download_url, "other")
        r("GET", "/v2/generations", self.list_generations, "other")
        for path in ("/v2/analyze/cost", "/v2/generate/estimate-cost", "/v2/generations/estimate-cost"):
            r("POST", path, self.estimate_cost, "other")
        r("GET", "/v2/models", self.models, "other")
        r("GET", "/v2/errors", self.errors, "other", auth=False)

    # -- protocol basics ------------------------------------------------------------------------
    def api_key(self, req: Request) -> str:
        return req.header("x-api-key") or ""

    def authenticate(self, req: Request) -> Response | None:
        if self.state.key_ok(self.api_key(req)):
            return None
        return self.error(401, UNAUTHORIZED_CODE, "Invalid or missing API key (x-api-key)")

    def error(self, status, code, message, headers=None, **extra) -> Response:
        body = {"statusCode": status, "errorCode": code, "message": message, "error": REASONS.get(status, "Error")}
        body.update(extra)
        return Response.json(status, body, headers)

    def invalid(self, exc: Invalid) -> Response:
        # NestJS ValidationPipe: message is an array of strings (§1.10).
        return self.error(400, VALIDATION_CODE, [exc.message], field=exc.field)

    # -- assets (§1.14) -------------------------------------------------------------------------
    def presign(self, req: Request) -> Response:
        try:
            body = _json_object(req)
            check_keys(body, ("fileName", "contentType", "size"))
            name = check_type(require(body, "fileName"), "fileName", "string")
            ctype = check_type(require(body, "contentType"), "contentType", "string")
            size = check_range(require(body, "size"), "size", 1, 5 * 1024 ** 3, integer=True)
        except Invalid as exc:
            return self.invalid(exc)
        f = self.state.reserve_file("sync", name, ctype)
        f.meta.update(token=secrets.token_hex(16), size=size, api_key=self.api_key(req))
        url = self.state.file_url(f)
        return Response.json(201, {"uploadUrl": f"{url}?X-Amz-Signature={f.meta['token']}", "url": url,
                                   "expiresIn": 604800})

    def presigned_put(self, req: Request, f) -> Response:
        """S3-style presigned PUT: no auth header, signature in the query, Content-Type must match."""
        if f is None or "token" not in f.meta or req.arg("X-Amz-Signature") != f.meta["token"]:
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
        if req.content_type and f.content_type and req.content_type != f.content_type.lower():
            return _s3_error(403, "SignatureDoesNotMatch", "Content-Type does not match the presigned URL.")
        self.state.store_file("sync", req.body, f.name, f.content_type, file_id=f.id)
        return Response(200, b"", {"ETag": '"%s"' % hashlib.md5(req.body).hexdigest()})

    def register_asset(self, req: Request) -> Response:
        try:
            body = _json_object(req)
            url = check_type(require(body, "url"), "url", "string")
        except Invalid as exc:
            return self.invalid(exc)
        m = re.search(r"/_files/([^/]+)/", url)
        f = self.state.files.get(m.group(1)) if m else None
        if m and (f is None or not f.path):
            return self.error(400, "asset_upload_not_found", "No uploaded file at this URL; PUT it first")
        ctype = (f.content_type if f else "") or ""
        kind = body.get("type") or _asset_type(ctype)
        asset = self._new_asset(req, kind, url, f, body.get("name"), "UPLOAD" if f else "URL")
        return Response.json(201, _public(asset))

    def _new_asset(self, req: Request, kind: str, url: str, f, name: str | None, input_type: str) -> dict:
        """An asset as the SDK's `Asset` type has it (id, createdAt, updatedAt, type, visibility, ...)."""
        now = iso(time.time())
        asset = {"id": str(uuid.uuid4()), "createdAt": now, "updatedAt": now, "type": kind,
                 "visibility": "USER", "name": name or (f.name if f else url.rsplit("/", 1)[-1]),
                 "url": url, "size": f.size if f else None, "format": (f.name.rsplit(".", 1)[-1] if f else None),
                 "inputType": input_type, "_key": self.api_key(req), "_sha": f.sha256 if f else None}
        self.state.assets[asset["id"]] = asset
        return asset

    def _assets(self, req: Request) -> list[dict]:
        key = self.api_key(req)
        return [a for a in self.state.assets.values() if a["_key"] == key]

    def list_assets(self, req: Request) -> Response:
        """PaginatedAssetsResponse: {items, nextCursor, totalCount}; `cursor` is an offset [U]."""
        types = {t for t in (req.arg("types") or "").split(",") if t}
        assets = [a for a in self._assets(req) if not types or a["type"] in types]
        raw_limit, raw_cursor = req.arg("limit", "50"), req.arg("cursor", "0")
        if not (raw_limit or "").isdigit() or not 1 <= int(raw_limit) <= 100 or not (raw_cursor or "0").isdigit():
            return self.error(400, VALIDATION_CODE, ["limit must be 1-100 and cursor a value from nextCursor"])
        start, limit = int(raw_cursor or 0), int(raw_limit)
        page = assets[start:start + limit]
        more = start + limit < len(assets)
        return Response.json(200, {"items": [_public(a) for a in page], "totalCount": len(assets),
                                   "nextCursor": str(start + limit) if more else None})

    def find_uploaded(self, req: Request) -> Response:
        sha, kind = req.arg("contentSha256"), req.arg("type")
        for a in self._assets(req):
            if a["_sha"] == sha and (not kind or a["type"] == kind):
                return Response.json(200, {"asset": _public(a)})
        return Response.json(200, {"asset": None})

    def get_asset(self, req: Request, asset_id: str) -> Response:
        a = self.state.assets.get(asset_id)
        if not a or a["_key"] != self.api_key(req):
            return self.error(404, "asset_not_found", "Asset not found")
        return Response.json(200, _public(a))

    # -- generations ----------------------------------------------------------------------------
    def create(self, req: Request) -> Response:
        key = self.api_key(req)
        idem = req.header("idempotency-key")
        if idem is not None and not IDEMPOTENCY_KEY_RE.match(idem):
            return self.error(400, "INVALID_IDEMPOTENCY_KEY",
                              "Idempotency-Key must be 1-128 characters of [A-Za-z0-9._~-]")
        try:
            body, files = self._body(req)
        except Invalid as exc:
            return self.invalid(exc)
        digests = {k: hashlib.sha256(v["data"]).hexdigest() for k, v in files.items()}
        fingerprint = hashlib.sha256(json.dumps([body, digests], sort_keys=True).encode()).hexdigest()
        with self.state.lock:  # lookup + create atomically: two racing retries get one generation
            if idem is not None:
                seen = self.state.idempotency.get(("sync", key, idem))
                if seen:
                    if seen["fingerprint"] != fingerprint:
                        status, code = IDEMPOTENCY_CONFLICT
                        return self.error(status, code, "Idempotency-Key was already used with a different "
                                                        "request body")
                    return Response.json(seen["status"], seen["body"], {"Idempotent-Replayed": "true"})
            try:
                body = self._attach_files(body, files, req)
                spec = self._spec(body)
            except Invalid as exc:
                return self.invalid(exc)
            try:
                job = self.state.create_job("sync", spec, key, client_key=idem, extra={"request": body})
            except OverLimit as exc:
                return self.error(429, "concurrency_limit_reached",
                                  f"Active job limit reached ({exc.limit} concurrent generations)",
                                  {"Retry-After": str(self.state.setting("sync", "retry_after"))})
            if body.get("webhookUrl"):
                webhooks.watch(self.state, job, body["webhookUrl"], self._generation, signed=True)
            out = self._generation(job, created=True)
            if idem is not None:
                self.state.idempotency[("sync", key, idem)] = {"fingerprint": fingerprint, "status": 201,
                                                               "body": out, "job": job.id}
        return Response.json(201, out)

    def _body(self, req: Request) -> tuple[dict, dict]:
        """JSON body, or multipart (§1.6: nested fields as JSON strings, file parts video/audio/image)."""
        if req.content_type == "multipart/form-data":
            try:
                parts = req.multipart()
            except ValueError as exc:
                raise Invalid("body", "type", str(exc)) from None
            body, files = {}, {}
            for name, part in parts.items():
                if name in ("video", "audio", "image") and part.filename is not None:
                    files[name] = {"data": part.data, "name": part.filename or name,
                                   "type": part.content_type or "application/octet-stream"}
                elif name in ("input", "options", "segments", "dubParams", "dialogueEdit"):
                    try:
                        body[name] = json.loads(part.text)
                    except ValueError:
                        raise Invalid(name, "type", f"{name} must be a JSON string") from None
                else:
                    body[name] = part.text
            if not files and "input" not in body:
                raise Invalid("input", "missing", "input is required")
            return body, files
        return _json_object(req), {}

    def _attach_files(self, body: dict, files: dict, req: Request) -> dict:
        if not files:
            return body
        inputs = [i for i in (body.get("input") or []) if isinstance(i, dict)]
        for kind, item in files.items():
            f = self.state.store_file("sync", item["data"], item["name"], item["type"])
            # each file part becomes an asset passed by assetId (§1.6)
            asset_id = self._new_asset(req, kind.upper(), self.state.file_url(f), f, f.name, "UPLOAD")["id"]
            # A file takes precedence over a URL for the same input (§1.6).
            existing = next((i for i in inputs if i.get("type") == kind), None)
            if existing:
                existing.pop("url", None)
                existing["assetId"] = asset_id
            else:
                inputs.append({"type": kind, "assetId": asset_id})
        return dict(body, input=inputs)

    def _spec(self, body: dict) -> JobSpec:
        check_keys(body, TOP_KEYS)
        model = check_type(require(body, "model"), "model", "string")
        if model not in MODELS:
            raise Invalid("model", "enum", f"model must be one of: {', '.join(MODELS)}")
        inputs = check_type(require(body, "input"), "input", "array")
        visual, audios = None, []
        for i, item in enumerate(inputs):
            where = f"input[{i}]"
            check_type(item, where, "object")
            kind = check_enum(require(item, "type", where), f"{where}.type", ("video", "image", "audio", "text"))
            if kind in ("video", "image", "audio"):
                check_keys(item, ("type", "url", "assetId", "refId", "segments_secs", "segments_frames"), where)
                if ("url" in item) == ("assetId" in item):
                    raise Invalid(where, "missing", f"{where} needs exactly one of url, assetId")
                ref = check_type(item.get("url") or item.get("assetId"), f"{where}.url", "string")
            if kind in ("video", "image"):
                if visual is not None:
                    raise Invalid("input", "conflict", "input must contain exactly one video or image")
                if kind == "image" and model != "sync-3":
                    raise Invalid(f"{where}.type", "unsupported", "image inputs are only supported by sync-3")
                visual = ref
            elif kind == "audio":
                ref_id = item.get("refId")
                if ref_id is not None:
                    check_type(ref_id, f"{where}.refId", "string")
                audios.append(AudioSource(ref_id or f"audio{len(audios)}", ref=ref))
            else:
                script = sync_text_item(item, where)
                audios.append(AudioSource(item.get("refId") or f"text{len(audios)}", text=script))
        if visual is None:
            raise Invalid("input", "missing", "input must contain a video (or, for sync-3, an image)")
        if not audios:
            raise Invalid("input", "missing", "input must contain at least one audio or text input")
        options = check_type(body.get("options") or {}, "options", "object")
        sync_mode, speaker = parse_options(options, "options")
        segments = parse_segments(body.get("segments"), {a.id for a in audios})
        if "webhookUrl" in body and body["webhookUrl"] is not None:
            check_type(body["webhookUrl"], "webhookUrl", "string")
        name = body.get("outputFileName")
        if name is not None and not (isinstance(name, str) and re.match(r"^[A-Za-z0-9_-]{1,255}$", name)):
            raise Invalid("outputFileName", "type", "outputFileName must match [A-Za-z0-9_-], at most 255 chars")
        fmt = options.get("output_format") or "mp4"
        return JobSpec(model, visual, audios, sync_mode or DEFAULT_SYNC_MODE, segments, speaker, options,
                       output_format=fmt, output_name=name)

    def _generation(self, job, created: bool = False) -> dict:
        # Create always answers PENDING (§1.7), even when the queue time is zero.
        status = "PENDING" if created else job.status()
        urls = self.state.output_urls(job) if status == COMPLETED else []
        err = job.error()
        code = message = None
        if err:
            default_code, default_msg = FAILURE_CODES.get(err.kind, FAILURE_CODES["pipeline"])
            code, message = err.code or default_code, err.message or default_msg
        req = job.extra["request"]
        out = urls[0] if urls else None
        return {"id": job.id, "createdAt": iso(job.created_at), "status": "CANCELED" if status == CANCELLED else status,
                "model": job.spec.model, "input": req.get("input"), "options": req.get("options") or {},
                "webhookUrl": req.get("webhookUrl"), "outputUrl": out, "outputMediaUrl": out,
                "outputDuration": job.info.get("output_seconds") if status == COMPLETED else None,
                "segments": req.get("segments"), "segmentOutputUrl": None,
                "error": message, "error_code": code, "errorCode": code}

    def _job(self, req: Request, gen_id: str):
        job = self.state.get_job("sync", gen_id)
        return job if job and job.api_key == self.api_key(req) else None

    def get(self, req: Request, gen_id: str) -> Response:
        job = self._job(req, gen_id)
        if job is None:
            return self.error(404, "generation_not_found", f"Generation {gen_id} not found")
        headers = {}
        if (req.arg("wait") or "").lower() == "true":
            # §1.8 long-poll: timeout 1..10 s (default 5), not with include=progress.
            raw = req.arg("timeout", "5")
            if not re.fullmatch(r"\d+", raw or "") or not 1 <= int(raw) <= 10:
                return self.error(400, VALIDATION_CODE, ["timeout must be an integer between 1 and 10"])
            if req.arg("include") == "progress":
                return self.error(400, VALIDATION_CODE, ["wait cannot be combined with include=progress"])
            deadline = time.monotonic() + int(raw)
            self.state.on_poll(job)
            job.wait_terminal(deadline)
            headers = {"Retry-After": WAIT_RETRY_AFTER, "X-Sync-Wait-Mode": "long_poll",
                       "X-Sync-Wait-Timeout-Seconds": raw}
        else:
            self.state.on_poll(job)
        body = self._generation(job)
        if req.arg("include") == "progress":
            body["progress"] = round(job.progress() * 100)  # [U] §1.8 field name/shape
        return Response.json(200, body, headers)

    def download_url(self, req: Request, gen_id: str) -> Response:
        job = self._job(req, gen_id)
        urls = self.state.output_urls(job) if job and job.status() == COMPLETED else []
        if not urls:
            return self.error(404, "generation_not_found", "No output for this generation")
        return Response.text(200, urls[0])

    def list_generations(self, req: Request) -> Response:
        key, status = self.api_key(req), req.arg("status")
        jobs = [j for j in list(self.state.jobs.values()) if j.provider == "sync" and j.api_key == key]
        return Response.json(200, [g for g in (self._generation(j) for j in jobs)
                                   if not status or g["status"] == status])

    def estimate_cost(self, req: Request) -> Response:
        try:
            spec = self._spec(_json_object(req))
            video = media.probe(self.state.resolve(spec.video, "video"))
            audio = spec.audios[0]
            audio_s = (len(media.synth_speech(audio.text)) / media.AUDIO_RATE if audio.text
                       else media.probe(self.state.resolve(audio.ref, "audio"))["audio_seconds"])
        except Invalid as exc:
            return self.invalid(exc)
        except Exception as exc:  # noqa: BLE001 - Failure or unreadable media
            return self.error(400, getattr(exc, "kind", "generation_input_validation_failed"), str(exc))
        seconds = video["video_seconds"] if spec.segments else output_seconds(spec.sync_mode,
                                                                              video["video_seconds"], audio_s)
        frames = int(round(seconds * 25))  # billed per output frame normalised to 25 fps (§1.13)
        return Response.json(200, [{"estimatedFrameCount": frames,
                                    "estimatedGenerationCost": round(frames / 25 * PRICE_PER_SECOND[spec.model], 4)}])

    def models(self, req: Request) -> Response:
        # ModelInfo (syncsdk): id, name, type lipsync|react, version; ids and versions [U]
        return Response.json(200, [{"id": m, "name": m, "type": "lipsync", "version": MODEL_VERSIONS[m],
                                    "description": f"sandbox stand-in for {m}"} for m in MODELS])

    def errors(self, req: Request) -> Response:
        return Response.json(200, [{"code": c, "message": m} for c, m in FAILURE_CODES.values()])


def _json_object(req: Request) -> dict:
    try:
        body = req.json()
    except ValueError:
        raise Invalid("body", "type", "request body must be valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("body", "type", "request body must be a JSON object")
    return body


def _asset_type(ctype: str) -> str:
    return "AUDIO" if ctype.startswith("audio") else "IMAGE" if ctype.startswith("image") else "VIDEO"


def _public(asset: dict) -> dict:
    return {k: v for k, v in asset.items() if not k.startswith("_")}


def _s3_error(status: int, code: str, message: str) -> Response:
    return Response.text(status, f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                                 f"<Message>{message}</Message></Error>", "application/xml")
