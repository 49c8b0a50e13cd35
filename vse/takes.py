"""Takes: results placed in their source's layer, with provenance, and switching between them.

A take is a movie strip whose `strip.lipsync.is_take` is set and whose `strip.lipsync.source_uid`
is its source's uid (vse/identity.py; `source` keeps the name for older files). Placement itself
is vse/placement.py, the channel vse/layers.py. Takes of one source stack above it; the takes of
one group (the pieces of a job split around no-lipsync ranges, worker/ranges.py) play together,
with their fills (vse/fills.py).

While a take plays its source is muted (`muted_by_take`), the fills of its group play, and effects
fed by the source are fed by the take; "original" undoes exactly these three things
(`play`, docs/architecture.md "Takes"). The operators doing it are undoable.
"""

from __future__ import annotations

import dataclasses
import json

from ..client.errors import InputError
from . import compat, fills, identity, layers, lines, placement


@dataclasses.dataclass
class Placed:
    """What place_outputs did: the take names, and sentences for the job's message."""

    names: list[str]
    notes: list[str]


def group_key(rec, index: int) -> str:
    """The play group of output `index` of record `rec`: pieces of one split share it."""
    return f"{rec.group}#{index}" if rec.group else f"{rec.job_id}#{index}"


def _provenance(take, rec, source, index: int, number: int, group: str) -> None:
    info = take.lipsync
    info.uid = identity.new_uid()
    identity.stamp(take)
    info.is_take, info.is_fill, info.muted_by_take = True, False, False
    info.source, info.source_uid = source.name, source.lipsync.uid
    info.job_id = rec.job_id
    info.take_index = number
    info.provider, info.model = rec.provider, rec.model
    info.remote_id = rec.remote_id
    info.options_json = json.dumps(rec.options, sort_keys=True)
    info.cost = rec.cost if index == 0 else -1.0   # the job's cost, counted once
    info.created = rec.finished
    info.group = group
    info.reused = bool(rec.reused_from)


def source_for(scene, rec):
    """The source strip of record `rec` as it is now (by uid; renamed or moved, it is found)."""
    identity.resolve(scene)
    source = identity.follow_renames(scene, rec)   # renamed during the job: the record follows
    if source is None:
        raise InputError(f'The source strip "{rec.source_strip}" is no longer in scene "{scene.name}"')
    return source


def place_outputs(scene, rec, outputs) -> Placed:
    """Place every output file of a finished job (a vse/records.py JobRecord) as a take; the first
    plays. Raises InputError (nothing placed for that output) when it cannot be placed."""
    source = source_for(scene, rec)
    identity.ensure_uid(scene, source)
    where = rec.placement
    names, notes, groups = [], [], []
    number = len(takes_of(scene, source.name))
    for index, path in enumerate(outputs):
        group = group_key(rec, index)
        fills.remove(scene, source.lipsync.uid, group)   # a new piece re-plans its group's fills
        plan = placement.plan_take(scene, where, path, source, group, piece=bool(rec.group))
        take = placement.apply_take(scene, plan, source)
        _provenance(take, rec, source, index, number + index + 1, group)
        notes += [*plan.notes, placement.shortfall_note(plan, take)]
        fills.make(scene, source, group, group_takes(scene, source, group))
        names.append(take.name)
        groups.append(group)
        if index == 0 and lines.spoke_text(rec):
            lines.place_line(scene, rec, take)   # the new line, heard in sync with the take (issue 17)
    if names:
        notes += play(scene, source, groups[0])
        source.lipsync.ab_other = ""
    return Placed(names, list(dict.fromkeys(n for n in notes if n)))


def _is_of(strip, source) -> bool:
    info = strip.lipsync
    if info.source_uid and source.lipsync.uid:
        return info.source_uid == source.lipsync.uid
    return info.source == source.name      # placed before uids existed


def ours(scene, source) -> list:
    """Takes and fills of `source`."""
    sed = scene.sequence_editor
    return [s for s in compat.strips_all(sed) if (s.lipsync.is_take or s.lipsync.is_fill) and _is_of(s, source)]


def group_takes(scene, source, group: str) -> list:
    return [s for s in ours(scene, source) if s.lipsync.is_take and s.lipsync.group == group]


