"""Which options exist for each provider x model, their defaults, and request validation.

Everything here comes from docs/providers.md; the section is cited next to each entry. The
providers' own model ids come from client/endpoints.py (one table per provider, checked against
the official SDKs). `validate()`
runs before any upload, so a request that a provider would reject (or silently ignore) fails at
once with a sentence naming the option, the model and the provider.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import uuid

from .config import LABELS, MODELS, PROVIDERS
from .endpoints import WIRES
from .errors import InputError
from .media_info import duration
from .models import EMOTIONS, FACE_MODES, OUTPUT_FORMATS, SYNC_MODES, JobRequest
from .speech import check_sources, check_text_input

# Canonical option names used in messages, `supports()` and the capability table.
OPTIONS = (
    "sync_mode", "temperature", "active_speaker", "active_speaker.point", "active_speaker.boxes",
    "occlusion_detection", "emotion", "mode", "text", "tts_settings", "segments", "segments.options_override",
    "audio_crop", "output_format", "output_quality", "number_results", "safety_check", "ttl",
    "include_cost",
)


@dataclasses.dataclass(frozen=True)
class ModelCaps:
    provider: str
    model: str
    remote_model: str  # the provider's own id / path for this model
    options: frozenset[str]
    sync_modes: tuple[str, ...]
    default_sync_mode: str
    #: why an option is missing, when the reference says something more useful than "not supported"
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)
    #: option keys a segment may override (sync.so optionsOverride, docs/providers.md §1.5 [U])
    override_keys: frozenset[str] = frozenset()


def _caps(provider, model, options, default, modes=SYNC_MODES, reasons=None, overrides=()):
    return ModelCaps(provider, model, WIRES[provider].models[model], frozenset(options), tuple(modes), default,
                     dict(reasons or {}), frozenset(overrides))


_ASD = ("active_speaker", "active_speaker.point", "active_speaker.boxes")
_RUNWARE_OUT = ("output_format", "output_quality", "number_results", "safety_check", "ttl", "include_cost")
_SYNC3_TEMP = "sync-3 ignores temperature (docs/providers.md §1.4)"
_SYNC3_OCC = "sync-3 handles occlusion automatically"

_TABLE: dict[tuple[str, str], ModelCaps] = {}
_KEY_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")


def _add(c: ModelCaps) -> None:
    _TABLE[(c.provider, c.model)] = c


# sync.so direct (§1.3–1.5): server default sync_mode not stated [U] -> cut_off like the hosts.
# Text (TTS, docs/providers.md §1.3): an input item of every sync.so model, with an ElevenLabs voice
# id and its stability / similarityBoost (syncsdk 0.3.0 `ElevenLabs`).
_SYNC_COMMON = ("sync_mode", "text", "tts_settings", "segments", "audio_crop")
_add(_caps("sync", "lipsync-1.9.0-beta", _SYNC_COMMON, "cut_off",
           reasons={"temperature": "only lipsync-2 and lipsync-2-pro take temperature (docs/providers.md §1.4)"}))
for _m in ("lipsync-2", "lipsync-2-pro"):
    _add(_caps("sync", _m, _SYNC_COMMON + ("temperature", "occlusion_detection", "segments.options_override") + _ASD,
               "cut_off", overrides=("temperature", "active_speaker", "occlusion_detection")))
_add(_caps("sync", "sync-3", _SYNC_COMMON + _ASD + ("segments.options_override",), "cut_off",
           reasons={"temperature": _SYNC3_TEMP, "occlusion_detection": _SYNC3_OCC,
                    "emotion": "sync.so documents emotion only for react-1; use Runware for sync-3 emotion"},
           overrides=("active_speaker",)))

# Runware (§2.2–2.3): lipsync-2 defaults to bounce; sync-3 uses `settings`, has no loop, adds
# emotion/mode and TTS (`inputs.speech`). No lipsync-1.9.0-beta on Runware.
for _m in ("lipsync-2", "lipsync-2-pro"):
    _add(_caps("runware", _m,
               ("sync_mode", "temperature", "occlusion_detection", "segments", "audio_crop") + _ASD + _RUNWARE_OUT,
               "bounce", reasons={"text": "Runware takes TTS input only for sync-3 (docs/providers.md §2.3)",
                                 "tts_settings": "Runware takes TTS settings only for sync-3"}))
# sync-3 AIR `sync:3@0` (SDK registry and docs, §2.2), overridable by LIPSYNC_RUNWARE_SYNC3_AIR.
_add(_caps("runware", "sync-3",
           ("sync_mode", "temperature", "occlusion_detection", "emotion", "mode", "text", "tts_settings", "segments",
            "audio_crop") + _ASD + _RUNWARE_OUT,
           "cut_off", modes=("bounce", "cut_off", "silence", "remap"),
           reasons={"sync_mode=loop": "sync-3 on Runware has no loop mode (docs/providers.md §2.3)"}))

# WaveSpeed (§3.2): only video, audio, sync_mode (default cut_off) are documented.
_WS_REASON = "WaveSpeedAI documents only video, audio and sync_mode (docs/providers.md §3.2)"
for _m in ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3"):
    _add(_caps("wavespeed", _m, ("sync_mode",), "cut_off",
               reasons={o: _WS_REASON for o in ("temperature", "active_speaker", "occlusion_detection", "text",
                                                 "tts_settings")}))

# FoxAPI (§4.2): default loop; temperature and active_speaker (bool) only for lipsync-2/2-pro.
_FOX_TEXT = "FoxAPI documents no text-to-speech input (docs/providers.md §4.2)"
for _m in ("lipsync-2", "lipsync-2-pro"):
    _add(_caps("foxapi", _m, ("sync_mode", "temperature", "active_speaker"), "loop",
               reasons={"active_speaker.point": "FoxAPI's active_speaker is a plain on/off switch",
                        "active_speaker.boxes": "FoxAPI's active_speaker is a plain on/off switch",
                        "text": _FOX_TEXT, "tts_settings": _FOX_TEXT}))
_add(_caps("foxapi", "sync-3", ("sync_mode",), "loop",
           reasons={"text": _FOX_TEXT, "tts_settings": _FOX_TEXT,
                    "temperature": "FoxAPI takes temperature only for lipsync-2 and lipsync-2-pro "
                                   "(docs/providers.md §4.2)",
                    "active_speaker": "FoxAPI takes active_speaker only for lipsync-2 and lipsync-2-pro "
                                      "(docs/providers.md §4.2)"}))

# fal (§5.1): one endpoint per model family; only sync_mode (default cut_off) is documented.
for _m in ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3"):
    _add(_caps("fal", _m, ("sync_mode",), "cut_off",
               reasons={o: "fal's sync endpoints take only video_url, audio_url and sync_mode (docs/providers.md §5.1)"
                        for o in ("text", "tts_settings")}))


# Providers with their own price endpoint (sync.so `POST /v2/analyze/cost`, docs/providers.md §1.2):
# their Provider class has `estimate_cost`. Kept here, not looked up on the class, so the
# panel's poll can ask without importing a provider module (httpx) on Blender's main thread.
COST_ENDPOINT = frozenset({"sync"})

# Longest input a provider takes, seconds. sync.so: audio > 300 s fails with
# generation_audio_length_exceeded (docs/providers.md §1.13, 2025 docs; plans allow 20 s .. 30 min).
# The hosts resell the same models and document no limit of their own [U]: the same 300 s.
# Configurable per provider: LIPSYNC_<PROVIDER>_MAX_SECONDS (e.g. on a Scale plan).
MAX_SECONDS = {p: 300.0 for p in PROVIDERS}


def max_seconds(provider: str) -> float:
    value = os.environ.get(f"LIPSYNC_{provider.upper()}_MAX_SECONDS", "").strip()
    try:
        return float(value) if value else MAX_SECONDS[provider]
    except ValueError:
        return MAX_SECONDS[provider]


def check_durations(provider: str, model: str, video_seconds: float | None,
                    audio_seconds: float | None = None) -> None:
    """InputError when the video or the audio is longer than the provider takes (before upload)."""
    limit = max_seconds(provider)
    for what, seconds in (("video", video_seconds), ("audio", audio_seconds)):
        if seconds is not None and seconds > limit + 1e-6:
            raise InputError(f"the {what} lasts {seconds:.1f} s; {model} on {LABELS[provider]} takes at most "
                             f"{limit:g} s: split the shot (or raise LIPSYNC_{provider.upper()}_MAX_SECONDS "
                             "if your plan allows longer jobs)", provider)


def models_for(provider: str) -> list[str]:
    return [m for m in MODELS if (provider, m) in _TABLE]


def caps(provider: str, model: str) -> ModelCaps:
    _check_pair(provider, model)
    return _TABLE[(provider, model)]


def default_sync_mode(provider: str, model: str) -> str:
    return caps(provider, model).default_sync_mode


def supports(provider: str, model: str, option: str) -> tuple[bool, str]:
    """(True, "") or (False, a sentence saying why). `option` may be "sync_mode=loop"."""
    try:
        c = caps(provider, model)
    except InputError as exc:
        return False, exc.message
    if option.startswith("sync_mode="):
        mode = option.split("=", 1)[1]
        if mode in c.sync_modes:
            return True, ""
        why = c.reasons.get(option) or f"{model} on {LABELS[provider]} accepts {', '.join(c.sync_modes)}"
        return False, f"sync_mode {mode!r} is not supported by {model} on {LABELS[provider]}: {why}"
    if option in c.options:
        return True, ""
    why = c.reasons.get(option)
    text = f"{option} is not supported by {model} on {LABELS[provider]}"
    return False, f"{text}: {why}" if why else text


def all_caps() -> list[ModelCaps]:
    """Every provider x model this client offers, in table order."""
    return list(_TABLE.values())


def _check_pair(provider: str, model: str) -> None:
    if provider not in PROVIDERS:
        raise InputError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}", provider)
    if (provider, model) not in _TABLE:
        raise InputError(f"{model} is not offered on {LABELS[provider]} "
                         f"(available: {', '.join(models_for(provider))})", provider)


def _require(req: JobRequest, option: str) -> None:
    ok, why = supports(req.provider, req.model, option)
    if not ok:
        raise InputError(why, req.provider)


def _range(req: JobRequest, name: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
        raise InputError(f"{name} {value} is out of range for {req.model} on {LABELS[req.provider]}: "
                         f"use {lo:g} to {hi:g}", req.provider)


def _crop(req: JobRequest, where: str, start, end) -> bool:
    if (start is None) != (end is None):
        raise InputError(f"{where}: audio start and end must be given together "
                         f"({req.model} on {LABELS[req.provider]})", req.provider)
    if start is None:
        return False
    if start < 0 or end <= start:
        raise InputError(f"{where}: audio crop {start}..{end} is not a positive range "
                         f"({req.model} on {LABELS[req.provider]})", req.provider)
    return True


def _check_local_durations(req: JobRequest) -> None:
    """Durations of local inputs from their headers (no ffmpeg); URLs and unknown formats pass."""
    def seconds(path: str) -> float | None:
        return duration(path) if path and os.path.isfile(path) else None

    audio = [seconds(a.path) for a in req.audio]
    check_durations(req.provider, req.model, seconds(req.video),
                    max((a for a in audio if a is not None), default=None))


def validate(req: JobRequest) -> None:
    """Raise InputError for anything this provider x model cannot do; return None otherwise."""
    c = caps(req.provider, req.model)
    _check_client_key(req)
    ids = _check_inputs(req)
    if req.text:
        check_sources(req, LABELS[req.provider])
    if req.segments:
        _check_segments(req, c, ids)
    if not req.segments and len(ids) > 1:
        raise InputError(f"several audio/text inputs need segments saying which plays when "
                         f"({req.model} on {LABELS[req.provider]})", req.provider)
    _check_options(req, c)


def _check_client_key(req: JobRequest) -> None:
    if req.provider == "runware":
        try:
            uuid.UUID(req.client_key)
        except ValueError:
            raise InputError(f"client_key must be a UUID: Runware uses it as the taskUUID of {req.model}",
                             req.provider) from None
    elif not _KEY_RE.match(req.client_key or ""):
        # sync.so rejects other Idempotency-Keys with 400 INVALID_IDEMPOTENCY_KEY (docs/providers.md §1.11)
        raise InputError("client_key must be 1-128 characters of A-Z a-z 0-9 . _ ~ -", req.provider)


def _check_inputs(req: JobRequest) -> list[str]:
    """Video, audio and text inputs; returns the ids segments may refer to."""
    label = LABELS[req.provider]
    if not req.video:
        raise InputError(f"a video input is required for {req.model} on {label}", req.provider)
    _check_local_durations(req)
    if not req.audio and not req.text:
        raise InputError(f"an audio input is required for {req.model} on {label}", req.provider)
    if req.text:
        _require(req, "text")
        for t in req.text:
            check_text_input(t, req.provider, req.model, label)
            if t.stability is not None or t.similarity_boost is not None:
                _require(req, "tts_settings")
    ids = [a.id for a in req.audio] + [t.id for t in req.text]
    if len(set(ids)) != len(ids):
        raise InputError("audio and text input ids must be unique", req.provider)
    if any(_crop(req, f"audio {a.id!r}", a.start, a.end) for a in req.audio):
        _require(req, "audio_crop")
    return ids


def _check_segments(req: JobRequest, c: ModelCaps, ids: list[str]) -> None:
    label = LABELS[req.provider]
    _require(req, "segments")
    for i, s in enumerate(req.segments, 1):
        where = f"segment {i}"
        if s.start < 0 or s.end <= s.start:
            raise InputError(f"{where}: start {s.start} and end {s.end} are not a positive range "
                             f"({req.model} on {label})", req.provider)
        if s.audio_id not in ids:
            raise InputError(f"{where}: unknown audio id {s.audio_id!r} ({req.model} on {label})",
                             req.provider)
        if _crop(req, where, s.audio_start, s.audio_end):
            _require(req, "audio_crop")
        if s.options_override:
            _require(req, "segments.options_override")
            bad = sorted(set(s.options_override) - c.override_keys)
            if bad:
                raise InputError(f"{where}: options_override of {', '.join(bad)} is not supported for "
                                 f"{req.model} on {label}", req.provider)
            if "temperature" in s.options_override:
                _range(req, f"{where}: temperature", s.options_override["temperature"], 0, 1)
    text_ids = {t.id for t in req.text}
    if req.provider == "runware" and (text_ids & {s.audio_id for s in req.segments}):
        raise InputError(f"segments can only play audio files on {label}, not text inputs "
                         f"({req.model} on {label})", req.provider)


def _check_speaker(req: JobRequest) -> None:
    a = req.options.active_speaker
    label = LABELS[req.provider]
    modes = [a.auto, a.point is not None or a.frame is not None, a.boxes is not None]
    if sum(bool(m) for m in modes) > 1:
        raise InputError(f"active_speaker: choose auto, a frame + point, or boxes, not several "
                         f"({req.model} on {label})", req.provider)
    if a.point is not None or a.frame is not None:
        if a.point is None or a.frame is None:
            raise InputError(f"active_speaker: frame and point must be given together "
                             f"({req.model} on {label})", req.provider)
        if a.frame < 0 or min(a.point) < 0:
            raise InputError(f"active_speaker: frame and point must not be negative "
                             f"({req.model} on {label})", req.provider)
        _require(req, "active_speaker.point")
    elif a.boxes is not None:
        for box in a.boxes:
            if box is not None and len(box) != 4:
                raise InputError(f"active_speaker.boxes: each box is [x1, y1, x2, y2] or null "
                                 f"({req.model} on {label})", req.provider)
        _require(req, "active_speaker.boxes")
    elif a.auto:
        _require(req, "active_speaker")


def _choice(req: JobRequest, option: str, value: str, allowed) -> None:
    _require(req, option)
    if value not in allowed:
        raise InputError(f"{option} {value!r} is not valid for {req.model} on {LABELS[req.provider]}: "
                         f"use one of {', '.join(allowed)}", req.provider)


def _check_options(req: JobRequest, c: ModelCaps) -> None:
    o = req.options
    if o.sync_mode is not None:
        if o.sync_mode not in SYNC_MODES:
            raise InputError(f"sync_mode {o.sync_mode!r} is unknown for {req.model} on {LABELS[req.provider]}: "
                             f"use one of {', '.join(c.sync_modes)}", req.provider)
        _require(req, "sync_mode")
        _require(req, f"sync_mode={o.sync_mode}")
    if o.temperature is not None:
        _require(req, "temperature")
        _range(req, "temperature", o.temperature, 0, 1)
    if o.active_speaker is not None:
        _check_speaker(req)
    if o.occlusion_detection:
        _require(req, "occlusion_detection")
    if o.emotion is not None:
        _choice(req, "emotion", o.emotion, EMOTIONS)
    if o.mode is not None:
        _choice(req, "mode", o.mode, FACE_MODES)
    if o.output_format is not None:
        _choice(req, "output_format", o.output_format.upper(), OUTPUT_FORMATS)
    _check_output_numbers(req)


def _check_output_numbers(req: JobRequest) -> None:
    o = req.options
    if o.output_quality is not None:
        _require(req, "output_quality")
        _range(req, "output_quality", o.output_quality, 20, 99)
    if o.number_results != 1:
        _require(req, "number_results")
        _range(req, "number_results", o.number_results, 1, 4)
    if o.safety_check is not None:
        _require(req, "safety_check")
    if o.ttl is not None:
        _require(req, "ttl")
        if o.ttl < 60:
            raise InputError(f"ttl {o.ttl} is out of range for {req.model} on {LABELS[req.provider]}: "
                             "use 60 seconds or more", req.provider)
