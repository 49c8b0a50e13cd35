"""Panel segment rows: every sound strip overlapping the active movie strip, and the estimate.

Rows are RNA (scene.lipsync.segments) so the panel only draws them (docs/architecture.md); they are
rebuilt by `lipsync.refresh_segments` and when the active strip changes (vse/handlers.py). A row
keeps its on/off toggle and its own speaker point across refreshes, matched by strip name.
"""

from __future__ import annotations

import json
import logging
import sys
import time

import bpy

from ..client.errors import InputError, LipsyncError, humanize
from . import compat, options, timeline

log = logging.getLogger(__name__)


def refresh_segments(scene, strip) -> str:
    """Rebuild the rows for `strip`; returns "" or the InputError sentence explaining why none."""
    from . import snapshot  # late: job code loads at first use (docs/architecture.md "Start-up")

    settings = scene.lipsync
    kept = {row.name: (row.enabled, row.use_speaker_point, row.speaker_frame, tuple(row.speaker_point))
            for row in settings.segments} if settings.segments_strip == getattr(strip, "name", "") else {}
    # a Text strip's own voice stays with its name whichever movie strip is active (vse/speech.py)
    voices = {row.name: row.voice for row in settings.segments if row.is_text and row.voice}
    settings.segments.clear()
    settings.segments_strip = strip.name if strip is not None else ""
    if strip is None or compat.strip_type(strip) != "MOVIE":
        mark_dirty(scene)
        return "Make a movie strip active"
    try:
        job = snapshot.snapshot_job(scene, strip)
    except LipsyncError as exc:
        mark_dirty(scene)
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
    for line in job.text:
        row = settings.segments.add()
        row.name, row.is_text, row.voice = line.strip_name, True, voices.get(line.strip_name, "")
        row.video_start, row.video_end = line.video_offset, line.video_offset + line.duration
        if line.strip_name in kept:
            row.enabled = kept[line.strip_name][0]
    mark_dirty(scene)
    return ""


def chosen_sounds(scene, strip):
    """(sound strips to use, per-segment option overrides by strip name) from the rows."""
    from ..client.capabilities import supports  # late: job code loads at first use (docs/architecture.md "Start-up")

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


# -- the panel's estimate ------------------------------------------------------------------------
# Off the draw path, debounced, cached (issue #16). In the UI, msgbus callbacks, property updates
# and depsgraph updates only `mark_dirty`; an app timer refreshes DEBOUNCE seconds after the last
# mark (a strip being dragged refreshes once it is let go). App timers never fire in background
# mode (docs/blender.md §4): there the estimate is computed on demand, by `refresh_estimate`
# (scripts, tests) and by the submit's budget check, which prices its own plans.
DEBOUNCE = 0.2
_dirty: dict[str, float] = {}             # scene name -> when it was last marked (monotonic)
_shown: dict[str, tuple] = {}             # scene name -> (key, text) of the estimate shown


def mark_dirty(scene, background: bool | None = None) -> None:
    """The estimate of `scene` may be out of date: refresh it soon (UI) or on demand (background)."""
    _dirty[scene.name] = time.monotonic()
    background = bpy.app.background if background is None else background
    if not background and not bpy.app.timers.is_registered(estimate_timer):
        bpy.app.timers.register(estimate_timer, first_interval=DEBOUNCE)


def estimate_timer():
    """App timer (UI only): refresh the estimates marked dirty once nothing marked them for DEBOUNCE s."""
    quiet = DEBOUNCE - (time.monotonic() - max(_dirty.values(), default=0.0))
    if quiet > 0.005:
        return quiet                      # still being edited: wait until it settles
    names = list(_dirty)
    _dirty.clear()
    for name in names:
        scene = bpy.data.scenes.get(name)
        if scene is None:
            continue
        try:
            refresh_estimate(scene)
        except Exception:  # noqa: BLE001 - a timer that raises is dropped by Blender: log and go on
            log.exception("lip-sync estimate of scene %s failed", name)
    return None


def _key(scene, movies, serials, opts) -> tuple:
    """Everything the estimate depends on: the strips and their plans (`serials`: a new one
    whenever a strip's plans change, vse/money.py), the pricing settings, and the records (a
    finished job makes an identical one free)."""
    from . import records  # late: job code loads at first use (docs/architecture.md "Start-up")

    settings = scene.lipsync
    return (tuple(s.name for s in movies), serials, settings.provider, settings.model,
            json.dumps(opts, sort_keys=True), settings.use_cache, settings.use_segments, records.revision)


def refresh_estimate(scene, force: bool = False) -> None:
    """Write the estimated cost of the current selection (or active strip) into estimate_text:
    the jobs that would really be sent (no-lipsync ranges left out, handles added; vse/money.py).
    Only the strips whose plans may have changed are planned again, and nothing is priced again
    while the plans and the settings stay as they were, unless `force` (the panel's refresh
    button: every strip planned again)."""
    from . import money  # late: job code loads at first use (docs/architecture.md "Start-up")

    settings = scene.lipsync
    _dirty.pop(scene.name, None)
    if force:
        money.forget(scene)
    with timeline.pinned(scene):
        index = timeline.index(scene)
        if index is None:
            text = ""
        else:
            movies = money.selected_movies(scene)
            planned, refused, serials = money.plan_strips(scene, movies)
            # the options a submit would send, so a result-cache hit is recognised (money.estimate_planned)
            opts = options.from_settings(settings)
            key = _key(scene, movies, serials, opts)
            shown = _shown.get(scene.name)
            if force or shown is None or shown[0] != key:
                est = money.estimate_planned(scene, planned, refused, settings.provider, settings.model, opts)
                shown = _shown[scene.name] = (key, money.describe(est, len(movies)))
            text = shown[1]
    if settings.estimate_text != text:
        settings.estimate_text = text


def forget() -> None:
    """A file load or unregister: nothing shown or planned is known any more."""
    _dirty.clear()
    _shown.clear()
    money = sys.modules.get(f"{__package__}.money")     # never imported: it planned nothing
    if money is not None:
        money.forget()
