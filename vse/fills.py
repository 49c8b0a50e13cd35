"""Fills: copies of the source that play where its take does not reach.

MAIN THREAD. While a take plays, its source is muted (docs/architecture.md, "Takes"), so frames of
the source that no take of the playing group covers would show what lies below it. A shorter
result, the pieces of a job split around no-lipsync ranges, or a source trimmed longer during the
job leave such frames. Each gap gets a fill: a `sequencer.duplicate` of the source trimmed to the
gap, on a channel of the group's takes. The duplicate carries everything Blender shows of the
source (look, animation, masks, and the automatic playback rate, which is not in RNA, so
new_movie could not give it: docs/blender.md §10). Fills belong to a take group: they play and
mute with it, and are made again when another piece of the group is placed.

Example: source on 6..101, the take covers 6..86 (15 frames short): one fill on 86..101.
"""

from __future__ import annotations

import bpy

from ..client.errors import InputError
from . import compat, identity, layers, look, playback


def gaps(span, covers) -> list[tuple[int, int]]:
    """Frames of `span` no range of `covers` reaches. Example: 6..101 minus 16..30, 40..64 ->
    6..16, 30..40, 64..101."""
    start, end = span
    found, cursor = [], start
    for a, b in sorted(covers):
        if a > cursor:
            found.append((cursor, min(a, end)))
        cursor = max(cursor, b)
    if cursor < end:
        found.append((cursor, end))
    return [(a, b) for a, b in found if b > a]


def fills_of(scene, source_uid: str, group: str | None = None) -> list:
    sed = scene.sequence_editor
    if sed is None or not source_uid:
        return []
    return [s for s in compat.strips_all(sed) if s.lipsync.is_fill and s.lipsync.source_uid == source_uid
            and (group is None or s.lipsync.group == group)]


def remove(scene, source_uid: str, group: str | None = None) -> int:
    """Remove the fills of a source (of one group). Removing a strip removes its F-curves too."""
    found = fills_of(scene, source_uid, group)
    parent_map = layers.parents(scene) if found else {}
    for fill in found:
        layers.owner_strips(scene, parent_map.get(fill.name)).remove(fill)
    return len(found)


def _displayed(sed):
    stack = list(sed.meta_stack)
    return stack[-1] if stack else None


def _duplicate(scene, source, meta):
    """A `sequencer.duplicate` of `source` alone; selection, active strip and the displayed meta
    are the artist's again afterwards. No undo step of its own (the placement is one step)."""
    sed = scene.sequence_editor
    every = list(compat.strips_all(sed))
    selected = {s.name for s in every if s.select}
    active = sed.active_strip.name if sed.active_strip is not None else ""
    before = {s.name for s in every}
    shown = _displayed(sed)
    try:
        for strip in every:
            strip.select = False
        source.select = True
        sed.active_strip = source
        with compat.sequencer_override(scene):
            if shown != meta:   # operators act on the displayed meta only
                sed.display_stack(meta)
            try:
                result = bpy.ops.sequencer.duplicate("EXEC_DEFAULT", False)
            finally:
                if _displayed(sed) != shown:
                    sed.display_stack(shown)
    finally:
        for strip in compat.strips_all(sed):
            strip.select = strip.name in selected
        sed.active_strip = compat.strips_all(sed).get(active) if active else None
    new = [s for s in compat.strips_all(sed) if s.name not in before]
    if result != {"FINISHED"} or len(new) != 1:
        raise InputError(f'Could not copy "{source.name}" to fill the frames its take does not cover ({result})')
    return new[0]


def _copy_movie(scene, source, meta):
    """A movie strip showing what movie strip `source` shows, made without an operator: the same
    file and stream at the same content start, its look and animation (vse/look.py), and the
    automatic playback rate bit written into the new strip's flag word (vse/playback.py). Why not
    `sequencer.duplicate`: an operator run under `temp_override` reads the override from C with the
    GIL released, and on Python 3.11 (bpy 4.5, 5.0) another thread taking the GIL meanwhile
    crashes Blender (docs/blender.md §10); worker threads are always about. None when the copy
    would not show the same frames (then the caller duplicates)."""
    strips = layers.owner_strips(scene, meta)
    start = int(compat.get_timing(source, "frame_start"))
    fill = strips.new_movie(name=f"{source.name}.fill", filepath=source.filepath, channel=source.channel,
                            frame_start=start, fit_method="ORIGINAL")
    try:
        if getattr(source, "stream_index", 0) and hasattr(fill, "stream_index"):
            fill.stream_index = source.stream_index
        if playback.auto_rate(scene, source) and not playback.set_auto_rate(fill):
            raise InputError("the automatic playback rate could not be set")
        look.copy_all(scene, source, fill)
        same = (int(compat.get_timing(fill, "frame_start")) == start
                and compat.get_timing(fill, "frame_duration") == compat.get_timing(source, "frame_duration"))
        if not same:
            raise InputError("the copy would not show the same frames")
    except (InputError, RuntimeError, AttributeError, TypeError):
        strips.remove(fill)
        return None
    return fill


def make(scene, source, group: str, takes) -> list:
    """Fill the frames of `source` that `takes` (one group) leave uncovered; returns the fills."""
    parent_map = layers.parents(scene)
    holes = gaps(layers.shown_range(source, parent_map), [compat.visible_range(t) for t in takes])
    if not holes:
        return []
    meta = parent_map.get(source.name)
    strips = layers.owner_strips(scene, meta)
    channels = sorted({t.channel for t in takes})
    made = []
    for start, end in holes:
        channel = next((c for c in channels
                        if not any(s.channel == c and layers.overlaps(s, start, end) for s in strips)), None)
        if channel is None:
            raise InputError(f'No room beside the take of "{source.name}" to fill frames {start}..{end}')
        fill = (_copy_movie(scene, source, meta) if source.type == "MOVIE" else None) or _duplicate(scene, source, meta)
        info = fill.lipsync
        info.uid = identity.new_uid()
        identity.stamp(fill)
        info.is_fill, info.is_take, info.muted_by_take = True, False, False
        info.source_uid, info.source, info.group = source.lipsync.uid, source.name, group
        layers.move_into(strips, fill, channel, start, end)
        made.append(fill)
    return made
