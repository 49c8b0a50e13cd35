"""The look of a strip copied onto its take: every setting, the modifiers, and their animation.

MAIN THREAD. A take must render like its source everywhere but the mouth (docs/architecture.md,
"Takes"), so `copy_look` copies every writable RNA property of the source (blend type, opacity,
colour settings, flips, transform, crop, ...) by walking its RNA, recursing into nested structs
(transform, crop, color_balance, curve_mapping) and recreating the strip modifiers by type and
name with their settings, curve points and mask pointers (shared, not duplicated). Timing,
identity and media properties are never copied: the take has its own file and is placed by
vse/placement.py. `copy_animation` duplicates the source's F-curves for the take (the scene
action's channelbag on 5.0+, docs/blender.md §10). A take whose picture size differs from the
source's gets its scale and crop (and their keys) scaled so it covers the same screen area.

Copying by RNA walk instead of a fixed list means a setting added by a later Blender is copied
too. Measured on 4.5, 5.0 and 5.2: the copy renders pixel-identical to the source (mean 0.000,
max 0) with 7 modifiers, masks, keyed opacity, transform and colour balance
(tests/blender/test_takes_layer.py).
"""

from __future__ import annotations

import bpy

from . import compat

# Timing, identity and media: the take keeps its own; `lipsync` is the add-on's own data.
STRIP_SKIP = frozenset({
    "rna_type", "name", "type", "channel", "select", "select_left_handle", "select_right_handle",
    "frame_start", "frame_final_start", "frame_final_end", "frame_offset_start", "frame_offset_end",
    "frame_duration", "frame_final_duration", "animation_offset_start", "animation_offset_end",
    "content_start", "content_end", "content_duration", "content_trim_start", "content_trim_end",
    "left_handle", "right_handle", "left_handle_offset", "right_handle_offset", "duration",
    "filepath", "elements", "fps", "stream_index", "retiming_keys", "show_retiming_keys", "connections",
    "modifiers", "proxy", "use_proxy", "lock", "mute", "sound", "colorspace_settings", "use_reverse_frames",
    "lipsync",
})
MOD_SKIP = frozenset({"rna_type", "name", "type", "is_active", "show_expanded", "open_mask_input_panel"})
FCURVE_SKIP = frozenset({"type", "is_valid", "active"})
KEY_ATTRS = ("co", "handle_left", "handle_right", "handle_left_type", "handle_right_type", "interpolation",
             "easing", "back", "amplitude", "period", "type")
_WRITE_ERRORS = (AttributeError, TypeError, ValueError, RuntimeError)


def _copy_curvemap(src_map, dst_map) -> None:
    """Make dst's points exactly src's (a CurveMap keeps at least 2 points)."""
    src_points, dst_points = src_map.points, dst_map.points
    while len(dst_points) < len(src_points):
        dst_points.new(0.5, 0.5)
    while len(dst_points) > len(src_points):
        dst_points.remove(dst_points[len(dst_points) - 2])
    for a, b in zip(src_points, dst_points):
        b.location = tuple(a.location)
        b.handle_type = a.handle_type


def _copy_pointer(src, dst, key, prop, depth) -> None:
    value = getattr(src, key)
    if not prop.is_readonly:          # an ID or strip pointer (mask, node group): shared
        try:
            setattr(dst, key, value)
        except _WRITE_ERRORS:
            pass
    elif value is not None and not isinstance(value, bpy.types.ID):
        nested = getattr(dst, key)
        if nested is not None:
            copy_rna(value, nested, frozenset(), depth + 1)


def copy_rna(src, dst, skip=frozenset(), depth=0) -> None:
    """Copy every writable RNA property of `src` onto `dst` (same type), recursing into nested
    structs. A property the destination refuses (read-only in this state) is left as it is."""
    if depth > 12:
        return
    for prop in src.bl_rna.properties:
        key = prop.identifier
        if key in skip or key == "rna_type":
            continue
        if prop.type == "POINTER":
            _copy_pointer(src, dst, key, prop, depth)
        elif prop.type == "COLLECTION":
            src_items, dst_items = getattr(src, key), getattr(dst, key)
            if key == "curves" and isinstance(src, bpy.types.CurveMapping):
                for a, b in zip(src_items, dst_items):
                    _copy_curvemap(a, b)
            elif len(src_items) == len(dst_items):
                for a, b in zip(src_items, dst_items):
                    copy_rna(a, b, frozenset(), depth + 1)
        elif not prop.is_readonly:
            try:
                setattr(dst, key, getattr(src, key))
            except _WRITE_ERRORS:
                pass
    if isinstance(dst, bpy.types.CurveMapping):
        dst.update()


def copy_modifiers(src, dst) -> None:
    """Recreate src's strip modifiers on dst: same order, names (F-curve paths use them), types
    and settings. 5.0.1 crashes in modifiers.new() unless the workspace has a sequencer scene
    (docs/blender.md §10): the caller holds compat.sequencer_scene_set."""
    while len(dst.modifiers):
        dst.modifiers.remove(dst.modifiers[0])
    for modifier in src.modifiers:
        copy = dst.modifiers.new(name=modifier.name, type=modifier.type)
        copy.name = modifier.name
        copy_rna(modifier, copy, MOD_SKIP)


def picture_ratio(source, take) -> tuple[float, float]:
    """(source width / take width, source height / take height); (1, 1) when a size is unknown.
    Example: a 1280x720 source and a 640x360 take -> (2.0, 2.0)."""
    if not (len(source.elements) and len(take.elements)):
        return 1.0, 1.0
    s, t = source.elements[0], take.elements[0]
    if not (s.orig_width and s.orig_height and t.orig_width and t.orig_height):
        return 1.0, 1.0
    return s.orig_width / t.orig_width, s.orig_height / t.orig_height


