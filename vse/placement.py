"""Place a lip-sync result as a take of its source: planned as data against the source as it is
now, applied in one step.

MAIN THREAD ONLY. `plan_take()` reads the scene and returns a TakePlan (testable data: file F on
channel C, result frame 0 at timeline frame S, showing A..B); `apply_take()` is the one function
that adds the take. The source's content and timing are never changed; where the take goes in the
stack, and what else changes while it plays, is vse/layers.py and vse/takes.py
(docs/architecture.md, "Takes").

Frame exactness (docs/blender.md §8, measured on 4.5-5.2): ``new_movie(frame_start=S)`` puts the
result's first frame at S, and every timeline frame shows the next result frame. The upload was
the source's visible frames at the scene rate (vse/snapshot.py), so result frame ``handle_start
+ i`` belongs on recorded timeline frame ``frame_start + i``.

Edits during the job: the record's placement names the source by uid (vse/identity.py) and keeps
its origin (`content_start - content_trim_start`, vse/placement.anchored). If the source moved by
d frames, its origin moved by d and the take follows; it then shows only the frames the source
still shows, and each difference becomes a note in the job's message.

Example: recorded 36..211, the strip since moved +10 and its tail trimmed by 20: d = 10, the take
goes at 46..201 (its last 20 frames are not shown), and the note says 20 of 175 frames fell off.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from fractions import Fraction

from ..client.errors import InputError
from ..worker.plan import exact_rate
from . import compat, identity, layers, look
from .snapshot import scene_rate

log = logging.getLogger(__name__)
MAX_CHANNEL = layers.MAX_CHANNEL


@dataclasses.dataclass(frozen=True)
class TakePlan:
    scene: str
    source_strip: str      # the source's name now
    source_uid: str
    channel: int
    insert: bool           # make `channel` free first (vse/layers.insert_channel)
    content_start: int     # timeline frame of result frame 0
    frame_start: int       # first frame the take shows
    frame_end: int         # exclusive (at most the source's right handle)
    span: tuple[int, int]  # the source's visible range now
    filepath: str
    name: str
    meta: str = ""         # meta strip holding the source now ("" = top level)
    notes: tuple[str, ...] = ()


def origin(strip) -> int:
    """Timeline frame of the strip's source frame 0 (1:1 rate), floored: moves change it, trims do
    not. Example: content_start 11, content_trim_start 5 -> 6."""
    return math.floor(compat.get_timing(strip, "frame_start") - compat.get_timing(strip, "animation_offset_start"))


def anchored(scene, strip_job):
    """`strip_job`'s placement with the source's uid, origin and the scene rate (for the record)."""
    placement = strip_job.placement
    sed = scene.sequence_editor
    strip = compat.strips_all(sed).get(placement.source_strip) if sed else None
    if strip is None:
        return placement
    return dataclasses.replace(placement, source_uid=identity.ensure_uid(scene, strip), source_origin=origin(strip),
                               scene_rate=str(strip_job.scene_rate))


def _rate_note(scene, placement) -> str:
    if not placement.scene_rate:
        return ""
    then, now = Fraction(placement.scene_rate), scene_rate(scene)
    if then == now:
        return ""
    return (f"The scene frame rate changed from {float(then):g} to {float(now):g} fps during the job: the take's "
            f"mouth follows the dialogue as timed at {float(then):g} fps; run it again for {float(now):g} fps")


def _edit_notes(name, shift, want, cover, span, piece) -> list[str]:
    notes = []
    if shift:
        notes.append(f'"{name}" moved {shift:+d} frame(s) during the job: the take moved with it')
    lost = (want[1] - want[0]) - (cover[1] - cover[0])
    if lost:
        notes.append(f'"{name}" was trimmed during the job: the take shows {cover[0]}..{cover[1]}, '
                     f"{lost} of its {want[1] - want[0]} frame(s) are outside the strip now")
    extra = (span[1] - span[0]) - (min(span[1], want[1]) - max(span[0], want[0]))
    if extra and not piece:
        notes.append(f'"{name}" was made longer during the job: {extra} frame(s) were never lip-synced and '
                     "play the original")
    return notes


def plan_take(scene, placement, result_path, source, group: str = "", piece: bool = False) -> TakePlan:
    """Where the result of `placement` goes, against `source` as it is now (see module doc)."""
    parent_map = layers.parents(scene)
    span = layers.shown_range(source, parent_map)
    shift = origin(source) - placement.source_origin if placement.source_uid else 0
    want = (placement.frame_start + shift, placement.frame_end + shift)
    cover = (max(want[0], span[0]), min(want[1], span[1]))
    if cover[1] <= cover[0]:
        raise InputError(f'"{source.name}" no longer shows any of the frames this job lip-synced '
                         f"({want[0]}..{want[1]}; it shows {span[0]}..{span[1]})")
    meta = parent_map.get(source.name)
    channel, insert = layers.take_channel(layers.owner_strips(scene, meta), source, span, cover, group)
    notes = _edit_notes(source.name, shift, want, cover, span, piece)
    notes.append(_rate_note(scene, placement))
    return TakePlan(
        scene=scene.name, source_strip=source.name, source_uid=source.lipsync.uid, channel=channel, insert=insert,
        content_start=want[0] - int(placement.handle_start), frame_start=cover[0], frame_end=cover[1], span=span,
        filepath=os.path.abspath(os.fspath(result_path)), name=f"{source.name}.lipsync",
        meta=meta.name if meta is not None else "", notes=tuple(n for n in notes if n))


def apply_take(scene, plan: TakePlan, source):
    """Add the result as a movie strip per `plan` with the source's look; returns the take.

    A longer result is trimmed to the plan's range; a shorter one ends early (the source's copy
    fills the rest, vse/fills.py; `shortfall` says how much).
    """
    if not os.path.isfile(plan.filepath):
        raise InputError(f"The lip-sync result file is missing: {plan.filepath}")
    meta = layers.parents(scene).get(source.name)
    strips = layers.owner_strips(scene, meta)
    if plan.insert:
        layers.insert_channel(scene, meta, plan.channel)
    take = strips.new_movie(name=plan.name, filepath=plan.filepath, channel=plan.channel,
                            frame_start=plan.content_start, fit_method="ORIGINAL")
    end = min(plan.frame_end, compat.visible_range(take)[1])
    if end <= plan.frame_start:
        strips.remove(take)
        raise InputError(f"The result {os.path.basename(plan.filepath)} has no frame for {plan.frame_start}..")
    layers.move_into(strips, take, plan.channel, plan.frame_start, end)
    look.copy_all(scene, source, take)
    # elements[0].orig_fps, not take.fps: that getter reopens the movie (40-150 ms).
    fps = take.elements[0].orig_fps if len(take.elements) else 0.0
    if fps > 0 and exact_rate(fps) != scene_rate(scene):
        log.warning("Take %s runs at %.3f fps in a %.3f fps scene: frames map one to one, "
                    "so its timing follows the scene rate", take.name, fps,
                    scene.render.fps / scene.render.fps_base)
    return take


def shortfall(plan: TakePlan, take) -> int:
    """Frames of the plan's range the take does not cover (0 when it covers all)."""
    return max(0, plan.frame_end - compat.visible_range(take)[1])


def shortfall_note(plan: TakePlan, take) -> str:
    short = shortfall(plan, take)
    if not short:
        return ""
    end = compat.visible_range(take)[1]
    log.warning("Take %s is %d frame(s) shorter than its source %s (%d..%d)",
                take.name, short, plan.source_strip, plan.frame_start, plan.frame_end)
    return (f"The take is {short} frame(s) shorter than its source: frames {end}..{plan.frame_end} "
            "play the original")
