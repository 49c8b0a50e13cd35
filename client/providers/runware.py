"""Runware REST (docs/providers.md §2): one POST endpoint taking a JSON array of tasks.

The job id is the caller's `taskUUID` (request.client_key). Re-sending it is safe: Runware
answers `conflictTaskUUID`, which means "already accepted", and we poll it (§2.6). Local files
are sent through `mediaStorage` as bare base64, as both Runware SDKs do (the service sniffs the
format from the bytes, §2.8) — the only way Runware takes bytes, hence the one place a whole file
is read into memory. Model ids and the path come from client/endpoints.py (RUNWARE).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

import httpx

from .. import endpoints
from ..capabilities import default_sync_mode
from ..errors import AuthError, InputError, JobFailed, LipsyncError, ProviderUnavailable, QuotaExceeded
from ..events import JobState
from ..models import JobRequest
from .base import (
    PollResult, Progress, Provider, RemoteRef, as_float, as_fraction, body_json, crop_segments, error_for_status,
    flatten,
)

MAX_INLINE_BYTES = 512 * 1024 * 1024

STATES = {
    "queued": JobState.QUEUED, "pending": JobState.QUEUED, "scheduled": JobState.QUEUED,
    "waiting": JobState.QUEUED, "processing": JobState.PROCESSING, "success": JobState.COMPLETED,
    "completed": JobState.COMPLETED, "error": JobState.FAILED, "failed": JobState.FAILED,
}


class _Conflict(LipsyncError):
    """conflictTaskUUID: the task already exists — for a submit that means it was accepted."""


class RunwareProvider(Provider):
    name = "runware"
    idempotent_submit = True
    poll_interval = (1.0, 10.0)  # docs: backoff from 1-2 s (§2.4)

    def post(self, tasks: list[dict[str, Any]], *, safe: bool = True, body=None) -> Any:
        kwargs: dict[str, Any] = {"body": body} if body else {"json": tasks}
        response = self.call("POST", endpoints.path("runware", "tasks"), safe=safe,
                             headers={"Content-Type": "application/json"}, **kwargs)
        return self.json_of(response)

    # -- upload --------------------------------------------------------------------------------

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        size = os.path.getsize(path)
        if size > MAX_INLINE_BYTES:
            raise InputError(f"{os.path.basename(path)} is {size} bytes; Runware takes uploads as base64 "
                             f"and this client caps them at {MAX_INLINE_BYTES} bytes", self.name)
        with open(path, "rb") as f:
            # bare base64, no `data:` prefix: a guessed MIME type (audio/x-wav) can only be wrong
            media = base64.b64encode(f.read()).decode("ascii")

        def body() -> dict[str, Any]:
            # a fresh taskUUID per attempt: a retried upload must not collide with a half-done one
            task = {"taskType": "mediaStorage", "taskUUID": str(uuid.uuid4()), "operation": "upload",
                    "media": media}
            return {"content": json.dumps([task]).encode()}

        data = self.post([], body=body)
        progress(size, size)
        self.raise_errors(data)
        for item in data.get("data") or []:
            ref = item.get("mediaUUID") or item.get("mediaURL")
            if ref:
                return str(ref)
        raise LipsyncError("the mediaStorage answer carried no mediaUUID", self.name)

    # -- submit --------------------------------------------------------------------------------

    def task(self, req: JobRequest, refs: dict[str, str]) -> dict[str, Any]:
        o = req.options
        task: dict[str, Any] = {
            "taskType": "videoInference", "taskUUID": req.client_key, "model": self.remote_model(req.model),
            "deliveryMethod": "async", "outputType": "URL", "includeCost": bool(o.include_cost),
            "numberResults": o.number_results,
        }
        if o.output_format:
            task["outputFormat"] = o.output_format.upper()
        if o.output_quality is not None:
            task["outputQuality"] = o.output_quality
        if o.ttl is not None:
            task["ttl"] = o.ttl
        if o.safety_check is not None:
            task["safety"] = {"checkContent": bool(o.safety_check)}
        settings = self.settings(req)
        task["inputs"] = self.inputs(req, refs, settings)
        if req.model == "sync-3":
            task["settings"] = settings
        else:
            task["providerSettings"] = {"sync": settings}
        return task

    def settings(self, req: JobRequest) -> dict[str, Any]:
        """The model settings (sync-3: top-level `settings`; lipsync-2: `providerSettings.sync`)."""
        o = req.options
        settings: dict[str, Any] = {"syncMode": o.sync_mode or default_sync_mode(self.name, req.model)}
        if o.temperature is not None:
            settings["temperature"] = o.temperature
        if o.active_speaker is not None:
            settings["activeSpeakerDetection"] = speaker_json(o.active_speaker)
        if o.occlusion_detection is not None:
            key = "occlusionDetection" if req.model == "sync-3" else "occlusionDetectionEnabled"
            settings[key] = o.occlusion_detection
        if o.emotion is not None:
            settings["emotion"] = o.emotion
        if o.mode is not None:
            settings["mode"] = o.mode
        return settings

    def inputs(self, req: JobRequest, refs: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
        """`inputs` (video, one audio or TTS speech); segments go into `settings.segments`."""
        inputs: dict[str, Any] = {"video": refs["video"]}
        segments = crop_segments(req)
        if segments:
            # the documented segment form (§2.3, seed 000): each carries its audio URL/UUID itself,
            # so neither inputs.audio nor the SDK's `ref` ids are needed (sync-3 wants exactly one source)
            crops = {a.id: (a.start, a.end) for a in req.audio}
            settings["segments"] = [segment_json(s, refs, crops) for s in segments]
        elif req.audio:
            inputs["audio"] = refs[req.audio[0].id]
        if req.text:
            # sync-3 TTS: `inputs.speech`, a list of {id, provider, voiceId, text} (§2.3: the SDK's
            # Sync3Params has no top-level `speech`; the item shape is the SDK's ISpeechInput), and
            # the voice settings in `settings.tts` (§2.3, "settings.tts requires speech"). One line
            # per job: capabilities.validate refuses more (client/speech.py ONE_SOURCE).
            t = req.text[0]
            inputs["speech"] = [{"id": t.id, "provider": t.provider, "voiceId": t.voice, "text": t.text}]
            settings["tts"] = tts_json(t)
        return inputs

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        ref = RemoteRef(request.client_key, {"number_results": request.options.number_results})
        try:
            data = self.post([self.task(request, refs)], safe=True)
            self.raise_errors(data, request.client_key)
        except _Conflict:
            pass  # accepted by an earlier attempt (§2.6): poll it
        return ref

    # -- poll ----------------------------------------------------------------------------------

    def poll(self, ref: RemoteRef) -> PollResult:
        try:
            data = self.post([{"taskType": "getResponse", "taskUUID": ref.remote_id}])
            self.raise_errors(data, ref.remote_id)
        except JobFailed as exc:
            return PollResult(JobState.REJECTED if exc.rejected else JobState.FAILED, error=exc)
        items = [i for i in data.get("data") or [] if i.get("taskUUID") in (None, ref.remote_id)
                 and i.get("taskType", "videoInference") == "videoInference"]
        wanted = int(ref.extra.get("number_results") or 1)
        done = [i for i in items if i.get("videoURL") or i.get("mediaURL")
                or str(i.get("status", "")).lower() in ("success", "completed")]
        for item in items:
            if str(item.get("status", "")).lower() in ("error", "failed") or item.get("error"):
                err = item.get("error") or {}
                if not isinstance(err, dict):
                    err = {"message": str(err)}
                return PollResult(JobState.FAILED, error=self.task_error(err.get("code"), err.get("message")))
        if done and len(done) >= wanted:
            outputs = [str(i.get("videoURL") or i.get("mediaURL")) for i in done]
            costs = [as_float(i.get("cost")) for i in done]
            cost = round(sum(c for c in costs if c is not None), 6) if any(c is not None for c in costs) else None
            return PollResult(JobState.COMPLETED, outputs=[u for u in outputs if u and u != "None"], cost=cost,
                              output_seconds=as_float(done[0].get("duration")))
        if not items:
            return PollResult(JobState.QUEUED, message="queued")
        status = str(items[0].get("status", "processing")).lower()
        progress = as_fraction(items[0].get("progress"))
        if done:
            progress = len(done) / wanted
        return PollResult(STATES.get(status, JobState.PROCESSING), progress=progress, message=status)

    # -- errors --------------------------------------------------------------------------------

    def raise_errors(self, data: Any, task_uuid: str | None = None) -> None:
        """Top-level `errors[]` may come with HTTP 200 (§2.4 shape 1)."""
        if not isinstance(data, dict):
            raise LipsyncError("unexpected answer (not a JSON object)", self.name)
        errors = [e for e in data.get("errors") or [] if isinstance(e, dict)]
        if task_uuid:
            errors = [e for e in errors if e.get("taskUUID") in (None, task_uuid)] or errors
        if errors:
            e = errors[0]
            raise self.task_error(e.get("code"), e.get("message"), e.get("parameter"))

    def task_error(self, code: Any, message: Any, parameter: Any = None, status: int | None = None) -> LipsyncError:
        code = str(code or "")
        text = flatten(message) or code or "unknown error"
        if parameter:
            text = f"{text} (parameter {parameter})"
        low = code.lower()
        if code == "conflictTaskUUID":
            return _Conflict(text, self.name)
        if "apikey" in low or low in ("unauthorized", "forbidden"):
            return AuthError(f"the API key was refused: {text}", self.name, status=status)
        if any(w in low for w in ("credit", "balance", "quota")):
            return QuotaExceeded(text, self.name, status=status)
        if low.startswith(("invalid", "missing", "unsupported", "unknownmodel")):
            return InputError(f"{text} ({code})", self.name, status=status)
        if "nsfw" in low or "contentpolicy" in low:
            return JobFailed(code, text, self.name, rejected=True, status=status)
        if low.startswith("timeoutprovider") or low == "serviceunavailable":
            return ProviderUnavailable(f"{text} ({code})", self.name, status=status)
        return JobFailed(code or None, text, self.name, status=status)

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        data = body_json(response)
        status = response.status_code
        if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
            e = data["errors"][0] if isinstance(data["errors"][0], dict) else {"message": str(data["errors"][0])}
            if status in (401, 403, 429) or status >= 500:
                return error_for_status(self.name, response, e.get("code"), flatten(e.get("message")))
            return self.task_error(e.get("code"), e.get("message"), e.get("parameter"), status)
        return super().parse_error(response)


def tts_json(t) -> dict[str, Any]:
    """sync-3 `settings.tts`: {provider (default elevenlabs), stability 0-1, similarityBoost 0-1} (§2.3)."""
    tts: dict[str, Any] = {"provider": t.provider}
    if t.stability is not None:
        tts["stability"] = t.stability
    if t.similarity_boost is not None:
        tts["similarityBoost"] = t.similarity_boost
    return tts


def speaker_json(a) -> Any:
    if a.boxes is not None:
        return {"boundingBoxes": a.boxes}
    if a.point is not None:
        return {"frameNumber": a.frame, "coordinates": list(a.point)}
    return {"autoDetect": bool(a.auto)}


def segment_json(s, refs: dict[str, str], crops: dict) -> dict[str, Any]:
    seg: dict[str, Any] = {"startTime": s.start, "endTime": s.end, "audio": refs[s.audio_id]}
    start, end = (s.audio_start, s.audio_end) if s.audio_start is not None else crops.get(s.audio_id, (None, None))
    if start is not None:
        seg.update(audioStartTime=start, audioEndTime=end)
    return seg
