"""Runware (docs/providers.md §2): one POST /v1 taking a JSON array of tasks, dispatched on taskType.

Auth by `Authorization: Bearer` or a leading `authentication` task; `ping`; `mediaStorage` uploads
(URL / data URI / raw base64) and the image-only `imageUpload`; `videoInference` acks; cumulative
`getResponse`; client-chosen `taskUUID` as the idempotency key (reuse -> `conflictTaskUUID`, §2.6).
Top-level fields are checked against the official SDK's field tables (runware_schema.py).
"""

from __future__ import annotations

import base64
import binascii
import uuid

from .. import webhooks
from ..jobs import COMPLETED, FAILED, REJECTED, Failure, JobSpec
from ..state import OverLimit
from ..validation import Invalid, check_enum, check_keys, check_range, check_type, require
from ..wire import Request, Response
from .base import Provider
from .tts import runware_tts_settings
from .runware_inputs import parse_audios, parse_segments, parse_speaker, parse_speech
from .runware_schema import UTILITY_TASKS, VIDEO_TASKS, check_fields

# §2.2: the SDK registry's AIRs (runware_schema.VIDEO_TASKS); the older `sync:lipsync@3` is refused.
AIRS = {"sync:lipsync-2@1": "lipsync-2", "sync:lipsync-2-pro@1": "lipsync-2-pro", "sync:3@0": "sync-3"}
PRICE_PER_AUDIO_SECOND = {"lipsync-2": 0.044, "lipsync-2-pro": 0.0733, "sync-3": 0.1173}  # 2-pro/3: [U]
CONCURRENCY_CODE = "rateLimitExceeded"  # [U] §2.6: "no hard rate limits"; used when a cap is configured
DOCS_URL = "https://runware.ai/docs/en/video-inference/api-reference"
FAILURE_CODES = {  # neutral failure kind -> Runware error code [U mapping; codes from §2.5]
    "fault": ("providerError", "The provider failed to process the request."),
    "rejected": ("contentPolicyViolation", "The request was rejected by the provider's content policy."),
    "video_inaccessible": ("invalidInputsVideo", "The video input could not be downloaded."),
    "audio_inaccessible": ("invalidInputsAudio", "The audio input could not be downloaded."),
    "video_invalid": ("invalidInputsVideo", "The video input could not be decoded."),
    "audio_invalid": ("invalidInputsAudio", "The audio input could not be decoded."),
    "pipeline": ("inferenceError", "Inference failed."),
}
FAULT_CODES = {429: "rateLimitExceeded", 500: "internalServerError", 502: "badGateway", 503: "serviceUnavailable"}
SYNC2_KEYS = ("syncMode", "temperature", "activeSpeakerDetection", "occlusionDetectionEnabled", "occlusionDetection",
              "segments")
SYNC3_KEYS = ("syncMode", "temperature", "activeSpeakerDetection", "emotion", "mode", "occlusionDetection",
              "segments", "tts")
EMOTIONS = ("happy", "sad", "angry", "disgusted", "surprised", "neutral")


