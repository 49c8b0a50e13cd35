"""sync.so direct API (docs/providers.md §1).

Uploads use the asset flow (§1.14: presign -> PUT -> register); inputs are then passed by URL.
Submits carry the caller's `Idempotency-Key` (§1.11), so they are retried like GETs; a 503
`IDEMPOTENCY_OUTCOME_UNKNOWN` with a `generationId` is polled, never re-keyed. Polls use the
long-poll `wait=true` (§1.8) and its `Retry-After` hint. Paths: client/endpoints.py (SYNC).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from .. import endpoints
from ..capabilities import default_sync_mode
from ..errors import JobFailed, LipsyncError, OutcomeUnknown
from ..events import JobState
from ..models import ActiveSpeaker, JobRequest, from_plain
from ..transport import check_url
from ..uploads import ProgressReader
from .base import (
    PollResult, Progress, Provider, RemoteRef, as_float as _float, as_fraction as _fraction, body_json,
    content_type, crop_segments, error_for_status, flatten,
)

STATES = {
    "PENDING": JobState.QUEUED,
    "QUEUED": JobState.QUEUED,
    "PROCESSING": JobState.PROCESSING,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "REJECTED": JobState.REJECTED,
    "CANCELED": JobState.CANCELLED,
    "CANCELLED": JobState.CANCELLED,
    "TIMED_OUT": JobState.FAILED,
}


class SyncProvider(Provider):
    name = "sync"
    idempotent_submit = True
    poll_interval = (1.0, 10.0)
    #: long-poll seconds (1..10, §1.8); the server answers early when the job ends
    long_poll = 10

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.config.api_key}

    # -- upload --------------------------------------------------------------------------------

    def upload(self, path: str, kind: str, progress: Progress) -> str:
        ctype = content_type(path, kind)
        size = os.path.getsize(path)
        presign = self.json_of(self.call("POST", endpoints.path("sync", "presign"), safe=True, json={
            "fileName": os.path.basename(path), "contentType": ctype, "size": size}))
        upload_url = presign.get("uploadUrl")
        public_url = presign.get("url")
        if not upload_url or not public_url:
            raise LipsyncError("the upload answer had no uploadUrl/url", self.name)
        # a presigned storage URL: it carries its own signature, so no key is sent to it
        check_url(upload_url, "upload URL", self.name)

        def body() -> dict[str, Any]:
            return {"content": ProgressReader(path, progress)}

        self.http.request("PUT", upload_url, safe=True, parse_error=self.parse_error, body=body,
                          headers={"Content-Type": ctype, "Content-Length": str(size)})
        asset = body_json(self.call("POST", endpoints.path("sync", "register"), safe=True, json={
            "url": public_url, "type": kind.upper(), "name": os.path.basename(path)}))
        # the registered asset's URL when given, else the presign answer's (§1.14 practitioner note)
        if isinstance(asset, dict) and asset.get("url"):
            return str(asset["url"])
        return str(public_url)

    def find_uploaded(self, path: str, kind: str, sha256: str) -> str | None:
        """sync.so remembers uploads by content hash per key (§1.14 dedup); a miss or an old
        server without the route just means "upload it"."""
        try:
            data = body_json(self.call("GET", endpoints.path("sync", "find_uploaded"), safe=True,
                                       params={"contentSha256": sha256, "type": kind.upper()}))
        except LipsyncError:
            return None
        asset = data.get("asset") if isinstance(data, dict) else None
        url = asset.get("url") if isinstance(asset, dict) else None
        return str(url) if url else None

    # -- submit --------------------------------------------------------------------------------

    def body(self, req: JobRequest, refs: dict[str, str]) -> dict[str, Any]:
        o = req.options
        inputs: list[dict[str, Any]] = [{"type": "video", "url": refs["video"]}]
        seg_list = crop_segments(req)
        multi = bool(seg_list)
        for a in req.audio:
            item: dict[str, Any] = {"type": "audio", "url": refs[a.id]}
            if multi:
                item["refId"] = a.id
            inputs.append(item)
        for t in req.text:
            item = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": t.voice, "script": t.text}}
            if multi:
                item["refId"] = t.id
            inputs.append(item)
        options: dict[str, Any] = {"sync_mode": o.sync_mode or self.default_mode(req)}
        if o.temperature is not None:
            options["temperature"] = o.temperature
        if o.active_speaker is not None:
            options["active_speaker_detection"] = speaker_json(o.active_speaker)
        if o.occlusion_detection is not None:
            options["occlusion_detection_enabled"] = o.occlusion_detection
        body: dict[str, Any] = {"model": self.remote_model(req.model), "input": inputs, "options": options}
        segments = []
        crops = {a.id: (a.start, a.end) for a in req.audio}
        for s in seg_list:
            audio: dict[str, Any] = {"refId": s.audio_id}
            start, end = ((s.audio_start, s.audio_end) if s.audio_start is not None
                          else crops.get(s.audio_id, (None, None)))
            if start is not None:
                audio.update(startTime=start, endTime=end)
            seg: dict[str, Any] = {"startTime": s.start, "endTime": s.end, "audioInput": audio}
            if s.options_override:
                seg["optionsOverride"] = override_json(s.options_override)
            segments.append(seg)
        if segments:
            body["segments"] = segments
        return body

    def default_mode(self, req: JobRequest) -> str:
        return default_sync_mode(self.name, req.model)

    def submit(self, request: JobRequest, refs: dict[str, str]) -> RemoteRef:
        body = self.body(request, refs)
        try:
            response = self.call("POST", endpoints.path("sync", "submit"), safe=True, json=body,
                                 headers={"Idempotency-Key": request.client_key})
        except OutcomeUnknown as exc:
            generation = getattr(exc, "generation_id", None)
            if generation:
                return RemoteRef(str(generation), {"idempotency_key": request.client_key})
            raise
        data = self.json_of(response)
        gen_id = data.get("id") if isinstance(data, dict) else None
        if not gen_id:
            raise OutcomeUnknown("the submit answer carried no generation id; resubmit with the same "
                                 "idempotency key to find it", self.name)
        return RemoteRef(str(gen_id), {"idempotency_key": request.client_key})

    def estimate_cost(self, request: JobRequest, refs: dict[str, str]) -> float | None:
        """sync.so's own estimate (POST /v2/analyze/cost, §1.2): an array of one estimate."""
        data = self.json_of(self.call("POST", endpoints.path("sync", "estimate"), safe=True,
                                      json=self.body(request, refs)))
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict) and data.get("estimatedGenerationCost") is not None:
            return float(data["estimatedGenerationCost"])
        return None

    # -- poll ----------------------------------------------------------------------------------

    def poll(self, ref: RemoteRef) -> PollResult:
        # never hold the line longer than our own longest pause, so cancels stay responsive
        hold = int(max(1, min(self.long_poll, self.poll_interval[1])))
        response = self.call("GET", endpoints.path("sync", "poll", id=ref.remote_id), safe=True,
                             params={"wait": "true", "timeout": str(hold)})
        data = self.json_of(response)
        if not isinstance(data, dict):
            raise LipsyncError("unexpected generation answer", self.name)
        status = str(data.get("status", "")).upper()
        state = STATES.get(status, JobState.UNKNOWN if not status else JobState.PROCESSING)
        progress = data.get("progress")
        if isinstance(progress, dict):
            progress = progress.get("percent")
        progress = _fraction(progress)
        result = PollResult(state=state, progress=progress, message=status.lower())
        # long-poll already waited; Retry-After says when to come back (§1.8)
        hint = response.headers.get("retry-after")
        if hint and response.headers.get("x-sync-wait-mode") == "long_poll":
            try:
                result.retry_after = min(float(hint), 10.0)
            except ValueError:
                pass
        if state is JobState.COMPLETED:
            url = data.get("outputMediaUrl") or data.get("outputUrl")
            result.outputs = [url] if url else []
            result.output_seconds = _float(data.get("outputDuration"))
        elif state in (JobState.FAILED, JobState.REJECTED, JobState.CANCELLED):
            code = data.get("error_code") or data.get("errorCode")
            message = flatten(data.get("error")) or f"generation {status.lower()}"
            result.error = JobFailed(code, message, self.name, rejected=state is JobState.REJECTED)
        return result

    # -- errors --------------------------------------------------------------------------------

    def parse_error(self, response: httpx.Response) -> LipsyncError:
        data = body_json(response)
        code = message = None
        if isinstance(data, dict):
            code = data.get("errorCode") or data.get("error_code") or data.get("code")
            message = flatten(data.get("message")) or flatten(data.get("error"))
            if data.get("suggestion"):
                message = f"{message} — {data['suggestion']}"
            if (isinstance(code, str) and code.startswith("IDEMPOTENCY_") and code != "INVALID_IDEMPOTENCY_KEY"
                    and response.status_code in (409, 422)):
                # the key is already bound to a job created from another body (§1.11): that job
                # exists and may be billed, so this is not a refusal to be retried under a new key
                return OutcomeUnknown(f"sync.so already holds a job under this idempotency key, created from a "
                                      f"different request ({code}); it was not sent again", self.name,
                                      status=response.status_code)
            if code == "IDEMPOTENCY_OUTCOME_UNKNOWN" and response.status_code == 503:
                err = OutcomeUnknown(f"sync.so could not tell whether the submit was accepted: {message}",
                                     self.name, status=503)
                err.generation_id = data.get("generationId")  # type: ignore[attr-defined]
                if not err.generation_id:  # type: ignore[attr-defined]
                    return error_for_status(self.name, response, code, message or "")
                return err
        elif response.text:
            message = response.text[:300]
        return error_for_status(self.name, response, code, message or "")


def speaker_json(a) -> dict[str, Any]:
    if a.boxes is not None:
        return {"bounding_boxes": a.boxes}
    if a.point is not None:
        return {"frame_number": a.frame, "coordinates": list(a.point)}
    return {"auto_detect": bool(a.auto)}


def override_json(override: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in override.items():
        if key == "active_speaker":
            speaker = from_plain(ActiveSpeaker, value, "options_override.active_speaker")
            out["active_speaker_detection"] = speaker_json(speaker)
        elif key == "occlusion_detection":
            out["occlusion_detection_enabled"] = bool(value)
        else:
            out[key] = value
    return out
