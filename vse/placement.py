"""Place a lip-sync result back as a take above its source strip: plan as data, apply in one step.

MAIN THREAD ONLY. `plan_take()` reads the scene and returns a TakePlan (testable data: file F on
channel C at frames A..B as a take of strip S); `apply_take()` is the one function that edits the
timeline. The source strip is never modified, muted or deleted: the take sits on a higher
channel, so it is what plays, and deleting it brings the original back.

Frame exactness (docs/blender.md §8, measured on 4.5-5.2): ``new_movie(frame_start=A)``
puts the result's first frame at A, and every timeline frame shows the next result frame (movie
strips never resample to the scene rate). The upload was the source's visible frames retimed to
the scene rate (vse/snapshot.py), so result frame ``i`` belongs on timeline frame ``A + i``.

Example: source visible on 36..211 (175 frames) on channel 2, channel 3 busy over 100..120:
``TakePlan(channel=4, frame_start=36, frame_end=211)``. A 180-frame result is added at 36 (ends at
216) and its right handle set to 211; a 170-frame result ends at 206 and is left so: holding its
last frame would freeze the face, and the original shows through on 206..211 (`take_shortfall`
says 5 and the workflow reports it).
"""

from __future__ import annotations

import dataclasses
import logging
import os

from ..client.errors import InputError
from ..worker.plan import exact_rate
from . import compat
from .snapshot import scene_rate

log = logging.getLogger(__name__)
MAX_CHANNEL = 128


@dataclasses.dataclass(frozen=True)
class TakePlan:
    scene: str
    source_strip: str
    channel: int
    frame_start: int
    frame_end: int  # exclusive: the source's right handle
    filepath: str
    name: str
    meta: str = ""  # meta strip holding the source ("" = top level)
    handle_start: int = 0  # result frames before frame_start (pre-roll sent for context), hidden


def _container(scene, meta: str):
    sed = scene.sequence_editor or scene.sequence_editor_create()
    if meta:
        owner = compat.strips_all(sed).get(meta)
        if owner is not None:
            return compat.strips(owner)
    return compat.strips(sed)


def _busy(strips, channel: int, frame_start: int, frame_end: int) -> bool:
    for strip in strips:
        if strip.channel != channel:
            continue
        left, right = compat.visible_range(strip)
        if left < frame_end and right > frame_start:
            return True
    return False


def free_channel(strips, above: int, frame_start: int, frame_end: int) -> int:
    """First channel above `above` with no strip overlapping [frame_start, frame_end).

    Example: source on 2, channel 3 holds a strip on 100..120, channel 4 one on 300..400:
    for the range 36..211 channel 3 is busy, channel 4 is free -> 4.
    """
    for channel in range(above + 1, MAX_CHANNEL + 1):
        if not _busy(strips, channel, frame_start, frame_end):
            return channel
    raise InputError(f"No free channel above {above} for frames {frame_start}..{frame_end}.")


def plan_take(scene, placement, result_path) -> TakePlan:
    """Where the result of `placement` goes: first free channel above the source, same range."""
    strips = _container(scene, getattr(placement, "meta", ""))
    channel = free_channel(strips, placement.source_channel, placement.frame_start, placement.frame_end)
    return TakePlan(
        scene=placement.scene,
        source_strip=placement.source_strip,
        channel=channel,
        frame_start=int(placement.frame_start),
        frame_end=int(placement.frame_end),
        filepath=os.path.abspath(os.fspath(result_path)),
        name=f"{placement.source_strip}.lipsync",
        meta=getattr(placement, "meta", ""),
        handle_start=int(getattr(placement, "handle_start", 0)),
    )


def _picture_size(strip) -> tuple[int, int]:
    if len(strip.elements):
        return strip.elements[0].orig_width, strip.elements[0].orig_height
    return 0, 0


