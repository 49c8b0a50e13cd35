"""The spoken line of a text job (issue 17) placed back as a sound strip beside its take.

MAIN THREAD. The take shows the new mouth; its audio (the provider's speech, muxed into the
result file) is added as a NEW sound strip over exactly the take's frames, so the editor hears
the line. The Text strip and any original dialogue are only read, never changed or muted.
"""

from __future__ import annotations

import json

from ..client.errors import InputError
from . import compat
from .layers import overlaps


def spoke_text(rec) -> bool:
    """The record's request as submitted had text inputs (client JobRequest.to_json)."""
    try:
        data = json.loads(rec.request or "{}")
    except ValueError:
        return False
    return bool(isinstance(data, dict) and data.get("text"))


def _container(scene, meta: str):
    sed = scene.sequence_editor
    owner = compat.strips_all(sed).get(meta) if meta else None
    return compat.strips(owner if owner is not None else sed)


MAX_CHANNEL = 128     # Blender's last channel (docs/blender.md §10)


def free_channel(strips, above: int, frame_start: int, frame_end: int) -> int:
    """First channel above `above` with no strip overlapping [frame_start, frame_end). A sound strip
    hides no picture, so it may go above a title; it only needs frames nobody else uses there.

    Example: take on 3, channel 4 holds a title on 16..40, channel 5 is empty: for 16..64 -> 5.
    """
    for channel in range(above + 1, MAX_CHANNEL + 1):
        if not any(s.channel == channel and overlaps(s, frame_start, frame_end) for s in strips):
            return channel
    raise InputError(f"No free channel above {above} for frames {frame_start}..{frame_end}.")


def place_line(scene, rec, take):
    """Add the take's audio as a sound strip in sync with it: same content start, same visible
    frames, first free channel above the take. Returns the new strip.

    Example: a take on channel 3 with content start 11 and visible frames 16..64 (handles hid
    5 frames): the sound starts at 11 and is trimmed to 16..64, so frame 16 plays the speech the
    provider synced with result frame 5.
    """
    strips = _container(scene, rec.placement.meta)
    left, right = (int(f) for f in compat.visible_range(take))
    channel = free_channel(strips, take.channel, left, right)
    start = int(compat.get_timing(take, "frame_start"))
    sound = strips.new_sound(name=f"{rec.source_strip}.line", filepath=take.filepath, channel=channel,
                             frame_start=start)
    if compat.visible_range(sound)[0] < left:
        compat.set_timing(sound, "frame_final_start", left)
    if compat.visible_range(sound)[1] > right:
        compat.set_timing(sound, "frame_final_end", right)
    info = sound.lipsync
    info.source, info.job_id = rec.source_strip, rec.job_id
    info.provider, info.model = rec.provider, rec.model
    return sound
