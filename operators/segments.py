"""`lipsync.refresh_segments`: rebuild the panel's segment rows for the active movie strip."""

from __future__ import annotations

import bpy

from ..vse import compat, segments


class LIPSYNC_OT_refresh_segments(bpy.types.Operator):
    """Rebuild the segment rows from the sound strips overlapping the active movie strip, and the estimate"""

    bl_idname = "lipsync.refresh_segments"
    bl_label = "Refresh Segments"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return compat.sequencer_scene(context) is not None

    def execute(self, context):
        scene = compat.sequencer_scene(context)
        why = segments.refresh_segments(scene, compat.active_strip(context))
        segments.refresh_estimate(scene, force=True)     # the button also re-reads the estimate
        if why:
            self.report({"WARNING"}, why)
        return {"FINISHED"}


classes = (LIPSYNC_OT_refresh_segments,)
