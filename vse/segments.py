"""Panel segment rows: every sound strip overlapping the active movie strip, and the estimate.

Rows are RNA (scene.lipsync.segments) so the panel only draws them (docs/architecture.md); they are
rebuilt by `lipsync.refresh_segments` and when the active strip changes (vse/handlers.py). A row
keeps its on/off toggle and its own speaker point across refreshes, matched by strip name.
"""

from __future__ import annotations

from ..client.capabilities import supports
from ..client.errors import InputError, LipsyncError, humanize
from . import compat, money, options, snapshot


def refresh_segments(scene, strip) -> str:
    """Rebuild the rows for `strip`; returns "" or the InputError sentence explaining why none."""
    settings = scene.lipsync
    kept = {row.name: (row.enabled, row.use_speaker_point, row.speaker_frame, tuple(row.speaker_point))
            for row in settings.segments} if settings.segments_strip == getattr(strip, "name", "") else {}
    settings.segments.clear()
    settings.segments_strip = strip.name if strip is not None else ""
    if strip is None or compat.strip_type(strip) != "MOVIE":
        refresh_estimate(scene)
        return "Make a movie strip active"
    try:
        job = snapshot.snapshot_job(scene, strip)
    except LipsyncError as exc:
        refresh_estimate(scene)
        return humanize(exc)
    for part in job.audio:
        row = settings.segments.add()
        row.name = part.strip_name
        row.video_start = part.video_offset
        row.video_end = part.video_offset + part.duration
        row.audio_start = part.file_start
        row.audio_end = part.file_start + part.duration
        if part.strip_name in kept:
            enabled, own, frame, point = kept[part.strip_name]
            row.enabled, row.use_speaker_point, row.speaker_frame, row.speaker_point = enabled, own, frame, point
    refresh_estimate(scene)
    return ""


def chosen_sounds(scene, strip):
    """(sound strips to use, per-segment option overrides by strip name) from the rows."""
    settings = scene.lipsync
    sed = scene.sequence_editor
    overrides_ok, why = supports(settings.provider, settings.model, "segments.options_override")
    sounds, overrides = [], {}
    for row in settings.segments:
        sound = compat.strips_all(sed).get(row.name) if sed else None
        if sound is None or not row.enabled:
            continue
        sounds.append(sound)
        if row.use_speaker_point and not overrides_ok:
            raise InputError(f'"{row.name}" has its own speaker point, but {why}: switch "Own Speaker" off',
                             settings.provider)
        if row.use_speaker_point:
            overrides[row.name] = {"active_speaker": {"frame": int(row.speaker_frame),
                                                      "point": [int(v) for v in row.speaker_point]}}
    return sounds, overrides


def refresh_estimate(scene) -> None:
    """Write the estimated cost of the current selection (or active strip) into estimate_text:
    the jobs that would really be sent (no-lipsync ranges left out, handles added; vse/money.py)."""
    settings = scene.lipsync
    if scene.sequence_editor is None:
        settings.estimate_text = ""
        return
    movies = money.selected_movies(scene)
    # the options a submit would send, so a result-cache hit is recognised (money.estimate_strips)
    est = money.estimate_strips(scene, movies, settings.provider, settings.model, options.from_settings(settings))
    settings.estimate_text = money.describe(est, len(movies))
