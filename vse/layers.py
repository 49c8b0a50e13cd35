"""Where a take sits in the stack, so that it never hides what was above its source.

MAIN THREAD. The design and why are in docs/architecture.md ("Takes"). The take goes on the
lowest channel above its source, inside the source's container (top level or meta), such that
nothing but the source's own takes and fills lies between them on the source's frames: then
what rendered above the source renders above the take. When that channel holds another strip on
those frames, a channel is inserted: every strip of the container on it and above moves up one
(highest first, so none lands on a busy channel and gets shuffled), and so do the channels'
name, mute and lock. Blender clamps channel 129 to 128 silently, so a container that would need
it is refused before anything moves.

Example: source on channel 2 (frames 6..101), a title on 3 (1..120), a colour strip on 4: the
title moves to 4, the colour to 5, channels 3.. keep their flags one higher, the take goes on 3.
With channel 3 empty on 6..101 nothing moves and the take goes on 3.

Effects whose input is the source (a cross into the next shot, a blur) are pointed at the take
that covers the effect's whole range: a muted strip still feeds effects, and a single-input effect
would hide the take (docs/blender.md §10). An effect no playing take covers stays on the source:
it shows the original there, as before.
"""

from __future__ import annotations

from ..client.errors import InputError
from . import compat

MAX_CHANNEL = 128
INPUTS = ("input_1", "input_2")


def parents(scene) -> dict:
    """Strip name -> the meta strip holding it."""
    sed = scene.sequence_editor
    found = {}
    for meta in compat.strips_all(sed) if sed else ():
        if compat.strip_type(meta) == "META":
            for child in compat.strips(meta):
                found[child.name] = meta
    return found


def container_of(scene, strip, parent_map=None):
    """The meta strip holding `strip`, None at top level."""
    return (parents(scene) if parent_map is None else parent_map).get(strip.name)


def owner_strips(scene, meta):
    return compat.strips(meta) if meta is not None else compat.strips(scene.sequence_editor)


def owner_channels(scene, meta):
    owner = meta if meta is not None else scene.sequence_editor
    return getattr(owner, "channels", None)


def shown_range(strip, parent_map) -> tuple[int, int]:
    """Visible range on the timeline, clipped by every meta holding the strip."""
    left, right = (int(f) for f in compat.visible_range(strip))
    name, depth = strip.name, 0
    while name in parent_map and depth < 64:
        meta = parent_map[name]
        m_left, m_right = compat.visible_range(meta)
        left, right = max(left, int(m_left)), min(right, int(m_right))
        name, depth = meta.name, depth + 1
    return left, right


def overlaps(strip, start: int, end: int) -> bool:
    left, right = compat.visible_range(strip)
    return left < end and right > start


def is_ours(strip, source_uid: str) -> bool:
    """A take or fill of the source with `source_uid`."""
    info = strip.lipsync
    return bool(source_uid) and (info.is_take or info.is_fill) and info.source_uid == source_uid


def take_channel(strips, source, span, cover, group: str) -> tuple[int, bool]:
    """(channel, insert) for a take of `source` showing `cover` of the source's frames `span`.

    Channels above the source holding only its own takes and fills on `span` are passed; the
    first with nothing on `span` (or only pieces of the same `group` beside `cover`) is used; the
    first with another strip on `span` is made free by inserting a channel (insert=True).
    """
    uid = source.lipsync.uid
    for channel in range(source.channel + 1, MAX_CHANNEL + 1):
        on_span = [s for s in strips if s.channel == channel and overlaps(s, *span)]
        if not on_span or all(s.lipsync.is_take and group and s.lipsync.group == group and is_ours(s, uid)
                              and not overlaps(s, *cover) for s in on_span):
            return channel, False
        if not all(is_ours(s, uid) for s in on_span):
            check_insert(strips)
            return channel, True
    raise InputError(f'No channel left above "{source.name}" for its take: channels up to {MAX_CHANNEL} are in use')


def check_insert(strips) -> None:
    """Refuse, before anything moves, an insert that would push a strip past channel 128."""
    if any(s.channel >= MAX_CHANNEL for s in strips):
        raise InputError(f"Cannot insert a channel for the take: a strip is on channel {MAX_CHANNEL}, the last one; "
                         "move the strips on the top channels down and Retry (the result is kept, at no cost)")


