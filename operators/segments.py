"""Panel segment rows: every sound strip overlapping the active movie strip, and the estimate.

Rows are RNA (scene.lipsync.segments) so the panel only draws them (STYLE habit 4); they are
rebuilt by `lipsync.refresh_segments` (and by submit when they belong to another strip). A row
keeps its on/off toggle and its own speaker point across refreshes, matched by strip name.
"""

from __future__ import annotations

import bpy

from .. import compat


def refresh_segments(scene, strip) -> str:
    """Rebuild the rows for `strip`; returns "" or the InputError sentence explaining why none."""
    from ..client.errors import LipsyncError, humanize
    from .strips import snapshot_job

    settings = scene.lipsync
    kept = {row.name: (row.enabled, row.use_speaker_point, row.speaker_frame, tuple(row.speaker_point))
            for row in settings.segments} if settings.segments_strip == getattr(strip, "name", "") else {}
    settings.segments.clear()
    settings.segments_strip = strip.name if strip is not None else ""
    if strip is None or compat.strip_type(strip) != "MOVIE":
        refresh_estimate(scene)
        return "Make a movie strip active"
    try:
        job = snapshot_job(scene, strip)
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
    from ..client.capabilities import supports

    from ..client.errors import InputError
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
    the jobs that would really be sent (no-lipsync ranges left out, handles added; costs.py)."""
    from . import costs

    settings = scene.lipsync
    if scene.sequence_editor is None:
        settings.estimate_text = ""
        return
    movies = costs.selected_movies(scene)
    from . import jobs
    # the options a submit would send, so a result-cache hit is recognised (costs.estimate_strips)
    options = jobs.options_from_settings(settings, settings.provider, settings.model)
    est = costs.estimate_strips(scene, movies, settings.provider, settings.model, options)
    settings.estimate_text = costs.describe(est, len(movies))


# -- keep rows and estimate current without computing in draw() ------------------------------
# msgbus notifications arrive on the main thread after the UI changed the property (never in
# background mode); file loads drop subscriptions, so load_post subscribes again.
_OWNER = object()


def _scene():
    from .. import compat
    return compat.sequencer_scene(bpy.context)


def on_active_strip_changed():
    scene = _scene()
    if scene is None or scene.sequence_editor is None:
        return
    strip = scene.sequence_editor.active_strip
    if strip is not None and compat.strip_type(strip) == "MOVIE" and not strip.lipsync.is_take \
            and strip.name != scene.lipsync.segments_strip:
        refresh_segments(scene, strip)
    else:
        refresh_estimate(scene)


def on_selection_changed():
    scene = _scene()
    if scene is not None:
        refresh_estimate(scene)


def subscribe():
    bpy.msgbus.clear_by_owner(_OWNER)
    bpy.msgbus.subscribe_rna(key=(bpy.types.SequenceEditor, "active_strip"), owner=_OWNER, args=(),
                             notify=on_active_strip_changed)
    bpy.msgbus.subscribe_rna(key=(bpy.types.Strip, "select"), owner=_OWNER, args=(),
                             notify=on_selection_changed)


@bpy.app.handlers.persistent
def _load_post(*_args):
    subscribe()


def register():
    subscribe()
    bpy.app.handlers.load_post.append(_load_post)


def unregister():
    if _load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_load_post)
    bpy.msgbus.clear_by_owner(_OWNER)


class LIPSYNC_OT_refresh_segments(bpy.types.Operator):
    """Rebuild the segment rows from the sound strips overlapping the active movie strip"""

    bl_idname = "lipsync.refresh_segments"
    bl_label = "Refresh Segments"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return compat.sequencer_scene(context) is not None

    def execute(self, context):
        scene = compat.sequencer_scene(context)
        why = refresh_segments(scene, compat.active_strip(context))
        if why:
            self.report({"WARNING"}, why)
        return {"FINISHED"}


classes = (LIPSYNC_OT_refresh_segments,)