def _source_named(scene, source_name: str):
    sed = scene.sequence_editor
    strip = compat.strips_all(sed).get(source_name) if sed is not None and source_name else None
    return strip if strip is not None and not (strip.lipsync.is_take or strip.lipsync.is_fill) else None


def find_take(scene, name: str, source_name: str):
    """The take strip `name` of `source_name`, None when deleted or no longer a take of it."""
    source = _source_named(scene, source_name)
    strip = compat.strips_all(scene.sequence_editor).get(name) if source is not None and name else None
    if strip is None or not strip.lipsync.is_take or not _is_of(strip, source):
        return None
    return strip


def takes_of(scene, source_name: str) -> list:
    """Take strips of `source_name`, oldest first."""
    source = _source_named(scene, source_name)
    if source is None:
        return []
    found = [s for s in ours(scene, source) if s.lipsync.is_take and compat.strip_type(s) == "MOVIE"]
    found.sort(key=lambda s: (s.lipsync.created, s.lipsync.take_index, s.name))
    return found


def source_of(scene, strip):
    """The source strip of a take or fill (or the strip itself when it is neither)."""
    if strip is None or not (strip.lipsync.is_take or strip.lipsync.is_fill):
        return strip
    return identity.find_source(scene, strip.lipsync.source_uid, strip.lipsync.source)


def active_take(scene, source_name: str):
    """The unmuted take of a source, None when the original plays."""
    for strip in reversed(takes_of(scene, source_name)):
        if not strip.mute:
            return strip
    return None


def _set_mute(strip, mute: bool) -> None:
    if strip.mute != mute:
        strip.mute = mute


def play(scene, source, group: str) -> list[str]:
    """Let the takes of `group` (with their fills) play in place of `source`; "" = the original.

    Changes only mute flags (the source's, its takes' and fills') and the inputs of effects fed
    by the source or its takes. Returns notes for the job's message."""
    mine = ours(scene, source)
    playing = [s for s in mine if group and s.lipsync.group == group]
    for strip in mine:
        _set_mute(strip, strip not in playing)
        if strip.lipsync.source != source.name:
            strip.lipsync.source = source.name
    info = source.lipsync
    if playing and not source.mute:
        source.mute, info.muted_by_take = True, True
    elif not playing and info.muted_by_take:
        source.mute, info.muted_by_take = False, False
    stand_ins = [s for s in playing if s.lipsync.is_take]
    left = layers.repoint_effects(scene, source, stand_ins, {s.name for s in mine})
    return [f'The effect "{name}" shows the original: no take covers all of its frames' for name in left]


def select_take(scene, source_name: str, take_name: str) -> None:
    """Play `take_name` (and the pieces placed with it) instead of the source; "" = the original."""
    source = _source_named(scene, source_name)
    if source is None:
        return
    chosen = next((t for t in takes_of(scene, source_name) if t.name == take_name), None)
    play(scene, source, chosen.lipsync.group if chosen is not None else "")


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


def heal(scene) -> list[str]:
    """Give back the sources muted for a take that is gone: the artist deleted the playing take
    with Delete instead of the Takes panel's remove button (`remove_take`), so the source would
    leave a hole in the edit (and Blender deleted the effects the take fed: Undo brings them back). Each plays again
    as "original" (`play`: fills muted, effects fed by the source again). Returns their names.
    Run after the timeline lost strips (vse/handlers.py) and on demand."""
    sed = scene.sequence_editor
    if sed is None:
        return []
    healed = []
    for source in [s for s in compat.strips_all(sed) if s.lipsync.muted_by_take]:
        if not any(t.lipsync.is_take and not t.mute for t in ours(scene, source)):
            play(scene, source, "")
            healed.append(source.name)
    return healed


def remove_take(scene, source, take) -> None:
    """Delete `take` without taking the artist's effects with it: Blender deletes an effect
    together with its input, and effects fed by the source are fed by the playing take
    (`play`). So when the take plays, the original plays first (effects go back to the source),
    then the take goes; its group's fills go with the last take of the group."""
    group = take.lipsync.group
    if not take.mute:
        play(scene, source, "")
    layers.owner_strips(scene, layers.parents(scene).get(take.name)).remove(take)
    if not any(s.lipsync.is_take and s.lipsync.group == group for s in ours(scene, source)):
        fills.remove(scene, source.lipsync.uid, group)
