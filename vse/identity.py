"""Which strip is the source of a job or a take: a uid, not its name (docs/architecture.md, "Takes").

MAIN THREAD. Strips have no id in RNA, names change (renames, clashes), and `as_pointer()`
changes on every undo and file load (docs/blender.md §10). So a strip the add-on works with
(a source, a take, a fill) carries `lipsync.uid` plus a stamp: this session's token, a generation
(bumped on every load, undo and redo) and the strip's address. Duplicate, copy/paste and split
copy the whole PropertyGroup, so a copy carries the uid *and its original's stamp*: in a session,
a strip whose stamp is not its own is a copy. After a load or an undo every stamp is stale;
`resolve(stale=True)` then picks the original of each uid by the name it had when stamped, then
by the job records, then by position, re-keys the others and stamps all again.

A copy loses its role: a copy of a source or of a fill becomes the artist's own strip (uid
cleared, unmuted if the add-on had muted it); a copy of a take (a take split in two) stays a take
of the same source with a uid of its own.

Example: "Shot" (uid 5f3a…, stamped) is duplicated to "Shot.001" and renamed "Hero": at the next
`resolve`, "Shot.001" has the stamp of "Shot" but another address, so it loses the uid; "Hero"
keeps it, and a job submitted as "Shot" still finds its source.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict

import bpy

from . import compat

_SESSION = uuid.uuid4().hex[:8]
_generation = 0


def new_uid() -> str:
    return uuid.uuid4().hex[:16]


def bump_generation() -> None:
    """Every address changed (file load, undo, redo): no stamp may be trusted from now on."""
    global _generation
    _generation += 1


def _stamp_of(strip) -> str:
    return f"{_SESSION}.{_generation}.{strip.as_pointer()}"


def stamp(strip) -> None:
    strip.lipsync.stamp = _stamp_of(strip)
    strip.lipsync.stamp_name = strip.name


def is_fresh(strip) -> bool:
    """The strip's stamp is its own, made in this generation: it is not a copy."""
    return strip.lipsync.stamp == _stamp_of(strip)


def _is_source(strip) -> bool:
    info = strip.lipsync
    return not info.is_take and not info.is_fill


def _original(strips, names_in_records: set[str], stale: bool):
    """The one of `strips` (sharing a uid) that owns it."""
    if not stale:
        fresh = [s for s in strips if is_fresh(s)]
        if len(fresh) == 1:
            return fresh[0]
    by_name = [s for s in strips if s.name == s.lipsync.stamp_name]
    if len(by_name) == 1:
        return by_name[0]
    recorded = [s for s in strips if s.name in names_in_records]
    if len(recorded) == 1:
        return recorded[0]
    return min(strips, key=lambda s: (s.channel, compat.visible_range(s)[0], s.name))


def rekey(strip) -> None:
    """A copy: a take stays a take (own uid); a source or fill copy becomes a plain strip."""
    info = strip.lipsync
    if info.is_take:
        info.uid = new_uid()
        stamp(strip)
        return
    info.uid = info.stamp = info.stamp_name = ""
    if info.is_fill:
        info.is_fill, info.source_uid, info.group = False, "", ""
    if info.muted_by_take:
        strip.mute = False
        info.muted_by_take = False


def _record_names(scene) -> set[str]:
    return {rna.source_strip for rna in scene.lipsync.jobs}


def resolve(scene, stale: bool = False) -> int:
    """Give every uid in `scene` one owner: copies re-keyed (`rekey`), the rest stamped.
    `stale`: addresses changed since the stamps were made (load, undo). Returns the copies found."""
    sed = scene.sequence_editor
    if sed is None:
        return 0
    groups = defaultdict(list)
    for strip in compat.strips_all(sed):
        if strip.lipsync.uid:
            groups[strip.lipsync.uid].append(strip)
    copies = 0
    names = None
    for strips in groups.values():
        if len(strips) == 1:
            owner = strips[0]
        else:
            names = _record_names(scene) if names is None else names
            owner = _original(strips, names, stale)
            for strip in strips:
                if strip != owner:
                    rekey(strip)
                    copies += 1
        if stale or not is_fresh(owner) or owner.lipsync.stamp_name != owner.name:
            stamp(owner)
    return copies


def ensure_uid(scene, strip) -> str:
    """The uid of `strip`, given one (and stamped) when it has none; copies are told apart first."""
    if strip.lipsync.uid and not is_fresh(strip):
        resolve(scene)
    if not strip.lipsync.uid:
        strip.lipsync.uid = new_uid()
        stamp(strip)
    return strip.lipsync.uid


def find_source(scene, uid: str, name: str = ""):
    """The source strip with `uid` (read only: safe in draw()). Records and takes written before
    uids existed (uid "") find it by `name`, as long as that strip has no other uid."""
    sed = scene.sequence_editor
    if sed is None:
        return None
    if uid:
        found = [s for s in compat.strips_all(sed) if s.lipsync.uid == uid and _is_source(s)]
        if len(found) > 1:
            fresh = [s for s in found if is_fresh(s)] or [s for s in found if s.name == s.lipsync.stamp_name]
            found = fresh or found
        if found:
            return found[0]
    strip = compat.strips_all(sed).get(name) if name else None
    if strip is not None and _is_source(strip) and strip.lipsync.uid in ("", uid):
        return strip
    return None


def follow_renames(scene, job):
    """The source strip of record `job` (a vse/records.py JobRecord) as it is now, found by uid;
    a record whose source was renamed takes the new name. None when the source is gone."""
    where = job.placement
    source = find_source(scene, where.source_uid, where.source_strip)
    if source is not None and source.name != job.source_strip:
        job.source_strip = job.name = source.name
        job.placement = dataclasses.replace(where, source_strip=source.name)
    return source


def resolve_all(stale: bool) -> None:
    """`resolve` every scene of the open file (load_post, undo_post, save_pre)."""
    for scene in bpy.data.scenes:
        resolve(scene, stale)