def insert_channel(scene, meta, channel: int) -> list[str]:
    """Make `channel` of the container empty: strips on it and above move up one, highest first,
    with the channels' name/mute/lock. Returns the names of the strips moved."""
    strips = owner_strips(scene, meta)
    check_insert(strips)
    movers = sorted((s for s in strips if s.channel >= channel), key=lambda s: -s.channel)
    for strip in movers:
        strip.channel = strip.channel + 1
    channels = owner_channels(scene, meta)
    if channels is not None:
        shift_channel_settings(channels, channel)
    return [s.name for s in movers]


def shift_channel_settings(channels, channel: int) -> None:
    """Channel settings from `channel` up move up one; `channel` gets the defaults. Names are
    unique per container, so all move through placeholders; a default name ("Channel 4") stays
    the default of its new number. Example: "Titles" on 3 -> "Titles" on 4, "Channel 3" on 3 -> 3."""
    top = min(len(channels) - 1, MAX_CHANNEL)
    settings = [(c.name, c.mute, c.lock) for c in (channels[i] for i in range(channel, top))]
    for index in range(channel, top + 1):
        channels[index].name = f"\u2063lipsync {index}"
    for index, (name, mute, lock) in zip(range(channel + 1, top + 1), settings):
        target = channels[index]
        target.name = f"Channel {index}" if name == f"Channel {index - 1}" else name
        target.mute, target.lock = mute, lock
    fresh = channels[channel]
    fresh.name, fresh.mute, fresh.lock = f"Channel {channel}", False, False


def _staging_channel(strips, avoid: int) -> int | None:
    used = {s.channel for s in strips}
    return next((c for c in range(MAX_CHANNEL, 0, -1) if c not in used and c != avoid), None)


def move_into(strips, strip, channel: int, start: int, end: int) -> None:
    """Give `strip` the range [start, end) on `channel`, which is free there. Setting a handle or a
    channel while the strip overlaps another makes Blender shuffle it to another channel, so it is
    trimmed on an empty channel first, then moved."""
    staging = _staging_channel(strips, channel)
    if staging is not None and strip.channel != staging:
        strip.channel = staging
    left, right = compat.visible_range(strip)
    if right > end:
        compat.set_timing(strip, "frame_final_end", end)
    if left < start:
        compat.set_timing(strip, "frame_final_start", start)
    strip.channel = channel
    if strip.channel != channel or tuple(compat.visible_range(strip)) != (start, end):
        raise InputError(f'Could not place "{strip.name}" on channel {channel} at {start}..{end}: '
                         f"Blender put it on {strip.channel} at {compat.visible_range(strip)}")


def effects_on(scene, names: set[str]) -> list[tuple]:
    """(effect, input slot) of every effect fed by a strip named in `names`."""
    found = []
    for strip in compat.strips_all(scene.sequence_editor):
        for slot in INPUTS:
            feed = getattr(strip, slot, None)
            if feed is not None and feed.name in names:
                found.append((strip, slot))
    return found


def repoint_effects(scene, source, stand_ins, ours: set[str]) -> list[str]:
    """Point effects fed by the source (or one of its takes) at the stand-in covering the effect's
    whole range; the source when none does. Returns the effects left on the source although a
    take plays (for the job's message)."""
    uncovered = []
    for effect, slot in effects_on(scene, ours | {source.name}):
        left, right = compat.visible_range(effect)
        target = next((t for t in stand_ins if compat.visible_range(t)[0] <= left
                       and compat.visible_range(t)[1] >= right), source)
        if stand_ins and target == source:
            uncovered.append(effect.name)
        if getattr(effect, slot) != target:
            setattr(effect, slot, target)
            # 5.2 keeps a stale strip lookup after an input set through RNA: deleting the new input
            # then leaves the effect pointing at freed memory (a crash). Setting the name, even to
            # itself, rebuilds the lookup (docs/blender.md §10).
            effect.name = effect.name
    return sorted(set(uncovered))
