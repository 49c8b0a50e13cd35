"""The one request model every provider is driven from: plain dataclasses, checked on creation.

Types are checked here (an InputError naming the field); whether a value is *allowed* for a
provider x model (ranges, enums, unsupported options) is checked by `capabilities.validate`,
because only there can the message name the option, the model and the provider together.

Why not pydantic: importing it and building these six models cost ~130 ms of every
`python -m client run` (half of the job's own time against the sandbox, issue #7), and its
compiled core needed one wheel per platform x Python in the extension. Six flat records with
a JSON round trip do not need a validation framework.

Nested values may be given as plain dicts/lists (as JSON gives them): they are turned into the
dataclasses, so `Options(**json.loads(...))` and `JobRequest.from_json(...)` work alike.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")
EMOTIONS = ("happy", "sad", "angry", "disgusted", "surprised", "neutral")
# sync-3 "region of facial animation" (docs/providers.md §2.3: 3 values, names [U]; react-1's model_mode).
FACE_MODES = ("lips", "face", "head")
OUTPUT_FORMATS = ("MP4", "WEBM", "MOV")
# Remote ids fill one path segment of a URL rebuilt from the configured base, and come back from
# saved files on resume (issue #6): anything else is not an id. Here, not in submitting.py, so a
# host checks a saved id (the Blender job records, the CLI's job file) without importing httpx.
REMOTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
# What new_client_key makes (a lowercase UUID4): a saved key of any other shape was not made here.
CLIENT_KEY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def new_client_key() -> str:
    """A fresh idempotency key / Runware taskUUID; persist it before the first submit attempt."""
    return str(uuid.uuid4())


# --- field checks: an InputError naming the field, or the value normalised in place ---

def _fail(obj, name: str, want: str, value) -> InputError:
    # "AudioInput.start must be ...": the field as a script writer spells it
    return InputError(f"{type(obj).__name__}.{name} must be {want}, not {value!r}")


# (accepted types, how a message names them)
_TEXT = ((str,), "text")
_NUMBER = ((int, float), "a number")
_WHOLE = ((int,), "a whole number")
_FLAG = ((bool,), "true or false")


def _check(obj, kind, *names: str, optional: bool = False) -> None:
    """Raise InputError unless each field `names` of `obj` is of `kind` (or None when optional);
    numbers become floats, as JSON would give them back."""
    kinds, want = kind
    for name in names:
        value = getattr(obj, name)
        if value is None and optional:
            continue
        # bool is an int subclass; True as a time or a count is a caller's mistake, not 1
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise _fail(obj, name, want, value)
        if kind is _NUMBER:
            setattr(obj, name, float(value))


def _ints(obj, name: str, value, length: int | None = None) -> list[int]:
    if (not isinstance(value, (list, tuple)) or (length is not None and len(value) != length)
            or any(isinstance(v, bool) or not isinstance(v, int) for v in value)):
        raise _fail(obj, name, f"{length or 'a list of'} whole numbers", value)
    return list(value)


def from_plain(cls, value, where: str):
    """`value` as a `cls`: an instance passes, a dict is built (unknown keys refused)."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a {cls.__name__} or an object, not {value!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InputError(f"{where}: unknown field {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(sorted(known))})")
    return cls(**value)


def _from_plain_list(obj, name: str, cls) -> list:
    value = getattr(obj, name)
    if not isinstance(value, (list, tuple)):
        raise _fail(obj, name, f"a list of {cls.__name__}", value)
    return [from_plain(cls, item, f"{type(obj).__name__}.{name}[{i}]") for i, item in enumerate(value)]


# --- the models ---

@dataclass
class AudioInput:
    id: str
    path: str  # local path or https URL
    start: float | None = None  # crop, seconds of the audio file; both or neither
    end: float | None = None

    def __post_init__(self) -> None:
        _check(self, _TEXT, "id", "path")
        _check(self, _NUMBER, "start", "end", optional=True)


