"""Every app handler, msgbus subscription and app timer of the add-on, registered in one place.

- save_pre: move results from the session's temp folder beside the .blend being written
  (vse/folders.py), so the saved file already refers to `//lipsync/...`.
- load_post: forget what was cached of the last file, stamp the strips' identities again (every
  address changed, vse/identity.py), start a new journal (vse/journal.py), re-attach jobs that were
  in flight (vse/reattach.py; polls by remote id, never spends; spread over app-timer ticks in the
  UI) and subscribe again to the selection (file loads drop msgbus subscriptions).
- undo_post/redo_post: the records' id map is rebuilt on next use (vse/records.py); identities are
  stamped again and the job records get back what Undo must not take from them (vse/journal.py,
  docs/architecture.md "Undo").
- save_pre also tells copies of source strips from their originals while the addresses still do
  (vse/identity.py), so the saved file has one owner per uid.
- msgbus and depsgraph_update_post: the active strip keeps the segment rows current; the
  selection and edits mark the estimate dirty, refreshed by a debounced app timer
  (vse/segments.py), never in draw() (notifications arrive on the main thread, never in background).
- unregister removes them all, and the app timers too: a timer left registered hangs bpy 4.5 at
  exit (docs/blender.md §4).
"""

from __future__ import annotations

import logging
import sys

import bpy
from bpy.app.handlers import persistent

from ..worker import joins
from . import compat, identity, segments, timeline

log = logging.getLogger(__name__)
_OWNER = object()   # msgbus owner of our subscriptions


def _job_code_needed() -> bool:
    """A file with lip-sync job records needs the job code (records, apply, re-attach, folders),
    and so does every file once this session has loaded it; loading or saving any other file
    stays light (docs/architecture.md "Start-up")."""
    return f"{__package__}.records" in sys.modules or any(len(scene.lipsync.jobs) for scene in bpy.data.scenes)


@persistent
def _save_pre(filepath="", *_args):
    identity.resolve_all(stale=False)
    path = filepath if isinstance(filepath, str) and filepath else bpy.data.filepath
    if not path or not _job_code_needed():
        return
    from . import folders  # late: job code loads at first use (docs/architecture.md "Start-up")

    try:
        count = folders.move_results(path)
        if count:
            log.info("Moved %d lip-sync result(s) into %s", count, folders.results_dir(path))
    except OSError as exc:  # a full disk must not block saving the artist's work
        log.error("Could not move lip-sync results beside %s: %s", path, exc)


@persistent
def _load_post(*_args):
    on_file_loaded()


def on_file_loaded(background: bool | None = None) -> list[str]:
    """What load_post does; `background` None = bpy.app.background (tests pass False to drive the
    UI's path by hand, docs/blender.md §7). Returns the job ids re-attached at once."""
    # a new file: nothing cached from the last one describes it (vse/timeline.py, vse/records.py)
    timeline.forget()
    segments.forget()
    joins.clear()      # the claims named jobs of the last file (worker/joins.py)
    needed = _job_code_needed()
    if needed:
        from . import apply, journal, records  # late: job code loads at first use (docs/architecture.md "Start-up")

        records.forget()
        apply.forget()
        journal.clear()
    identity.bump_generation()
    identity.resolve_all(stale=True)
    subscribe()
    if not needed:
        return []
    from . import reattach  # late: as above

    started = reattach.on_load(background)      # UI: spread over app-timer ticks (vse/reattach.py)
    if started:
        log.info("re-attached %d lip-sync job(s)", len(started))
    reattach.schedule_follow(background)
    return started


@persistent
def _depsgraph_update_post(scene, depsgraph=None):
    # a strip moved, trimmed, muted...: the estimate may change; the timer decides (debounced)
    if scene is not None and scene.sequence_editor is not None \
            and (depsgraph is None or depsgraph.id_type_updated("SCENE")):
        segments.mark_dirty(scene)
        _watch_count(scene)


# scene name -> strips in it at the last update: fewer = something was deleted, maybe a playing take
_counts: dict[str, int] = {}


def _watch_count(scene) -> None:
    count = len(compat.strips_all(scene.sequence_editor))
    if count < _counts.get(scene.name, 0) and not bpy.app.timers.is_registered(heal_takes):
        # not from inside the depsgraph update: edits there would start another one
        bpy.app.timers.register(heal_takes, first_interval=0.0)
    _counts[scene.name] = count


def heal_takes():
    """App timer: sources muted for a take the artist deleted play again (vse/takes.heal)."""
    from . import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

    for scene in bpy.data.scenes:
        healed = takes.heal(scene)
        if healed:
            log.info("take deleted: %s play(s) the original again", ", ".join(healed))
    return None


@persistent
def _undo_post(*_args):
    # undo and redo restore an earlier copy of the file's data: record indices may have moved,
    # every strip address changed (vse/identity.py), records may have lost what jobs did (journal)
    scene = _sequencer_scene()
    if scene is not None:
        segments.mark_dirty(scene)
    identity.bump_generation()
    identity.resolve_all(stale=True)
    if not _job_code_needed():
        return
    from . import apply, journal, money, records  # late: job code loads at first use (docs/architecture.md "Start-up")

    records.forget()
    changed = journal.restore()
    for job_id in changed:
        apply.remember_shown(job_id, records.find(job_id)[1])
    if changed:
        money.refresh_spent()
        log.info("after undo/redo: %d lip-sync job record(s) given back what they did", len(changed))


def _sequencer_scene():
    return compat.sequencer_scene(bpy.context)


def on_active_strip_changed():
    scene = _sequencer_scene()
    if scene is None or scene.sequence_editor is None:
        return
    strip = scene.sequence_editor.active_strip
    ours = strip is not None and (strip.lipsync.is_take or strip.lipsync.is_fill)
    if strip is not None and compat.strip_type(strip) == "MOVIE" and not ours \
            and strip.name != scene.lipsync.segments_strip:
        segments.refresh_segments(scene, strip)      # one strip's rows; marks the estimate dirty
    else:
        segments.mark_dirty(scene)


def on_selection_changed():
    scene = _sequencer_scene()
    if scene is not None:
        segments.mark_dirty(scene)


def subscribe():
    bpy.msgbus.clear_by_owner(_OWNER)
    bpy.msgbus.subscribe_rna(key=(bpy.types.SequenceEditor, "active_strip"), owner=_OWNER, args=(),
                             notify=on_active_strip_changed)
    bpy.msgbus.subscribe_rna(key=(bpy.types.Strip, "select"), owner=_OWNER, args=(),
                             notify=on_selection_changed)


_HANDLERS = (("save_pre", _save_pre), ("load_post", _load_post), ("undo_post", _undo_post),
             ("redo_post", _undo_post), ("depsgraph_update_post", _depsgraph_update_post))


def _timers() -> list:
    """The app timers that may be registered now: a module never imported registered none."""
    found = [segments.estimate_timer, heal_takes]
    for name, timers in (("notices", ("clear_status",)), ("reattach", ("follow_in_ui", "reattach_step"))):
        module = sys.modules.get(f"{__package__}.{name}")
        if module is not None:
            found += [getattr(module, timer) for timer in timers]
    return found


def register():
    for kind, handler in _HANDLERS:
        getattr(bpy.app.handlers, kind).append(handler)
    subscribe()


def unregister():
    for kind, handler in _HANDLERS:
        handlers = getattr(bpy.app.handlers, kind)
        if handler in handlers:
            handlers.remove(handler)
    bpy.msgbus.clear_by_owner(_OWNER)
    for timer in _timers():
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    timeline.forget()
    segments.forget()
