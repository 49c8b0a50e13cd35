"""`lipsync.pick_speaker`: click the speaker's face in the sequencer preview.

The click becomes a frame of the uploaded video and a pixel of the source picture
(vse/speaker.py does the arithmetic, undoing the strip's transform).
"""

from __future__ import annotations

import bpy
from bpy.props import FloatVectorProperty, StringProperty

from ..vse import compat
from ..vse.speaker import strip_to_source


def _preview_region(context):
    """(area, region) of a sequencer preview in the current window, preferring the context area."""
    areas = [context.area] if context.area else []
    areas += [a for a in context.window.screen.areas if a != context.area] if context.window else []
    for area in areas:
        if area is None or area.type != "SEQUENCE_EDITOR":
            continue
        if area.spaces.active.view_type not in ("PREVIEW", "SEQUENCER_PREVIEW"):
            continue
        wanted = "PREVIEW" if area.spaces.active.view_type == "SEQUENCER_PREVIEW" else "WINDOW"
        for region in area.regions:
            if region.type == wanted:
                return area, region
    return None, None


class LIPSYNC_OT_pick_speaker(bpy.types.Operator):
    """Click the speaker's face in the sequencer preview (stores frame and source-video pixel)"""

    bl_idname = "lipsync.pick_speaker"
    bl_label = "Pick Speaker"
    bl_options = {"REGISTER", "UNDO"}

    location: FloatVectorProperty(name="Location", size=2, options={"SKIP_SAVE"},
                                  description="Preview coordinates (scene pixels from the centre) for scripts")
    segment: StringProperty(name="Segment", options={"SKIP_SAVE"},
                            description="Segment row (sound strip name); empty = the whole job")

    @classmethod
    def poll(cls, context):
        strip = compat.active_strip(context)
        if strip is None or compat.strip_type(strip) != "MOVIE":
            cls.poll_message_set("Make a movie strip active first")
            return False
        return True

    def execute(self, context):
        return self._store(context, *self.location)

    def invoke(self, context, event):
        area, region = _preview_region(context)
        if region is None:
            self.report({"ERROR"}, "Open a sequencer preview to pick the speaker")
            return {"CANCELLED"}
        self._area, self._region = area, region
        context.window.cursor_modal_set("EYEDROPPER")
        area.header_text_set("Click the speaker's face in the preview (Esc / right-click: cancel)")
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type in {"ESC", "RIGHTMOUSE"} and event.value == "PRESS":
            return self._done(context, {"CANCELLED"})
        if event.type == "LEFTMOUSE" and event.value == "PRESS":
            region = self._region
            rx, ry = event.mouse_x - region.x, event.mouse_y - region.y
            if not (0 <= rx < region.width and 0 <= ry < region.height):
                return {"RUNNING_MODAL"}
            vx, vy = region.view2d.region_to_view(rx, ry)
            x, y, width, height = strip_to_source(compat.active_strip(context), vx, vy)
            if not (0 <= x < width and 0 <= y < height):
                return {"RUNNING_MODAL"}   # a click beside the picture: keep waiting for the face
            return self._done(context, self._store(context, vx, vy))
        return {"PASS_THROUGH"} if event.type in {"MIDDLEMOUSE", "WHEELUPMOUSE", "WHEELDOWNMOUSE"} \
            else {"RUNNING_MODAL"}

    def _done(self, context, result):
        context.window.cursor_modal_restore()
        self._area.header_text_set(None)
        return result

    def _store(self, context, vx, vy):
        scene = compat.sequencer_scene(context)
        strip = compat.active_strip(context)
        x, y, width, height = strip_to_source(strip, vx, vy)
        if not (0 <= x < width and 0 <= y < height):
            self.report({"ERROR"}, f'The point is outside "{strip.name}" ({int(x)}, {int(y)} of {width}x{height})')
            return {"CANCELLED"}
        left, right = compat.visible_range(strip)
        frame = min(max(scene.frame_current, left), right - 1) - left
        point = (int(x), int(y))
        settings = scene.lipsync
        if self.segment:
            row = settings.segments.get(self.segment)
            if row is None:
                self.report({"ERROR"}, f'No segment "{self.segment}"')
                return {"CANCELLED"}
            row.use_speaker_point, row.speaker_frame, row.speaker_point = True, frame, point
        else:
            settings.speaker_mode = "POINT"
            settings.speaker_frame, settings.speaker_point = frame, point
        self.report({"INFO"}, f"Speaker at ({point[0]}, {point[1]}) on frame {frame} of \"{strip.name}\"")
        return {"FINISHED"}


classes = (LIPSYNC_OT_pick_speaker,)