@dataclass
class TextInput:
    """A line spoken by the provider's text-to-speech (docs/providers.md §1.3 sync.so `text` input,
    §2.3 Runware sync-3 `inputs.speech` + `settings.tts`): the script, an ElevenLabs (or sync.so
    cloned) voice id, and the TTS settings (0..1, None = the TTS provider's default). Limits and
    which provider x model speaks text are checked by `capabilities.validate` (client/speech.py)."""

    id: str
    text: str
    voice: str
    provider: str = "elevenlabs"
    stability: float | None = None
    similarity_boost: float | None = None

    def __post_init__(self) -> None:
        _check(self, _TEXT, "id", "text", "voice", "provider")
        _check(self, _NUMBER, "stability", "similarity_boost", optional=True)


@dataclass
class Segment:
    start: float  # seconds of the uploaded video
    end: float
    audio_id: str  # an AudioInput.id or TextInput.id
    audio_start: float | None = None
    audio_end: float | None = None
    options_override: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self, _NUMBER, "start", "end")
        _check(self, _TEXT, "audio_id")
        _check(self, _NUMBER, "audio_start", "audio_end", optional=True)
        if not isinstance(self.options_override, dict):
            raise _fail(self, "options_override", "an object", self.options_override)


@dataclass
class ActiveSpeaker:
    """Auto-detect, or one point on one frame, or per-frame boxes [x1, y1, x2, y2] (None = no face)."""

    auto: bool = False
    frame: int | None = None
    point: tuple[int, int] | None = None
    boxes: list[list[int] | None] | None = None

    def __post_init__(self) -> None:
        _check(self, _FLAG, "auto")
        _check(self, _WHOLE, "frame", optional=True)
        if self.point is not None:
            self.point = tuple(_ints(self, "point", self.point, 2))
        if self.boxes is not None:
            if not isinstance(self.boxes, (list, tuple)):
                raise _fail(self, "boxes", "a list of [x1, y1, x2, y2] or null", self.boxes)
            # the length of each box is checked by capabilities.validate, with the provider named
            self.boxes = [None if b is None else _ints(self, "boxes", b) for b in self.boxes]


@dataclass
class Options:
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

    def __post_init__(self) -> None:
        _check(self, _TEXT, "sync_mode", "emotion", "mode", "output_format", optional=True)
        _check(self, _NUMBER, "temperature", optional=True)
        if self.active_speaker is not None:
            self.active_speaker = from_plain(ActiveSpeaker, self.active_speaker, "Options.active_speaker")
        _check(self, _FLAG, "occlusion_detection", "safety_check", optional=True)
        _check(self, _FLAG, "include_cost")
        _check(self, _WHOLE, "output_quality", "ttl", optional=True)
        _check(self, _WHOLE, "number_results")


@dataclass
class JobRequest:
    provider: str
    model: str
    video: str  # local path or https URL
    audio: list[AudioInput] = field(default_factory=list)
    text: list[TextInput] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    client_key: str = field(default_factory=new_client_key)

    def __post_init__(self) -> None:
        _check(self, _TEXT, "provider", "model", "video")
        self.audio = _from_plain_list(self, "audio", AudioInput)
        self.text = _from_plain_list(self, "text", TextInput)
        self.segments = _from_plain_list(self, "segments", Segment)
        self.options = from_plain(Options, self.options, "JobRequest.options")
        _check(self, _TEXT, "client_key")

    def to_json(self) -> str:
        """Everything, nulls included: what a job record keeps to poll or re-run this request."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobRequest:
        """The inverse of to_json (also reads records written by the pydantic models of 0.1)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"a stored request is not valid JSON: {exc}") from None
        return from_plain(cls, data, "JobRequest")


@dataclass(frozen=True)
class RemoteRef:
    """A submitted job: the provider's id plus whatever else polling needs (JSON-safe, never the key).

    Defined here, not beside the providers, so a host can hold one (a saved job record, the CLI's
    job file) without importing the HTTP stack.
    """

    remote_id: str
    extra: dict[str, Any] = field(default_factory=dict)
