"""What Blender plays of a sound strip: muted channels and the volume animation (docs/blender.md §9).

MAIN THREAD, read only. The volume F-curve is sampled here into plain (seconds, gain) points
(worker/envelope.py applies them in the worker's ffmpeg cut; no audio is touched here), and
nothing depends on the playhead: `strip.volume` is the value at the current frame only.
"""

from __future__ import annotations

import math
from fractions import Fraction

from bpy_extras import anim_utils

from ..worker import envelope


def _channel_muted(container, channel: int) -> bool:
    channels = getattr(container, "channels", None)
    if channels is None or not 0 <= channel < len(channels):
        return False
    return bool(channels[channel].mute)


def muted(strip, parents) -> bool:
    """True when Blender does not play `strip`: the strip, its channel, a meta holding it or that
    meta's channel is muted (channels of a meta are the meta's own)."""
    node = strip
    for _depth in range(64):
        if node.mute:
            return True
        meta = parents[node.name] if node.name in parents else None
        container = meta if meta is not None else node.id_data.sequence_editor
        if _channel_muted(container, int(node.channel)):
            return True
        if meta is None:
            return False
        node = meta
    return False


def volume_fcurve(strip):
    """The F-curve animating `strip.volume` in its scene's action, or None."""
    scene = strip.id_data
    anim = getattr(scene, "animation_data", None)
    action = anim.action if anim is not None else None
    if action is None:
        return None
    path = strip.path_from_id("volume")
    slot = getattr(anim, "action_slot", None)
    if slot is not None:          # 4.4+: layered actions (5.0 has no Action.fcurves)
        bag = anim_utils.action_get_channelbag_for_slot(action, slot)
        curve = bag.fcurves.find(path) if bag is not None else None
    else:
        curve = action.fcurves.find(path)
    if curve is None or curve.mute or not len(curve.keyframe_points):
        return None
    return curve


def animated(strip) -> bool:
    return volume_fcurve(strip) is not None


def gain(strip, start: int, end: int, part_start: Fraction, rate: Fraction) -> tuple[float, envelope.Points]:
    """(volume, gain points) of `strip` heard on timeline frames [start, end).

    Not animated: (strip.volume, ()). Animated: the F-curve evaluated at every frame from `start`
    to `end` where it can change (between its first and last key, or everywhere with modifiers or
    linear extrapolation), as points in seconds from `part_start` (the timeline frame the part's
    first sample plays at), simplified; (g, ()) when it is the same g throughout.

    Example: keys 1.0 at frame 10 and 0.0 at 20 (linear), part on frames 0..40 from frame 0 at
    24 fps -> points ((0, 1), (10/24, 1), (20/24, 0), (40/24, 0)).
    """
    curve = volume_fcurve(strip)
    if curve is None:
        return float(strip.volume), ()
    lo, hi = start, end
    if not len(curve.modifiers) and curve.extrapolation == "CONSTANT":
        frames = [k.co[0] for k in curve.keyframe_points]
        lo, hi = max(start, math.floor(min(frames))), min(end, math.ceil(max(frames)))
    samples = sorted({start, end, *range(lo, hi + 1)})
    points = envelope.simplify([(float((f - part_start) / rate), max(0.0, float(curve.evaluate(f))))
                                for f in samples])
    if all(abs(g - points[0][1]) < 1e-6 for _t, g in points):
        return points[0][1], ()
    return 1.0, points
