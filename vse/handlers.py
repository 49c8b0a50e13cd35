"""Every app handler, msgbus subscription and app timer of the add-on, registered in one place.

- save_pre: move results from the session's temp folder beside the .blend being written
  (vse/folders.py), so the saved file already refers to `//lipsync/...`.
- load_post: stamp the strips' identities again (every address changed, vse/identity.py), start a
  new journal (vse/journal.py), re-attach jobs that were in flight (vse/reattach.py; polls by
  remote id, never spends) and subscribe again to the selection (file loads drop msgbus
  subscriptions).
- undo_post/redo_post: stamp identities again and give the job records back what Undo must not
  take from them (vse/journal.py, docs/architecture.md "Undo").
- save_pre also tells copies of source strips from their originals while the addresses still do
  (vse/identity.py), so the saved file has one owner per uid.
- msgbus: the active strip and the selection keep the segment rows and the estimate current
  without computing in draw() (notifications arrive on the main thread, never in background).
- unregister removes them all, and the app timers too: a timer left registered hangs bpy 4.5 at
  exit (docs/blender.md §4).
"""

from __future__ import annotations

import logging

import bpy
from bpy.app.handlers import persistent

from . import apply, compat, folders, identity, journal, money, notices, reattach, records, segments

log = logging.getLogger(__name__)
_OWNER = object()   # msgbus owner of our subscriptions


@persistent
def _save_pre(filepath="", *_args):
    identity.resolve_all(stale=False)
    path = filepath if isinstance(filepath, str) and filepath else bpy.data.filepath
    if not path:
        return
    try:
        count = folders.move_results(path)
        if count:
            log.info("Moved %d lip-sync result(s) into %s", count, folders.results_dir(path))
    except OSError as exc:  # a full disk must not block saving the artist's work
        log.error("Could not move lip-sync results beside %s: %s", path, exc)


@persistent
def _load_post(*_args):
    journal.clear()
    identity.bump_generation()
    identity.resolve_all(stale=True)
    subscribe()
    started = reattach.reattach_all()
    if started:
        log.info("re-attached %d lip-sync job(s)", len(started))
    reattach.schedule_follow()


@persistent
def _undo_post(*_args):
    identity.bump_generation()
    identity.resolve_all(stale=True)
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
        segments.refresh_segments(scene, strip)
    else:
        segments.refresh_estimate(scene)


def on_selection_changed():
    scene = _sequencer_scene()
    if scene is not None:
        segments.refresh_estimate(scene)


def subscribe():
    bpy.msgbus.clear_by_owner(_OWNER)
    bpy.msgbus.subscribe_rna(key=(bpy.types.SequenceEditor, "active_strip"), owner=_OWNER, args=(),
                             notify=on_active_strip_changed)
    bpy.msgbus.subscribe_rna(key=(bpy.types.Strip, "select"), owner=_OWNER, args=(),
                             notify=on_selection_changed)


_HANDLERS = (("save_pre", _save_pre), ("load_post", _load_post), ("undo_post", _undo_post),
             ("redo_post", _undo_post))
_TIMERS = (notices.clear_status, reattach.follow_in_ui)


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
    for timer in _TIMERS:
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
