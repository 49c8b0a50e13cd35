"""Options, active-speaker hints and segments of a sync.so generation request (docs/providers.md §1.4, §1.5).

Unknown keys are rejected (NestJS whitelist); known options a model ignores are accepted (§1.4).
"""

from __future__ import annotations

from ..timeline import SYNC_MODES, Segment, Speaker
from ..validation import Invalid, check_boxes, check_enum, check_keys, check_point, check_range, check_type, \
    is_number, require

OPTION_KEYS = ("sync_mode", "temperature", "active_speaker_detection", "occlusion_detection_enabled", "model_mode",
               "prompt", "output_format", "pads", "speedup", "fps", "output_resolution", "active_speaker")
OVERRIDE_KEYS = ("temperature", "active_speaker_detection", "occlusion_detection_enabled")  # [U] §1.5


def parse_options(options: dict, where: str, keys=OPTION_KEYS) -> tuple[str | None, Speaker | None]:
    # Unknown keys are rejected (whitelist); known options a model ignores are accepted (§1.4).
    check_keys(options, keys, where)
    sync_mode = None
    if options.get("sync_mode") is not None:
        sync_mode = check_enum(options["sync_mode"], f"{where}.sync_mode", SYNC_MODES)
    if options.get("temperature") is not None:
        check_range(options["temperature"], f"{where}.temperature", 0, 1)
    for flag in ("occlusion_detection_enabled", "active_speaker"):
        if options.get(flag) is not None:
            check_type(options[flag], f"{where}.{flag}", "bool")
    if options.get("model_mode") is not None:
        check_enum(options["model_mode"], f"{where}.model_mode", ("lips", "face", "head"))
    if options.get("prompt") is not None:
        check_enum(options["prompt"], f"{where}.prompt", ("happy", "sad", "angry", "disgusted", "surprised",
                                                            "neutral"))
    if options.get("output_format") is not None:
        check_enum(options["output_format"], f"{where}.output_format", ("mp4", "mov"))
    speaker = None
    asd = options.get("active_speaker_detection")
    if asd is not None:
        speaker = parse_speaker(check_type(asd, f"{where}.active_speaker_detection", "object"),
                           f"{where}.active_speaker_detection")
    return sync_mode, speaker


def parse_speaker(asd: dict, where: str) -> Speaker:
    check_keys(asd, ("auto_detect", "frame_number", "coordinates", "bounding_boxes"), where)
    sp = Speaker()
    if asd.get("auto_detect") is not None:
        sp.auto = check_type(asd["auto_detect"], f"{where}.auto_detect", "bool")
    if ("frame_number" in asd) != ("coordinates" in asd):
        raise Invalid(where, "conflict", f"{where}.frame_number and coordinates must be given together")
    if "coordinates" in asd:
        sp.frame = check_range(asd["frame_number"], f"{where}.frame_number", 0, None, integer=True)
        sp.point = check_point(asd["coordinates"], f"{where}.coordinates")
    if "bounding_boxes" in asd:
        if sp.point is not None:
            raise Invalid(where, "conflict", f"{where}.bounding_boxes cannot be combined with coordinates")
        sp.boxes = check_boxes(asd["bounding_boxes"], f"{where}.bounding_boxes")
    return sp


def parse_segments(raw, audio_ids: set) -> list[Segment]:
    if raw is None:
        return []
    check_type(raw, "segments", "array")
    out = []
    for i, seg in enumerate(raw):
        where = f"segments[{i}]"
        check_type(seg, where, "object")
        check_keys(seg, ("startTime", "endTime", "audioInput", "optionsOverride"), where)
        start = check_range(require(seg, "startTime", where), f"{where}.startTime", 0)
        end = check_range(require(seg, "endTime", where), f"{where}.endTime", 0)
        if end <= start:
            raise Invalid(f"{where}.endTime", "range", f"{where}.endTime must be greater than startTime")
        ai = check_type(require(seg, "audioInput", where), f"{where}.audioInput", "object")
        check_keys(ai, ("refId", "startTime", "endTime"), f"{where}.audioInput")
        ref = check_type(require(ai, "refId", f"{where}.audioInput"), f"{where}.audioInput.refId", "string")
        if ref not in audio_ids:
            raise Invalid(f"{where}.audioInput.refId", "conflict", f"no audio or text input with refId {ref!r}")
        a0, a1 = ai.get("startTime"), ai.get("endTime")
        if (a0 is None) != (a1 is None):
            raise Invalid(f"{where}.audioInput", "conflict", "audioInput.startTime and endTime must be used together")
        if a0 is not None and not (is_number(a0) and is_number(a1) and 0 <= a0 < a1):
            raise Invalid(f"{where}.audioInput", "range", "audioInput.startTime must be >= 0 and < endTime")
        if seg.get("optionsOverride") is not None:
            parse_options(check_type(seg["optionsOverride"], f"{where}.optionsOverride", "object"),
                     f"{where}.optionsOverride", OVERRIDE_KEYS)
        out.append(Segment(float(start), float(end), ref, a0, a1))
    return out
