"""Takes: results placed above their source strip, with provenance, and switching between them.

A take is a movie strip whose `strip.lipsync.is_take` is set and whose `strip.lipsync.source`
names its source strip. Placement itself is vse/placement.py (`plan_take` + `apply_take`: first free channel above the
source, exactly the source's visible range). Takes
stack: a re-run or numberResults > 1 adds more, each on the next free channel.

Switching a take only toggles `mute` on the takes (the source is never changed): the chosen take
plays, the others are muted; "original" mutes them all so the source shows through. The
operator doing it is undoable.
"""

from __future__ import annotations

import json

from . import compat, lines
from .placement import apply_take, plan_take


def place_outputs(scene, rec, outputs) -> list[str]:
    """Place every output file of a finished job (a vse/records.py JobRecord) as a take; returns
    the take strip names."""
    placement = rec.placement
    names = []
    existing = len(takes_of(scene, rec.source_strip))
    for index, path in enumerate(outputs):
        plan = plan_take(scene, placement, path)
        # absolute for now: making it relative reloads the movie (~4 ms in a timer tick); the
        # save_pre handler does it (results.move_results), so saved files hold //lipsync/... paths
        strip = apply_take(scene, plan)
        info = strip.lipsync
        info.is_take = True
        info.source = rec.source_strip
        info.job_id = rec.job_id
        info.take_index = existing + index + 1
        info.provider, info.model = rec.provider, rec.model
        info.remote_id = rec.remote_id
        info.options_json = json.dumps(rec.options, sort_keys=True)
        info.cost = rec.cost if index == 0 else -1.0   # the job's cost, counted once
        info.created = rec.finished
        info.group = f"{rec.group}#{index}" if rec.group else ""
        info.reused = bool(rec.reused_from)
        names.append(strip.name)
        if index == 0 and lines.spoke_text(rec):
            lines.place_line(scene, rec, strip)   # the new line, heard in sync with the take
    # the newest take plays: mute older takes of this source; A/B flips back to the original
    if names:
        select_take(scene, rec.source_strip, names[0])
        source = compat.strips_all(scene.sequence_editor).get(rec.source_strip)
        if source is not None:
            source.lipsync.ab_other = ""
    return names


def find_take(scene, name: str, source_name: str):
    """The take strip `name` of `source_name`, None when deleted or no longer a take of it."""
    sed = scene.sequence_editor
    strip = compat.strips_all(sed).get(name) if sed and name else None
    if strip is None or not strip.lipsync.is_take or strip.lipsync.source != source_name:
        return None
    return strip


def takes_of(scene, source_name: str) -> list:
    """Take strips of `source_name`, oldest first."""
    sed = scene.sequence_editor
    if sed is None or not source_name:
        return []
    found = [s for s in compat.strips_all(sed)
             if compat.strip_type(s) == "MOVIE" and s.lipsync.is_take and s.lipsync.source == source_name]
    found.sort(key=lambda s: (s.lipsync.created, s.lipsync.take_index, s.name))
    return found


def source_of(scene, strip):
    """The source strip of a take (or the strip itself when it is not a take)."""
    if strip is None or not strip.lipsync.is_take:
        return strip
    sed = scene.sequence_editor
    return compat.strips_all(sed).get(strip.lipsync.source) if sed else None


def active_take(scene, source_name: str):
    """The unmuted take of a source, None when the original plays."""
    for strip in reversed(takes_of(scene, source_name)):
        if not strip.mute:
            return strip
    return None


def select_take(scene, source_name: str, take_name: str) -> None:
    """Unmute `take_name` and mute the other takes; "" = back to the original. The pieces placed
    with it (one job split around no-lipsync ranges, ranges.py) play together."""
    found = takes_of(scene, source_name)
    chosen = next((t for t in found if t.name == take_name), None)
    group = chosen.lipsync.group if chosen is not None else ""
    for strip in found:
        strip.mute = not (strip.name == take_name or (group and strip.lipsync.group == group))


def flip(scene, source) -> str:
    """Switch `source` to its A/B counterpart; returns the take now playing ("" = original)."""
    found = takes_of(scene, source.name)
    names = {t.name for t in found}
    playing = active_take(scene, source.name)
    current = playing.name if playing is not None else ""
    other = source.lipsync.ab_other if source.lipsync.ab_other in names | {""} else ""
    if other == current:
        # nothing remembered: original <-> newest take
        other = found[-1].name if not current and found else ""
    select_take(scene, source.name, other)
    source.lipsync.ab_other = current
    return other
