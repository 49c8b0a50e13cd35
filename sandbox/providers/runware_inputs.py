"""Audio inputs, speech, active-speaker hints and segments of a Runware videoInference task (docs/providers.md §2.3)."""

from __future__ import annotations

from ..jobs import AudioSource
from ..timeline import Segment, Speaker
from .tts import runware_speech_item
from ..validation import Invalid, check_boxes, check_keys, check_point, check_range, check_type, is_number, require


def parse_audios(inputs: dict) -> list[AudioSource]:
    out = []
    audio = inputs.get("audio")
    if isinstance(audio, str):
        out.append(AudioSource("main-audio", ref=audio))
    elif audio is not None:
        out += _audio_list(audio, "inputs.audio")
    if inputs.get("audios") is not None:
        out += _audio_list(inputs["audios"], "inputs.audios")
    return out


def _audio_list(items, where: str) -> list[AudioSource]:
    check_type(items, where, "array")
    out = []
    for i, item in enumerate(items):
        check_type(item, f"{where}[{i}]", "object")
        check_keys(item, ("id", "source"), f"{where}[{i}]")
        out.append(AudioSource(check_type(require(item, "id", f"{where}[{i}]"), f"{where}[{i}].id", "string"),
                               ref=check_type(require(item, "source", f"{where}[{i}]"), f"{where}[{i}].source",
                                              "string")))
    return out


def parse_speech(speech) -> list[AudioSource]:
    # §2.3: `inputs.speech` is a list of {id, provider, voiceId, text} (runware 0.5.24 ISpeechInput);
    # the object form and unknown keys are refused.
    check_type(speech, "inputs.speech", "array")
    if not speech:
        raise Invalid("inputs.speech", "range", "inputs.speech needs at least one item")
    out = []
    for i, item in enumerate(speech):
        text = runware_speech_item(item, f"inputs.speech[{i}]")
        out.append(AudioSource(str(item.get("id") or f"speech{i}"), text=text))
    return out


def parse_speaker(asd, where: str) -> Speaker | None:
    if asd is None:
        return None
    if isinstance(asd, bool):  # providers page passes a plain true (§2.3)
        return Speaker(auto=asd)
    check_type(asd, where, "object")
    check_keys(asd, ("autoDetect", "frameNumber", "coordinates", "boundingBoxes"), where)
    sp = Speaker(auto=bool(check_type(asd.get("autoDetect", False), f"{where}.autoDetect", "bool")))
    if ("frameNumber" in asd) != ("coordinates" in asd):
        raise Invalid(f"{where}.coordinates", "conflict", "coordinates and frameNumber must be used together")
    if "coordinates" in asd:
        sp.frame = check_range(asd["frameNumber"], f"{where}.frameNumber", 0, None, integer=True)
        sp.point = check_point(asd["coordinates"], f"{where}.coordinates")
    if "boundingBoxes" in asd:
        if sp.point is not None:
            raise Invalid(f"{where}.boundingBoxes", "conflict", "boundingBoxes cannot be used with coordinates")
        sp.boxes = check_boxes(asd["boundingBoxes"], f"{where}.boundingBoxes")
    return sp


def parse_segments(raw, audios: list[AudioSource], where: str) -> list[Segment]:
    if raw is None:
        return []
    check_type(raw, where, "array")
    if not raw:
        raise Invalid(where, "range", f"{where} needs at least one item")
    ids = {a.id for a in audios}
    out = []
    for i, seg in enumerate(raw):
        w = f"{where}[{i}]"
        check_type(seg, w, "object")
        check_keys(seg, ("startTime", "endTime", "audio", "ref", "audioStartTime", "audioEndTime"), w)
        start = check_range(require(seg, "startTime", w), f"{w}.startTime", 0)
        end = check_range(require(seg, "endTime", w), f"{w}.endTime", 0)
        if end <= start:
            raise Invalid(f"{w}.endTime", "range", "endTime must be greater than startTime")
        if "audio" in seg:
            audio_id = f"segment{i}"
            audios.append(AudioSource(audio_id, ref=check_type(seg["audio"], f"{w}.audio", "string")))
        elif "ref" in seg:
            audio_id = check_type(seg["ref"], f"{w}.ref", "string")
            if audio_id not in ids:
                raise Invalid(f"{w}.ref", "conflict", f"No audio input with id {audio_id!r}")
        else:
            raise Invalid(f"{w}.audio", "missing", "segment needs audio (URL/UUID) or ref (audio id)")
        a0, a1 = seg.get("audioStartTime"), seg.get("audioEndTime")
        if (a0 is None) != (a1 is None):  # §2.3 validation rule (seed 000)
            raise Invalid(f"{w}.audioStartTime", "conflict", "audioStartTime and audioEndTime must be used together")
        if a0 is not None and not (is_number(a0) and is_number(a1) and 0 <= a0 < a1):
            raise Invalid(f"{w}.audioStartTime", "range", "audioStartTime must be >= 0 and < audioEndTime")
        out.append(Segment(float(start), float(end), audio_id, a0, a1))
    return out
