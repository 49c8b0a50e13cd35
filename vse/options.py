"""The client options a submit sends, read from the panel settings (scene.lipsync)."""

from __future__ import annotations


def from_settings(settings, sync_mode: str = "") -> dict:
    """The client Options dict for the panel settings. Everything the artist switched on is sent,
    so an option provider x model does not take is refused by `checks.check_options` with the
    reason (the panel greys it with the same reason) rather than silently dropped."""
    options = {}
    mode = sync_mode or ("" if settings.sync_mode == "DEFAULT" else settings.sync_mode)
    if mode:
        options["sync_mode"] = mode
    if settings.use_temperature:
        options["temperature"] = round(float(settings.temperature), 3)
    if settings.occlusion_detection:
        options["occlusion_detection"] = True
    if settings.emotion != "NONE":
        options["emotion"] = settings.emotion
    if settings.face_mode != "NONE":
        options["mode"] = settings.face_mode
    if settings.speaker_mode == "AUTO":
        options["active_speaker"] = {"auto": True}
    elif settings.speaker_mode == "POINT":
        options["active_speaker"] = {"frame": int(settings.speaker_frame),
                                     "point": [int(v) for v in settings.speaker_point]}
    if settings.number_results != 1:
        options["number_results"] = int(settings.number_results)
    return options
