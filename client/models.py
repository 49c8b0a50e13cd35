"""The one request model every provider is driven from (pydantic v2).

Types are checked here; whether a value is *allowed* for a provider x model (ranges, enums,
unsupported options) is checked by `capabilities.validate`, because only there can the message
name the option, the model and the provider together.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")
EMOTIONS = ("happy", "sad", "angry", "disgusted", "surprised", "neutral")
# sync-3 "region of facial animation" (providers.md §2.3: 3 values, names [U]; react-1's model_mode).
FACE_MODES = ("lips", "face", "head")
OUTPUT_FORMATS = ("MP4", "WEBM", "MOV")


def new_client_key() -> str:
    """A fresh idempotency key / Runware taskUUID; persist it before the first submit attempt."""
    return str(uuid.uuid4())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioInput(_Model):
    id: str
    path: str  # local path or https URL
    start: float | None = None  # crop, seconds of the audio file; both or neither
    end: float | None = None


class TextInput(_Model):
    """Text-to-speech input (sync.so: ElevenLabs voice id)."""

    id: str
    text: str
    voice: str


class Segment(_Model):
    start: float  # seconds of the uploaded video
    end: float
    audio_id: str  # an AudioInput.id or TextInput.id
    audio_start: float | None = None
    audio_end: float | None = None
    options_override: dict[str, Any] = Field(default_factory=dict)


class ActiveSpeaker(_Model):
    """Auto-detect, or one point on one frame, or per-frame boxes [x1, y1, x2, y2] (None = no face)."""

    auto: bool = False
    frame: int | None = None
    point: tuple[int, int] | None = None
    boxes: list[list[int] | None] | None = None


class Options(_Model):
    sync_mode: str | None = None
    temperature: float | None = None
    active_speaker: ActiveSpeaker | None = None
    occlusion_detection: bool | None = None
    emotion: str | None = None
    mode: str | None = None
    output_format: str | None = None
    output_quality: int | None = None
    number_results: int = 1
    safety_check: bool | None = None
    ttl: int | None = None
    include_cost: bool = True


class JobRequest(_Model):
    provider: str
    model: str
    video: str  # local path or https URL
    audio: list[AudioInput] = Field(default_factory=list)
    text: list[TextInput] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    options: Options = Field(default_factory=Options)
    client_key: str = Field(default_factory=new_client_key)