def _value_scale(suffix: str, ratio: tuple[float, float]) -> float:
    """How a copied value of `transform.scale_x`, `crop.min_y`, ... changes for a take whose
    picture is `ratio` times smaller: scale grows by the ratio, crops (image pixels) shrink."""
    rx, ry = ratio
    return {"transform.scale_x": rx, "transform.scale_y": ry, "crop.min_x": 1 / rx, "crop.max_x": 1 / rx,
            "crop.min_y": 1 / ry, "crop.max_y": 1 / ry}.get(suffix, 1.0)


def match_picture(source, take) -> None:
    """Scale the copied transform and crop so the take covers the source's screen area.
    Example: source 1280x720 at scale 1.5 covers 1920x1080 scene pixels; a 640x360 take gets
    scale 3.0, and a crop of 10 source pixels becomes 5 take pixels."""
    ratio = picture_ratio(source, take)
    if ratio == (1.0, 1.0):
        return
    for name in ("scale_x", "scale_y"):
        setattr(take.transform, name, getattr(source.transform, name) * _value_scale("transform." + name, ratio))
    for name in ("min_x", "max_x", "min_y", "max_y"):
        setattr(take.crop, name, int(round(getattr(source.crop, name) * _value_scale("crop." + name, ratio))))


def copy_colorspace(source, take) -> None:
    """The colour space the source's file is read in. Not part of the RNA walk: setting it reloads
    the movie, so it is set once, and only when it differs (the result is the source's own pixels
    re-encoded, so it is read the same way)."""
    src, dst = getattr(source, "colorspace_settings", None), getattr(take, "colorspace_settings", None)
    if src is not None and dst is not None and dst.name != src.name:
        try:
            dst.name = src.name
        except _WRITE_ERRORS:
            pass


def copy_look(source, take) -> None:
    """Every look setting and modifier of `source` onto `take`, scaled to the take's picture."""
    copy_rna(source, take, STRIP_SKIP)
    copy_colorspace(source, take)
    copy_modifiers(source, take)
    match_picture(source, take)


# -- animation -------------------------------------------------------------------------------
def fcurve_container(id_data):
    """Where an ID's F-curves are: the slot's channelbag (layered actions: 4.4+, the only kind on
    5.0+) or the legacy 4.x action itself. None when it has no animation."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return None
    action, slot = anim.action, getattr(anim, "action_slot", None)
    if hasattr(action, "layers") and slot is not None:
        # bpy_extras is part of every Blender; imported here to keep it out of module load
        from bpy_extras import anim_utils
        return anim_utils.action_get_channelbag_for_slot(action, slot)
    return action


def _new_fcurve(box, path: str, index: int, group: str):
    """fcurves.new on every version: 4.5 channelbags take no group, 5.0+ `group_name=`, the
    legacy 4.x action `action_group=`."""
    params = {p.identifier for p in box.fcurves.bl_rna.functions["new"].parameters}
    if group and "group_name" in params:
        return box.fcurves.new(path, index=index, group_name=group)
    if group and "action_group" in params:
        return box.fcurves.new(path, index=index, action_group=group)
    return box.fcurves.new(path, index=index)


def _copy_fcurve(fc, new, scale: float) -> None:
    new.keyframe_points.add(len(fc.keyframe_points))
    for a, b in zip(fc.keyframe_points, new.keyframe_points):
        for attr in KEY_ATTRS:
            setattr(b, attr, getattr(a, attr))
        if scale != 1.0:
            for attr in ("co", "handle_left", "handle_right"):
                x, y = getattr(a, attr)
                setattr(b, attr, (x, y * scale))
    for attr in ("extrapolation", "mute", "hide", "lock", "color_mode", "auto_smoothing", "color"):
        if hasattr(fc, attr):
            try:
                setattr(new, attr, getattr(fc, attr))
            except _WRITE_ERRORS:
                pass
    for modifier in fc.modifiers:
        copy_rna(modifier, new.modifiers.new(modifier.type), FCURVE_SKIP)
    new.update()


def strip_fcurves(scene, strip) -> list:
    """The F-curves animating `strip` (data paths `sequence_editor.strips_all["Name"]...`)."""
    box = fcurve_container(scene)
    if box is None:
        return []
    prefix = strip.path_from_id()
    return [fc for fc in box.fcurves if fc.data_path.startswith((prefix + ".", prefix + "["))]


def copy_animation(scene, source, take) -> int:
    """Duplicate every F-curve of `source` for `take` (scale and crop keys scaled like the
    values, `match_picture`); returns how many."""
    box = fcurve_container(scene)
    if box is None:
        return 0
    old, new = source.path_from_id(), take.path_from_id()
    ratio = picture_ratio(source, take)
    count = 0
    for fc in strip_fcurves(scene, source):
        path = new + fc.data_path[len(old):]
        stale = box.fcurves.find(path, index=fc.array_index)
        if stale is not None:
            box.fcurves.remove(stale)
        group = fc.group.name if fc.group else ""
        _copy_fcurve(fc, _new_fcurve(box, path, fc.array_index, group),
                     _value_scale(fc.data_path[len(old) + 1:], ratio))
        count += 1
    return count


def copy_all(scene, source, take) -> None:
    """The look and its animation, with the sequencer scene set for modifiers.new (5.0.1)."""
    with compat.sequencer_scene_set(scene):
        copy_look(source, take)
    copy_animation(scene, source, take)