def _match_picture(take, source) -> None:
    """Make the take cover the same screen area as the source, whatever its resolution.

    Example: source 1280x720 at scale 1.5 covers 1920x1080 scene pixels; a 640x360 result gets
    scale 1.5 * 1280/640 = 3.0. Offsets, rotation, origin, flips and blending are copied; the
    crop (in image pixels) is scaled the same way: 10 px of the source = 5 px of the result.
    """
    sw, sh = _picture_size(source)
    rw, rh = _picture_size(take)
    src, dst = source.transform, take.transform
    if sw and sh and rw and rh:
        dst.scale_x = src.scale_x * sw / rw
        dst.scale_y = src.scale_y * sh / rh
        for side, ratio in (("min_x", rw / sw), ("max_x", rw / sw), ("min_y", rh / sh), ("max_y", rh / sh)):
            setattr(take.crop, side, int(round(getattr(source.crop, side) * ratio)))
    dst.offset_x, dst.offset_y = src.offset_x, src.offset_y
    dst.rotation = src.rotation
    dst.origin = tuple(src.origin)
    dst.filter = src.filter
    for name in ("use_flip_x", "use_flip_y", "blend_type", "blend_alpha", "alpha_mode",
                 "color_saturation", "color_multiply"):
        try:
            setattr(take, name, getattr(source, name))
        except (AttributeError, TypeError, ValueError):
            pass


def apply_take(scene, plan: TakePlan):
    """Add the result as a movie strip per `plan`; returns the new strip. Frame-exact.

    The channel is checked again (the artist may have edited while the job ran) and moved up if
    it was taken meanwhile. A longer result is trimmed to the plan's right handle; a shorter one
    ends early (see module doc). The source strip is only read.
    """
    if not os.path.isfile(plan.filepath):
        raise InputError(f"The lip-sync result file is missing: {plan.filepath}")
    strips = _container(scene, plan.meta)
    channel = plan.channel
    if _busy(strips, channel, plan.frame_start, plan.frame_end):
        channel = free_channel(strips, channel, plan.frame_start, plan.frame_end)
    source = compat.strips_all(scene.sequence_editor).get(plan.source_strip)
    take = strips.new_movie(name=plan.name, filepath=plan.filepath, channel=channel,
                            frame_start=plan.frame_start,
                            fit_method="ORIGINAL" if source is not None else "FIT")
    if plan.handle_start:
        # Pre-roll: hide the first `handle_start` result frames, then slide the content back so
        # result frame handle_start lands on frame_start. Hiding first keeps the visible part
        # inside the free range at every step. Example: handles 5, range 16..64: added at 16,
        # left handle 21 (result frames 5..), content start 16 - 5 = 11 -> visible 16.., frame 16
        # shows result frame 5 = the source's frame at 16.
        compat.set_timing(take, "frame_final_start", plan.frame_start + plan.handle_start)
        compat.set_timing(take, "frame_start", compat.get_timing(take, "frame_start") - plan.handle_start)
    left, right = compat.visible_range(take)
    if left != plan.frame_start:  # cannot happen with new_movie, but never place a take off by one
        compat.set_timing(take, "frame_start", compat.get_timing(take, "frame_start") + plan.frame_start - left)
    if compat.visible_range(take)[1] > plan.frame_end:
        compat.set_timing(take, "frame_final_end", plan.frame_end)
    if source is not None:
        _match_picture(take, source)
    short = take_shortfall(plan, take)
    if short:
        log.warning("Take %s is %d frame(s) shorter than its source %s (%d..%d)",
                    take.name, short, plan.source_strip, plan.frame_start, plan.frame_end)
    # elements[0].orig_fps, not take.fps: that getter reopens the movie (40-150 ms).
    fps = take.elements[0].orig_fps if len(take.elements) else 0.0
    if fps > 0 and exact_rate(fps) != scene_rate(scene):
        log.warning("Take %s runs at %.3f fps in a %.3f fps scene: frames map one to one, "
                    "so its timing follows the scene rate", take.name, fps,
                    scene.render.fps / scene.render.fps_base)
    return take


def take_shortfall(plan: TakePlan, take) -> int:
    """Frames of the source's range the take does not cover (0 when it covers all)."""
    return max(0, plan.frame_end - compat.visible_range(take)[1])
