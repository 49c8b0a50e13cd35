"""A/B: flip the preview between the original and a take (or two takes) with one key; and the
completion notice (status bar text, optional sound) when a batch ends.

`lipsync.toggle_ab` (Sequencer keymap: F8, also in F3 search and the Lip Sync menu) only toggles
`mute` on the take strips of the active strip's source, like `lipsync.use_take`: the source's
timing and content are never changed (it is not even muted; the takes sit above it). Each flip
is one undo step. What it flips back to is remembered on the source (`lipsync.ab_other`, set by
this operator and by use_take): after choosing take 2 while take 1 played, F8 flips 2 <-> 1;
after a new take is placed, F8 flips take <-> original.

Keymap: registered in the add-on keyconfig; in background mode there is none (no window
manager keyconfigs), so registering is skipped there.
"""

from __future__ import annotations

import logging

import bpy

from .. import compat
from . import takes

log = logging.getLogger(__name__)
KEY = "F8"
_keymaps = []


def flip(scene, source) -> str:
    """Switch `source` to its A/B counterpart; returns the take now playing ("" = original)."""
    found = takes.takes_of(scene, source.name)
    names = {t.name for t in found}
    playing = takes.active_take(scene, source.name)
    current = playing.name if playing is not None else ""
    other = source.lipsync.ab_other if source.lipsync.ab_other in names | {""} else ""
    if other == current:
        # nothing remembered: original <-> newest take
        other = found[-1].name if not current and found else ""
    takes.select_take(scene, source.name, other)
    source.lipsync.ab_other = current
    return other


class LIPSYNC_OT_toggle_ab(bpy.types.Operator):
    """Flip the preview between the original strip and its take (or between two takes); undoable"""

    bl_idname = "lipsync.toggle_ab"
    bl_label = "Lip Sync A/B"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        scene = compat.sequencer_scene(context)
        if scene is None or scene.sequence_editor is None:
            return False
        source = takes.source_of(scene, compat.active_strip(context))
        if source is None or not takes.takes_of(scene, source.name):
            cls.poll_message_set("Make a strip with lip-sync takes (or one of its takes) active")
            return False
        return True

    def execute(self, context):
        scene = compat.sequencer_scene(context)
        source = takes.source_of(scene, compat.active_strip(context))
        if source is None or not takes.takes_of(scene, source.name):
            self.report({"ERROR"}, "Make a strip with lip-sync takes active")
            return {"CANCELLED"}
        now = flip(scene, source)
        self.report({"INFO"}, f'A/B: {"take " + now if now else "original"} of "{source.name}"')
        return {"FINISHED"}


# -- completion notice ------------------------------------------------------------------------
def notify(context, text: str, *, background: bool | None = None) -> bool:
    """Status bar text for a few seconds and, if the preference is on, a short chime; True when
    shown. Background mode has neither a status bar nor an audio device to bother."""
    if bpy.app.background if background is None else background:
        return False
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        try:
            workspace.status_text_set(text)
            _schedule_clear(workspace)
        except (AttributeError, RuntimeError, TypeError, ValueError):
            pass
    from ..preferences import get_prefs
    if get_prefs(context).notify_sound:
        play_chime()
    return True


# Workspaces whose status text the timer below clears. A named, module-level timer (not a lambda)
# so unregister() can remove it: a timer left registered hangs bpy 4.5 at exit (blender.md §4).
_pending_clear = []


def _schedule_clear(workspace, seconds: float = 6.0) -> None:
    _pending_clear.append(workspace)
    if not bpy.app.timers.is_registered(_clear_status):
        bpy.app.timers.register(_clear_status, first_interval=seconds)


def _clear_status():
    while _pending_clear:
        workspace = _pending_clear.pop()
        try:
            workspace.status_text_set(None)
        except (ReferenceError, RuntimeError, TypeError):
            pass
    return None


def play_chime() -> bool:
    """Two short tones through Blender's audio (aud); False when there is no device or no aud."""
    try:
        import aud
        device = aud.Device()
        tone = aud.Sound.sine(880).limit(0, 0.12).fadeout(0.08, 0.04)
        second = aud.Sound.sine(1320).limit(0, 0.18).fadeout(0.12, 0.06)
        device.play(tone.join(second))
        return True
    except Exception as exc:  # noqa: BLE001 - a missing sound device must not break a job's end
        log.debug("no completion sound: %s", exc)
        return False


classes = (LIPSYNC_OT_toggle_ab,)


def register():
    wm = bpy.context.window_manager
    keyconfig = wm.keyconfigs.addon if wm is not None and wm.keyconfigs else None
    if keyconfig is None:   # background mode: no keyconfigs
        return
    keymap = keyconfig.keymaps.new(name="Sequencer", space_type="SEQUENCE_EDITOR")
    item = keymap.keymap_items.new(LIPSYNC_OT_toggle_ab.bl_idname, KEY, "PRESS")
    _keymaps.append((keymap, item))


def unregister():
    if bpy.app.timers.is_registered(_clear_status):
        bpy.app.timers.unregister(_clear_status)
    _pending_clear.clear()
    for keymap, item in _keymaps:
        try:
            keymap.keymap_items.remove(item)
        except (ReferenceError, RuntimeError):
            pass
    _keymaps.clear()
