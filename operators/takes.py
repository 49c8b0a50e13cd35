"""Take operators: `lipsync.use_take`, `lipsync.toggle_ab` (F8), `lipsync.draft_to_final`.

use_take        plays one take of a source strip (its other takes muted); "" = back to the original.
remove_take     deletes a take, keeping the effects it fed (they go back to the original).
toggle_ab       flips the preview between the original and a take (or the last two takes). Both
                only toggle `mute` on take strips (the source is never changed) and are undoable.
draft_to_final  the active take's inputs again with a better model (default lipsync-2-pro; sync-3
                with the `model` property), as a new take: the draft stays.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..vse import compat, gate
from .follow import FollowJobsMixin

KEY = "F8"
_keymaps = []



def _has_timeline(context) -> bool:
    scene = compat.sequencer_scene(context)
    return scene is not None and scene.sequence_editor is not None

class LIPSYNC_OT_use_take(bpy.types.Operator):
    """Play this take of the source strip (mute its other takes); empty take = the original"""

    bl_idname = "lipsync.use_take"
    bl_label = "Use Lip Sync Take"
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take", description="Take strip name; empty = back to the original")
    source: StringProperty(name="Source", description="Source strip; empty = the active strip's source")

    @classmethod
    def poll(cls, context):
        return _has_timeline(context)

    def execute(self, context):
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        source_name = self.source
        if not source_name:
            source = takes.source_of(scene, compat.active_strip(context))
            source_name = source.name if source is not None else ""
        if not source_name:
            self.report({"ERROR"}, "Make a strip with lip-sync takes active")
            return {"CANCELLED"}
        names = [t.name for t in takes.takes_of(scene, source_name)]
        if self.take and self.take not in names:
            self.report({"ERROR"}, f'"{self.take}" is not a take of "{source_name}"')
            return {"CANCELLED"}
        playing = takes.active_take(scene, source_name)
        source = compat.strips_all(scene.sequence_editor).get(source_name)
        if source is not None:   # what A/B (lipsync.toggle_ab) flips back to
            source.lipsync.ab_other = playing.name if playing is not None else ""
        takes.select_take(scene, source_name, self.take)
        self.report({"INFO"}, f'Playing {self.take or "the original"} for "{source_name}"')
        return {"FINISHED"}


class LIPSYNC_OT_remove_take(bpy.types.Operator):
    """Delete this take; the original plays again and effects the take fed are kept (fed by the
    original again). Blender's own Delete would delete those effects with the take"""

    bl_idname = "lipsync.remove_take"
    bl_label = "Remove Lip Sync Take"
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take", description="Take strip name")

    @classmethod
    def poll(cls, context):
        return _has_timeline(context)

    def execute(self, context):
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        strip = compat.strips_all(scene.sequence_editor).get(self.take)
        source = takes.source_of(scene, strip) if strip is not None and strip.lipsync.is_take else None
        if source is None:
            self.report({"ERROR"}, f'"{self.take}" is not a lip-sync take with its source in this scene')
            return {"CANCELLED"}
        takes.remove_take(scene, source, strip)
        self.report({"INFO"}, f'Removed {self.take}; "{source.name}" plays its original')
        return {"FINISHED"}


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
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        source = takes.source_of(scene, compat.active_strip(context))
        if source is None or not takes.takes_of(scene, source.name):
            cls.poll_message_set("Make a strip with lip-sync takes (or one of its takes) active")
            return False
        return True

    def execute(self, context):
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        source = takes.source_of(scene, compat.active_strip(context))
        if source is None or not takes.takes_of(scene, source.name):
            self.report({"ERROR"}, "Make a strip with lip-sync takes active")
            return {"CANCELLED"}
        now = takes.flip(scene, source)
        self.report({"INFO"}, f'A/B: {"take " + now if now else "original"} of "{source.name}"')
        return {"FINISHED"}


MODEL_ITEMS = [("lipsync-2-pro", "lipsync-2-pro", "sync. labs' higher-quality model"),
               ("sync-3", "sync-3", "sync. labs' newest model"),
               ("lipsync-2", "lipsync-2", "sync. labs' standard model")]


def _active_take(context):
    strip = compat.active_strip(context)
    return strip if strip is not None and strip.lipsync.is_take else None


class LIPSYNC_OT_draft_to_final(FollowJobsMixin, bpy.types.Operator):
    """Re-run the active take's inputs with a better model; both takes are kept"""

    bl_idname = "lipsync.draft_to_final"
    bl_label = "Lip Sync Draft to Final"
    bl_options = {"REGISTER"}

    model: EnumProperty(name="Final Model", items=MODEL_ITEMS, default="lipsync-2-pro")

    @classmethod
    def poll(cls, context):
        if not gate.poll_online(cls):
            return False
        if _active_take(context) is None:
            cls.poll_message_set("Make an approved lip-sync take active (a strip in the Takes list)")
            return False
        return True

    def start_jobs(self, context):
        from ..vse import launch, records  # late: job code loads at first use (docs/architecture.md "Start-up")
        from ..client.capabilities import models_for  # late: as above

        take = _active_take(context)
        if take is None:
            return launch.Launched().refuse("", "Make a lip-sync take active")
        scene, job = records.find(take.lipsync.job_id)
        if job is not None and job.reused_from:   # a cached take: its inputs are those of the job it reused
            scene, job = records.find(job.reused_from)
        if job is None:
            return launch.Launched().refuse("", f'The job of take "{take.name}" is not in this file any more')
        if job.model == self.model:
            return launch.Launched().refuse(
                "", f'Take "{take.name}" already uses {self.model}; pick another final model')
        if self.model not in models_for(job.provider):
            return launch.Launched().refuse("", f"{self.model} is not offered by {job.provider}")
        return launch.rerun(scene, job, model=self.model, whole=True)


classes = (LIPSYNC_OT_use_take, LIPSYNC_OT_remove_take, LIPSYNC_OT_toggle_ab, LIPSYNC_OT_draft_to_final)


def register_keymap():
    """F8 in the Sequencer for A/B. Background mode has no keyconfigs: nothing to register."""
    wm = bpy.context.window_manager
    keyconfig = wm.keyconfigs.addon if wm is not None and wm.keyconfigs else None
    if keyconfig is None:
        return
    keymap = keyconfig.keymaps.new(name="Sequencer", space_type="SEQUENCE_EDITOR")
    item = keymap.keymap_items.new(LIPSYNC_OT_toggle_ab.bl_idname, KEY, "PRESS")
    _keymaps.append((keymap, item))


def unregister_keymap():
    for keymap, item in _keymaps:
        try:
            keymap.keymap_items.remove(item)
        except (ReferenceError, RuntimeError):
            pass
    _keymaps.clear()
