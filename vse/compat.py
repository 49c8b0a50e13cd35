"""Sequencer API differences between Blender 4.5, 5.0, 5.1 and 5.2, in one place.

Measured on bpy 4.5, 5.0 and 5.2 (docs/blender.md §2):
- 5.0 drops `sed.sequences`/`selected_sequences` for `strips`/`selected_strips` (4.5 has both) and
  adds `context.sequencer_scene`: the sequencer may show another scene than `context.scene`.
- 5.2 renames every timing property (`frame_final_start` -> `left_handle`, ...) and the old names
  emit DeprecationWarning, so we read the new name when the strip has it.
- 5.0 needs `image_settings.media_type = 'VIDEO'` before `file_format = 'FFMPEG'`.
- `new_effect` takes `frame_end=` up to 4.5 and `length=` from 5.0.
- 5.0.1 crashes in `strip.modifiers.new()` unless the workspace's sequencer scene is the strip's
  scene, and sequencer operators act on that scene (docs/blender.md §10): `sequencer_scene_set`.
"""

import contextlib

import bpy

# old name -> 5.2 name. content_* are the source media, handles the visible part on the timeline.
_TIMING_NAMES = {
    "frame_final_start": "left_handle",        # first visible frame
    "frame_final_end": "right_handle",         # first frame no longer visible
    "frame_start": "content_start",            # timeline frame of source frame 0 (float)
    "frame_offset_start": "left_handle_offset",
    "frame_offset_end": "right_handle_offset",
    "frame_duration": "content_duration",      # read-only: source length in frames
    "frame_final_duration": "duration",
    "animation_offset_start": "content_trim_start",
    "animation_offset_end": "content_trim_end",
}


_names: dict = {}   # (RNA type, 4.x name) -> the name this Blender uses


def _name(strip, old):
    # Cached per RNA type: looking the property up in bl_rna on every read was a third of the
    # estimate's time on a 2,000-shot timeline (issue #16, tools/bench/scale.py).
    key = (type(strip), old)
    found = _names.get(key)
    if found is None:
        new = _TIMING_NAMES[old]
        found = new if new in strip.bl_rna.properties else old
        if isinstance(strip, bpy.types.bpy_struct):      # a stand-in of a test is not cached
            _names[key] = found
    return found


def timing_name(old_name: str, kind) -> str:
    """The name this Blender gives timing property `old_name` (its 4.x name) on strips of RNA
    class `kind` (bpy.types.MovieStrip: 5.2 has content_trim_start on the kinds of strip, not on Strip)."""
    new = _TIMING_NAMES[old_name]
    return new if new in kind.bl_rna.properties else old_name


def get_timing(strip, old_name):
    """Read a timing property by its 4.x name, through the 5.2 name where it exists."""
    return getattr(strip, _name(strip, old_name))


def set_timing(strip, old_name, value):
    setattr(strip, _name(strip, old_name), value)


def visible_range(strip):
    """(first visible frame, first frame after) on the timeline."""
    return get_timing(strip, "frame_final_start"), get_timing(strip, "frame_final_end")


def strips(container):
    """Top-level strips of a SequenceEditor (or children of a meta strip)."""
    return container.strips if hasattr(container, "strips") else container.sequences


def strips_all(sed):
    return sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all


def sequencer_scene(context):
    """The scene the sequencer edits: `context.sequencer_scene` on 5.0+, else the context scene."""
    return getattr(context, "sequencer_scene", None) or context.scene


def selected_strips(context):
    found = getattr(context, "selected_strips", None)
    if found is None:
        found = getattr(context, "selected_sequences", None)
    if found is None:
        # Background mode without a sequencer area: fall back to the selection flags.
        scene = sequencer_scene(context)
        sed = scene.sequence_editor if scene else None
        found = [s for s in strips_all(sed) if s.select] if sed else []
    return list(found)


def active_strip(context):
    strip = getattr(context, "active_strip", None)
    if strip is None:
        strip = getattr(context, "active_sequence_strip", None)
    if strip is None:
        scene = sequencer_scene(context)
        sed = scene.sequence_editor if scene else None
        strip = sed.active_strip if sed else None
    return strip


def new_effect(collection, name, type, channel, frame_start, length, **kw):
    if bpy.app.version >= (5, 0, 0):
        return collection.new_effect(name=name, type=type, channel=channel,
                                     frame_start=frame_start, length=length, **kw)
    return collection.new_effect(name=name, type=type, channel=channel,
                                 frame_start=frame_start, frame_end=frame_start + length, **kw)


def set_ffmpeg_output(scene, container="MPEG4", codec="H264", audio_codec="AAC"):
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format, ffmpeg.codec, ffmpeg.audio_codec = container, codec, audio_codec
    return ffmpeg


def strip_type(strip):
    """'MOVIE', 'SOUND', 'IMAGE', 'COLOR', 'TEXT', 'META', 'SCENE', ... (same on all versions)."""
    return strip.type


def _workspaces():
    """The workspaces a sequencer call may read its scene from: the context's, then every window's."""
    found = []
    context_ws = getattr(bpy.context, "workspace", None)
    if context_ws is not None:
        found.append(context_ws)
    wm = bpy.context.window_manager
    for window in wm.windows if wm is not None else ():
        if window.workspace is not None and window.workspace not in found:
            found.append(window.workspace)
    return found


@contextlib.contextmanager
def sequencer_scene_set(scene):
    """Within the block every workspace shows `scene` in the sequencer (5.0+; nothing on 4.5), then
    each gets its own scene back. `strip.modifiers.new()` on 5.0.1 crashes while it is None or
    another scene (docs/blender.md §10), and sequencer operators act on it."""
    saved = [(ws, ws.sequencer_scene) for ws in _workspaces() if hasattr(ws, "sequencer_scene")]
    try:
        for ws, current in saved:
            if current != scene:
                ws.sequencer_scene = scene
        yield
    finally:
        for ws, current in saved:
            if ws.sequencer_scene != current:
                ws.sequencer_scene = current


def _sequencer_area(window):
    """(area, region, type to restore) of a sequencer area in `window` to run operators in: an open
    one when there is one, else the first area turned into a sequencer for the call."""
    for area in window.screen.areas:
        if area.type == "SEQUENCE_EDITOR" and area.spaces.active.view_type in ("SEQUENCER", "SEQUENCER_PREVIEW"):
            region = next((r for r in area.regions if r.type == "WINDOW"), None)
            if region is not None:
                return area, region, None
    area = window.screen.areas[0]
    restore = (area.type, getattr(area.spaces.active, "view_type", None))
    area.type = "SEQUENCE_EDITOR"
    area.spaces.active.view_type = "SEQUENCER"
    return area, next(r for r in area.regions if r.type == "WINDOW"), restore


@contextlib.contextmanager
def sequencer_override(scene):
    """A context in which sequencer operators (sequencer.duplicate) run on `scene`, also from a
    timer or in background: a window, a sequencer area and its main region (duplicate crashes
    without `region`, docs/blender.md §10), and the sequencer scene set on 5.0+."""
    wm = bpy.context.window_manager
    window = bpy.context.window or (wm.windows[0] if wm is not None and wm.windows else None)
    if window is None:
        raise RuntimeError("Blender has no window to run sequencer operators in")
    area, region, restore = _sequencer_area(window)
    try:
        with sequencer_scene_set(scene), bpy.context.temp_override(window=window, area=area, region=region,
                                                                   scene=scene):
            yield
    finally:
        if restore is not None:
            if restore[0] == "SEQUENCE_EDITOR" and restore[1]:
                area.spaces.active.view_type = restore[1]
            area.type = restore[0]