class TaskError(Exception):
    def __init__(self, code: str, message: str, parameter: str | None = None, status: int = 400,
                 headers: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.parameter, self.status, self.headers = code, message, parameter, status, headers


def _cap(name: str) -> str:
    last = name.split(".")[-1].split("[")[0]
    return last[:1].upper() + last[1:]


def _task_error(exc: Invalid) -> TaskError:
    # Runware codes: missing* / invalid* / unsupported* (§2.5), named after the parameter.
    code = {"missing": "missing", "unknown": "unsupported"}.get(exc.reason, "invalid")
    if exc.reason == "unknown":
        return TaskError("unsupportedParameter", exc.message, exc.field)
    return TaskError(code + _cap(exc.field), exc.message, exc.field)


class RunwareProvider(Provider):
    name = "runware"

    def __init__(self, state):
        super().__init__(state)
        self.route("POST", "/v1", self.tasks, self.classify)
        self.route("POST", "/", self.tasks, self.classify)

    # -- protocol basics ------------------------------------------------------------------------
    @staticmethod
    def _tasks_of(req: Request) -> list:
        try:
            body = req.json()
        except ValueError:
            return []
        return body if isinstance(body, list) else []

    def classify(self, req: Request) -> str:
        types = {t.get("taskType") for t in self._tasks_of(req) if isinstance(t, dict)}
        if "videoInference" in types:
            return "submit"
        if "getResponse" in types:
            return "poll"
        if types & {"mediaStorage", "imageUpload"}:
            return "upload"
        return "other"

    def api_key(self, req: Request) -> str:
        key = self.bearer(req)
        if key:
            return key
        tasks = self._tasks_of(req)
        if tasks and isinstance(tasks[0], dict) and tasks[0].get("taskType") == "authentication":
            return str(tasks[0].get("apiKey") or "")
        return ""

    def authenticate(self, req: Request) -> Response | None:
        if self.state.key_ok(self.api_key(req)):
            return None
        return Response.json(401, {"errors": [{
            "code": "invalidApiKey", "message": "Invalid API key. Get one at https://my.runware.ai/signup",
            "parameter": "apiKey", "taskType": "authentication", "documentation": DOCS_URL}]})

    def error(self, status, code, message, headers=None, **extra) -> Response:
        return Response.json(status, {"errors": [dict({"code": code, "message": message}, **extra)]}, headers)

    def fault_wording(self, status: int) -> tuple[str, str]:
        message = {429: "Too many requests.", 502: "Bad gateway.", 503: "Service unavailable."}.get(
            status, "Internal server error.")
        return FAULT_CODES.get(status, "internalServerError"), message

    # -- dispatch -------------------------------------------------------------------------------
    def tasks(self, req: Request) -> Response:
        try:
            tasks = req.json()
        except ValueError:
            return self.error(400, "invalidRequestBody", "Request body must be a JSON array of tasks")
        if not isinstance(tasks, list) or not tasks:
            return self.error(400, "invalidRequestBody", "Request body must be a non-empty JSON array of tasks")
        key = self.api_key(req)
        data, errors, status, headers = [], [], None, {}
        for task in tasks:
            if not isinstance(task, dict):
                errors.append({"code": "invalidTask", "message": "Every task must be a JSON object"})
                continue
            kind = task.get("taskType")
            try:
                if kind == "authentication":
                    data.append({"taskType": "authentication", "connectionSessionUUID": str(uuid.uuid4())})
                elif kind == "ping":
                    data.append({"taskType": "ping", "pong": True})
                elif kind == "mediaStorage":
                    data.append(self.media_storage(req, task))
                elif kind == "imageUpload":
                    data.append(self.image_upload(task))
                elif kind == "videoInference":
                    ack = self.video_inference(task, key)
                    if not self.state.setting("runware", "runware_empty_ack"):
                        data.append(ack)
                elif kind == "getResponse":
                    items, errs = self.get_response(task, key)
                    data.extend(items)
                    errors.extend(errs)
                else:
                    raise TaskError("unsupportedTaskType", f"Unsupported taskType {kind!r}", "taskType")
            except TaskError as exc:
                status = status or exc.status
                headers.update(exc.headers or {})
                errors.append({"code": exc.code, "message": exc.message, "parameter": exc.parameter,
                               "taskType": kind, "taskUUID": task.get("taskUUID"), "documentation": DOCS_URL})
        body: dict = {}
        if data or not errors:
            body["data"] = data
        if errors:
            body["errors"] = errors
        # Errors alone carry their HTTP status; a mixed answer is a 200 with both lists (§2.1) [U].
        code = (status or 400) if errors and not data else 200
        return Response.json(code, body, headers)

    def _new_uuid(self, task: dict, kind: str) -> str:
        raw = require(task, "taskUUID") if "taskUUID" in task else None
        if raw is None:
            raise TaskError("missingTaskUUID", "taskUUID is required", "taskUUID")
        try:
            uuid.UUID(str(raw))
        except ValueError:
            raise TaskError("invalidTaskUUID", "taskUUID must be a UUID v4", "taskUUID") from None
        with self.state.lock:
            if ("runware", raw) in self.state.idempotency:
                raise TaskError("conflictTaskUUID", f"A task with taskUUID {raw} already exists", "taskUUID")
            self.state.idempotency[("runware", raw)] = kind
        return raw

    # -- mediaStorage, imageUpload (§2.8) -------------------------------------------------------
    def media_storage(self, req: Request, task: dict) -> dict:
        try:
            check_fields(task, UTILITY_TASKS["mediaStorage"])
        except Invalid as exc:
            raise _task_error(exc) from None
        op, media = task["operation"], task["media"]
        if op == "delete":
            # the SDK's MediaStorageParams names the media in `media` for both operations
            with self.state.lock:
                f = self.state.files.pop(media, None)
            if f is None:
                raise TaskError("invalidMedia", "No media with this mediaUUID", "media")
            return {"taskType": "mediaStorage", "taskUUID": task["taskUUID"], "operation": "delete",
                    "mediaUUID": media}
        if op != "upload":
            raise TaskError("invalidOperation", "operation must be upload or delete", "operation")
        task_uuid = self._new_uuid(task, "mediaStorage")
        f = self._store(media, "media")
        return {"taskType": "mediaStorage", "taskUUID": task_uuid, "operation": "upload", "mediaUUID": f.id,
                "mediaURL": self.state.file_url(f)}

    def image_upload(self, task: dict) -> dict:
        """The older image-only upload (§2.8): `image` as URL, data URI or base64 -> imageUUID."""
        try:
            check_fields(task, UTILITY_TASKS["imageUpload"])
        except Invalid as exc:
            raise _task_error(exc) from None
        task_uuid = self._new_uuid(task, "imageUpload")
        f = self._store(task["image"], "image")
        if not f.content_type.startswith("image/"):
            with self.state.lock:
                self.state.files.pop(f.id, None)
            raise TaskError("invalidImage", "imageUpload takes images only; use mediaStorage", "image")
        return {"taskType": "imageUpload", "taskUUID": task_uuid, "imageUUID": f.id,
                "imageURL": self.state.file_url(f)}

    def _store(self, media: str, field: str):
        """Store a URL / data URI / bare base64 payload; the type is sniffed when not declared."""
        ctype = "application/octet-stream"
        if media.startswith("data:"):
            head, _, payload = media.partition(",")
            ctype = head[5:].split(";")[0] or ctype
            data = _b64(payload, field)
        elif media.startswith(("http://", "https://")):
            try:
                with open(self.state.resolve(media, field), "rb") as fh:
                    data = fh.read()
            except Failure:
                raise TaskError(f"invalid{_cap(field)}", f"The {field} URL could not be downloaded",
                                field) from None
        else:
            data = _b64(media, field)
        if ctype == "application/octet-stream":
            ctype = _sniff(data)
        media_uuid = str(uuid.uuid4())
        ext = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "video/mp4": "mp4",
               "image/png": "png", "image/jpeg": "jpg"}.get(ctype, "bin")
        return self.state.store_file("runware", data, f"{media_uuid}.{ext}", ctype, file_id=media_uuid)

    # -- videoInference (§2.3) ------------------------------------------------------------------
    def video_inference(self, task: dict, key: str) -> dict:
        try:
            spec, extra = self._spec(task)
        except Invalid as exc:
            raise _task_error(exc) from None
        task_uuid = self._new_uuid(task, "videoInference")
        try:
            job = self.state.create_job("runware", spec, key, client_key=task_uuid, job_id=task_uuid, extra=extra)
        except OverLimit as exc:
            with self.state.lock:  # the task was not accepted: its UUID may be used again
                self.state.idempotency.pop(("runware", task_uuid), None)
            retry = str(self.state.setting("runware", "retry_after"))
            raise TaskError(CONCURRENCY_CODE, f"Too many concurrent tasks (limit {exc.limit})", None, 429,
                            {"Retry-After": retry}) from None
        if task.get("webhookURL"):
            # §2.7: same JSON as a response, {"data": [item]} (errors[] for failures).
            webhooks.watch(self.state, job, task["webhookURL"], self._webhook_body)
        return {"taskType": "videoInference", "taskUUID": task_uuid}

    def _webhook_body(self, job) -> dict:
        items, errors = self._items(job)
        return {"errors": errors} if errors else {"data": items}

    def _spec(self, task: dict) -> tuple[JobSpec, dict]:
        air = check_type(require(task, "model"), "model", "string")
        if air not in AIRS:
            raise Invalid("model", "enum", f"Unknown model {air!r}; lip-sync AIRs: {', '.join(AIRS)}")
        model = AIRS[air]
        # the SDK's own field table for this AIR: unknown fields, types and Literal values (§2.3, §8)
        check_fields(task, VIDEO_TASKS[air])
        # docs (models/sync-3, sync-lipsync-2): default and only value "async" [D]
        check_enum(task.get("deliveryMethod", "async"), "deliveryMethod", ("async",))
        fmt = task.get("outputFormat", "MP4").lower()
        if "outputQuality" in task:
            check_range(task["outputQuality"], "outputQuality", 20, 99, integer=True)
        if "ttl" in task:
            check_range(task["ttl"], "ttl", 60, None, integer=True)
        n = check_range(task.get("numberResults", 1), "numberResults", 1, 4, integer=True)
        if "safety" in task:
            safety = task["safety"]
            check_keys(safety, ("checkContent", "mode"), "safety")
            if "checkContent" in safety:
                check_type(safety["checkContent"], "safety.checkContent", "bool")
            if "mode" in safety:
                check_enum(safety["mode"], "safety.mode", ("none", "fast", "full"))
        inputs = task["inputs"]
        allowed = ("video", "audio", "audios", "speech") if model == "sync-3" else ("video", "audio", "audios")
        check_keys(inputs, allowed, "inputs")
        video = check_type(require(inputs, "video", "inputs"), "inputs.video", "string")
        audios = parse_audios(inputs)
        if model == "sync-3":
            settings, sync_mode, where = self._sync3_settings(task, inputs)
        else:
            settings, sync_mode, where = self._sync2_settings(task)
        if "temperature" in settings:
            check_range(settings["temperature"], f"{where}.temperature", 0, 1)
        speaker = parse_speaker(settings.get("activeSpeakerDetection"), f"{where}.activeSpeakerDetection")
        if inputs.get("speech") is not None:
            audios += parse_speech(inputs["speech"])
        segments = parse_segments(settings.get("segments"), audios, f"{where}.segments")
        if not audios:
            raise Invalid("inputs.audio", "missing", "inputs.audio is required")
        spec = JobSpec(model, video, audios, sync_mode, segments, speaker,
                       {"providerSettings": task.get("providerSettings"), "settings": task.get("settings")},
                       number_results=n, output_format=fmt)
        return spec, {"include_cost": task.get("includeCost", False)}

    @staticmethod
    def _sync3_settings(task: dict, inputs: dict) -> tuple[dict, str, str]:
        settings = task.get("settings") or {}
        check_keys(settings, SYNC3_KEYS, "settings")
        # §2.3: syncMode for sync-3 has no "loop"; default cut_off.
        sync_mode = check_enum(settings.get("syncMode", "cut_off"), "settings.syncMode",
                               ("bounce", "cut_off", "silence", "remap"))
        if "emotion" in settings:
            check_enum(settings["emotion"], "settings.emotion", EMOTIONS)
        if "mode" in settings:
            check_enum(settings["mode"], "settings.mode", ("lips", "face", "head"))
        if "occlusionDetection" in settings:
            check_type(settings["occlusionDetection"], "settings.occlusionDetection", "bool")
        speech = inputs.get("speech")
        if "tts" in settings:
            if speech is None:
                raise Invalid("settings.tts", "conflict", "settings.tts requires inputs.speech")
            runware_tts_settings(settings["tts"])
        sources = sum(x is not None for x in (inputs.get("audio") or inputs.get("audios"), speech,
                                              settings.get("segments")))
        if sources != 1:
            raise Invalid("inputs.audio", "conflict",
                          "Use exactly one of inputs.audio, inputs.speech, settings.segments")
        return settings, sync_mode, "settings"

    @staticmethod
    def _sync2_settings(task: dict) -> tuple[dict, str, str]:
        ps = task.get("providerSettings") or {}
        check_keys(ps, ("sync",), "providerSettings")
        settings = check_type(ps.get("sync") or {}, "providerSettings.sync", "object")
        check_keys(settings, SYNC2_KEYS, "providerSettings.sync")
        # §2.3: lipsync-2 / 2-pro default to bounce.
        sync_mode = check_enum(settings.get("syncMode", "bounce"), "providerSettings.sync.syncMode",
                               ("bounce", "loop", "cut_off", "silence", "remap"))
        for flag in ("occlusionDetectionEnabled", "occlusionDetection"):
            if flag in settings:
                check_type(settings[flag], f"providerSettings.sync.{flag}", "bool")
        return settings, sync_mode, "providerSettings.sync"

    # -- getResponse (§2.4) ---------------------------------------------------------------------
    def get_response(self, task: dict, key: str) -> tuple[list, list]:
        try:
            check_fields(task, UTILITY_TASKS["getResponse"])
        except Invalid as exc:
            raise _task_error(exc) from None
        task_uuid = task["taskUUID"]
        job = self.state.get_job("runware", task_uuid)
        if job is None or job.api_key != key:
            raise TaskError("taskFailedOrNotFound", f"No task with taskUUID {task_uuid}", "taskUUID")
        self.state.on_poll(job)
        return self._items(job)

    def _items(self, job) -> tuple[list, list]:
        """Cumulative result items of a task (or its errors), as getResponse returns them."""
        status = job.status()
        base = {"taskType": "videoInference", "taskUUID": job.id}
        if status in (FAILED, REJECTED):
            err = job.error()
            code, message = FAILURE_CODES.get(err.kind, FAILURE_CODES["pipeline"])
            code, message = err.code or code, err.message or message
            # Both failure shapes exist (§2.4); a fault may pick one with params shape="item"|"errors".
            shape = job.extra.get("fault_params", {}).get("shape") or self.state.setting("runware",
                                                                                         "runware_error_shape")
            if shape == "item":
                return [dict(base, status="error", error={"code": code, "message": message})], []
            return [], [dict(base, code=code, message=message, documentation=DOCS_URL)]
        if status != COMPLETED:
            return [dict(base, status="processing")], []
        items = []
        urls = self.state.output_urls(job)
        seconds = job.info.get("audio_seconds", {})
        audio_s = seconds.get(job.spec.audios[0].id, 0.0) if job.spec.segments == [] else \
            job.info.get("output_seconds", 0.0)
        for i, fid in enumerate(job.outputs):
            item = dict(base, status="success", videoUUID=_uuid_of(fid), seed=12345 + i)
            if i < len(urls):
                item["videoURL"] = urls[i]
            if job.extra["include_cost"]:  # §2.4: cost only with includeCost
                item["cost"] = round(audio_s * PRICE_PER_AUDIO_SECOND[job.spec.model], 4)
            items.append(item)
        return items, []


def _b64(payload: str, field: str = "media") -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise TaskError(f"invalid{_cap(field)}", f"{field} must be a URL, a data URI or base64", field) from None


def _uuid_of(file_id: str) -> str:
    """Stored files have 32-hex ids; result items carry them as UUIDs (videoUUID, §2.4)."""
    try:
        return str(uuid.UUID(file_id))
    except ValueError:
        return file_id


def _sniff(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return "audio/mpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return "application/octet-stream"
