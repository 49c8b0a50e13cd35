"""Sidebar panels, lists and menus: draw only, never compute or do I/O.

Sequencer > Sidebar > "Lip Sync": provider/model and the options the capability table allows
(unsupported ones greyed with the reason), the estimate, segments, speaker, jobs, takes.
The right-click menu of the sequencer gets a "Lip Sync" submenu; every operator is in F3 search.
"""

import functools
import math
import time

import bpy

from ..vse import compat
from ..vse.status import IN_FLIGHT

CATEGORY = "Lip Sync"


@functools.lru_cache(maxsize=512)
def _supports(provider, model, option):
    # capability-table lookup; cached so draw() stays cheap
    from ..client.capabilities import supports  # late: job code loads at first use (docs/architecture.md "Start-up")

    return supports(provider, model, option)


def _option(layout, settings, prop, option, **kw):
    ok, why = _supports(settings.provider, settings.model, option)
    row = layout.row()
    row.active = ok          # greyed, still editable: a refused option can be switched off again
    row.prop(settings, prop, **kw)
    if not ok:
        sub = layout.row()
        sub.enabled = False
        sub.label(text=why, icon="INFO")
    return ok


def _followed(job_id) -> bool:
    from ..worker.runtime import RUNTIME  # late: job code loads at first use (docs/architecture.md "Start-up")

    return RUNTIME.is_active(job_id)


def _elapsed(rec) -> str:
    # a record may come from someone else's .blend: NaN or 1e300 times draw as nothing, never raise
    if not rec.created:
        return ""
    span = (rec.finished or time.time()) - rec.created
    if not math.isfinite(span) or not 0 <= span < 1e7:
        return ""
    seconds = int(span)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _usd(value: float) -> str:
    return f"${value:.2f}" if math.isfinite(value) and 0 <= value < 1e6 else ""


class _SidebarPanel:
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = CATEGORY

    @classmethod
    def poll(cls, context):
        return compat.sequencer_scene(context) is not None


class LIPSYNC_PT_main(_SidebarPanel, bpy.types.Panel):
    bl_label = "Lip Sync"

    def draw(self, context):
        layout = self.layout
        settings = compat.sequencer_scene(context).lipsync
        col = layout.column()
        col.prop(settings, "provider")
        ok, why = _supports(settings.provider, settings.model, "sync_mode")
        col.prop(settings, "model")
        if why and "not offered" in why:
            col.label(text=why, icon="ERROR")
        col.separator()
        _option(col, settings, "sync_mode", "sync_mode")
        row = col.row(align=True)
        ok, why = _supports(settings.provider, settings.model, "temperature")
        row.active = ok
        row.prop(settings, "use_temperature", text="")
        sub = row.row()
        sub.active = settings.use_temperature
        sub.prop(settings, "temperature")
        if not ok:
            col.label(text=why, icon="INFO")
        _option(col, settings, "occlusion_detection", "occlusion_detection")
        _option(col, settings, "emotion", "emotion")
        _option(col, settings, "face_mode", "mode")
        _option(col, settings, "number_results", "number_results")
        _option(col, settings, "use_segments", "segments")
        col.prop(settings, "handles")
        col.prop(settings, "split_long")
        col.prop(settings, "use_cache")
        col.separator()
        row = col.row()
        row.label(text=settings.estimate_text or "Estimate: select movie strips", icon="FUND")
        row.operator("lipsync.refresh_segments", text="", icon="FILE_REFRESH")
        row = col.row()
        row.label(text=settings.provider_estimate_text or "Provider's own price: ask", icon="URL")
        row.operator("lipsync.provider_estimate", text="", icon="WORLD")
        if settings.spent_text:
            col.label(text=settings.spent_text, icon="BOOKMARKS")
        col = layout.column(align=True)
        col.scale_y = 1.3
        col.operator("lipsync.submit", icon="PLAY")
        col.operator("lipsync.submit_selected", icon="SEQ_STRIP_DUPLICATE")


class LIPSYNC_PT_ranges(_SidebarPanel, bpy.types.Panel):
    bl_label = "No-Lipsync Ranges"
    bl_parent_id = "LIPSYNC_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        col = self.layout.column(align=True)
        col.label(text="Frames not sent (cutaways, reactions):", icon="INFO")
        col.label(text='- a Color or Adjustment strip named "No Lipsync"')
        col.label(text='  on any channel, over the frames to skip')
        col.label(text='- or markers "nolipsync" ... "nolipsync_end"')
        col.label(text="Each remaining range is its own job and take;")
        col.label(text="the estimate above already leaves them out.")


class LIPSYNC_UL_segments(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.label(text=item.name, icon="FONT_DATA" if item.is_text else "SOUND")
        row.label(text=f"{item.video_start:.2f}-{item.video_end:.2f}s")
        if item.is_text:
            row.label(text=f"voice {item.voice or 'default'}")
        else:
            row.label(text=f"audio {item.audio_start:.2f}-{item.audio_end:.2f}s")
        if item.use_speaker_point:
            row.label(text="", icon="RESTRICT_SELECT_OFF")


class LIPSYNC_PT_segments(_SidebarPanel, bpy.types.Panel):
    bl_label = "Segments"
    bl_parent_id = "LIPSYNC_PT_main"

    def draw(self, context):
        layout = self.layout
        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        strip = compat.active_strip(context)
        row = layout.row()
        row.label(text=f"Of: {settings.segments_strip or '-'}", icon="FILE_MOVIE")
        row.operator("lipsync.refresh_segments", text="", icon="FILE_REFRESH")
        if strip is not None and settings.segments_strip and strip.name != settings.segments_strip:
            layout.label(text="The active strip changed: refresh", icon="INFO")
        layout.template_list("LIPSYNC_UL_segments", "", settings, "segments", settings, "segments_index", rows=2)
        if 0 <= settings.segments_index < len(settings.segments):
            item = settings.segments[settings.segments_index]
            if item.is_text:
                _voice_row(layout, settings, item)
            box = layout.box()
            ok, why = _supports(settings.provider, settings.model, "segments.options_override")
            box.active = ok
            box.prop(item, "use_speaker_point")
            sub = box.column()
            sub.active = item.use_speaker_point
            sub.prop(item, "speaker_frame")
            sub.prop(item, "speaker_point")
            op = sub.operator("lipsync.pick_speaker", text="Pick in Preview", icon="EYEDROPPER")
            op.segment = item.name
            if not ok:
                layout.label(text=why, icon="INFO")


def _voice_row(layout, settings, item):
    # a Text strip's own voice (issue 17), greyed with the reason where the model has no TTS
    ok, why = _supports(settings.provider, settings.model, "text")
    box = layout.box()
    row = box.row()
    row.active = ok
    row.prop(item, "voice", text="Voice (this line)")
    if not ok:
        box.label(text=why, icon="INFO")


class LIPSYNC_PT_text(_SidebarPanel, bpy.types.Panel):
    """Dialogue from text (issue 17): Text strips over a movie strip are spoken by the provider's TTS."""

    bl_label = "Dialogue from Text"
    bl_parent_id = "LIPSYNC_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = compat.sequencer_scene(context).lipsync
        col = layout.column()
        col.label(text="A Text strip over a movie strip is a line to speak", icon="FONT_DATA")
        if _option(col, settings, "voice_id", "text"):
            col.label(text="Empty: the preferences' default voice")
        row = col.row(align=True)
        ok, why = _supports(settings.provider, settings.model, "tts_settings")
        row.active = ok
        row.prop(settings, "use_tts_settings")
        sub = col.column(align=True)
        sub.active = ok and settings.use_tts_settings
        sub.prop(settings, "tts_stability")
        sub.prop(settings, "tts_similarity_boost")
        if not ok:
            col.label(text=why, icon="INFO")


class LIPSYNC_PT_speaker(_SidebarPanel, bpy.types.Panel):
    bl_label = "Speaker"
    bl_parent_id = "LIPSYNC_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = compat.sequencer_scene(context).lipsync
        layout.prop(settings, "speaker_mode", expand=True)
        option = {"AUTO": "active_speaker", "POINT": "active_speaker.point"}.get(settings.speaker_mode)
        if option:
            ok, why = _supports(settings.provider, settings.model, option)
            if not ok:
                layout.label(text=why, icon="INFO")
        if settings.speaker_mode == "POINT":
            col = layout.column()
            col.prop(settings, "speaker_frame")
            col.prop(settings, "speaker_point")
            col.operator("lipsync.pick_speaker", text="Pick in Preview", icon="EYEDROPPER")


class LIPSYNC_UL_jobs(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        status_icon = item.bl_rna.properties["status"].enum_items[item.status].icon
        row = layout.row(align=True)
        row.label(text=item.name, icon=status_icon)
        in_flight = item.status in IN_FLIGHT
        if in_flight and not _followed(item.job_id):
            row.label(text="Not followed: Re-attach", icon="UNLINKED")
        elif in_flight and hasattr(row, "progress"):
            row.progress(factor=item.progress, type="BAR",
                         text=item.bl_rna.properties["status"].enum_items[item.status].name)
        else:
            status = item.bl_rna.properties["status"].enum_items[item.status].name
            notes = item.notes.count("\n") + 1 if item.notes else 0
            row.label(text=f"{status}, {notes} note(s)" if notes else status, icon="ERROR" if notes else "NONE")
        row.label(text=_elapsed(item))
        row.label(text=_usd(item.cost))


class LIPSYNC_PT_jobs(_SidebarPanel, bpy.types.Panel):
    bl_label = "Jobs"
    bl_parent_id = "LIPSYNC_PT_main"

    def draw(self, context):
        layout = self.layout
        settings = compat.sequencer_scene(context).lipsync
        layout.template_list("LIPSYNC_UL_jobs", "", settings, "jobs", settings, "jobs_index", rows=3)
        if not (0 <= settings.jobs_index < len(settings.jobs)):
            return
        rec = settings.jobs[settings.jobs_index]
        box = layout.box()
        col = box.column(align=True)
        # the selected record only, one check per redraw (vse/recordcheck.py): a damaged record
        # draws what is wrong with it instead of its fields
        from ..vse import recordcheck, records  # late: job code loads at first use (docs/architecture.md "Start-up")

        damaged = recordcheck.problem(records.JobRecord(rec))
        if damaged:
            for i, line in enumerate(_wrap(damaged, 48)):
                col.label(text=line, icon="ERROR" if i == 0 else "NONE")
        else:
            _draw_job_fields(col, rec)
        row = box.row(align=True)
        row.operator("lipsync.cancel", icon="CANCEL").job_id = rec.job_id
        row.operator("lipsync.retry", icon="FILE_REFRESH").job_id = rec.job_id
        row.operator("lipsync.reattach", text="Re-attach", icon="LINKED").job_id = rec.job_id
        layout.operator("lipsync.retry_failed", text="Retry Failed Only", icon="RECOVER_LAST")



def _draw_job_fields(col, rec):
    col.label(text=f"{rec.provider} / {rec.model}", icon="URL")
    if rec.remote_id:
        col.label(text=f"Remote ID: {rec.remote_id}")
    est, cost = _usd(rec.estimate), _usd(rec.cost)
    if est or cost:
        col.label(text=(f"estimate {est}" if est else "no estimate") + (f", charged {cost}" if cost else ""),
                  icon="FUND")
    notes = [n for n in rec.notes.splitlines() if n]
    text = rec.message
    for note in notes:            # the notes are part of the message; drawn apart, each flagged
        text = text.replace("; " + note, "")
    if text:
        for line in _wrap(text, 48):
            col.label(text=line)
    for note in notes:
        for i, line in enumerate(_wrap(note, 44)):
            col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")


def _wrap(text, width):
    words, line, lines = text.split(), "", []
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines          # all of it: a problem cut off is a problem the artist never reads


class LIPSYNC_PT_takes(_SidebarPanel, bpy.types.Panel):
    bl_label = "Takes"
    bl_parent_id = "LIPSYNC_PT_main"

    def draw(self, context):
        layout = self.layout
        scene = compat.sequencer_scene(context)
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        source = takes.source_of(scene, compat.active_strip(context))
        if source is None:
            layout.label(text="Make a lip-synced strip active")
            return
        found = takes.takes_of(scene, source.name)
        playing = next((t for t in reversed(found) if not t.mute), None)
        if playing is None and source.lipsync.muted_by_take:   # its take was muted by hand (H)
            layout.label(text="No take plays and the original is muted: pick one below", icon="ERROR")
        col = layout.column(align=True)
        op = col.operator("lipsync.use_take", text=f"Original: {source.name}",
                          icon="RADIOBUT_ON" if playing is None else "RADIOBUT_OFF", depress=playing is None)
        op.source, op.take = source.name, ""
        for take in found:
            info = take.lipsync
            cost = f" ${info.cost:.2f}" if info.cost >= 0 else ""
            cost = " reused, free" if info.reused else cost
            row = col.row(align=True)
            op = row.operator("lipsync.use_take", text=f"Take {info.take_index}: {info.model} ({info.provider}){cost}",
                              icon="RADIOBUT_ON" if take == playing else "RADIOBUT_OFF", depress=take == playing)
            op.source, op.take = source.name, take.name
            row.operator("lipsync.remove_take", text="", icon="X").take = take.name
        if found:
            row = layout.row(align=True)
            row.operator("lipsync.toggle_ab", text="A/B (F8)", icon="ARROW_LEFTRIGHT")
            row.operator_menu_enum("lipsync.draft_to_final", "model", text="Draft to Final", icon="SHADERFX")


class LIPSYNC_MT_strip(bpy.types.Menu):
    bl_label = "Lip Sync"
    bl_idname = "LIPSYNC_MT_strip"

    def draw(self, context):
        layout = self.layout
        layout.operator("lipsync.submit", icon="PLAY")
        layout.operator("lipsync.submit_selected", icon="SEQ_STRIP_DUPLICATE")
        layout.separator()
        layout.operator("lipsync.refresh_segments", icon="FILE_REFRESH")
        layout.operator("lipsync.pick_speaker", icon="EYEDROPPER")
        layout.operator("lipsync.use_take", text="Back to Original", icon="LOOP_BACK").take = ""
        layout.operator("lipsync.toggle_ab", icon="ARROW_LEFTRIGHT")
        layout.operator_menu_enum("lipsync.draft_to_final", "model", icon="SHADERFX")
        layout.separator()
        layout.operator("lipsync.reattach", icon="LINKED")
        layout.operator("lipsync.retry_failed", icon="RECOVER_LAST")


def _context_menu(self, context):
    self.layout.separator()
    self.layout.menu("LIPSYNC_MT_strip", icon="SPEAKER")


classes = (LIPSYNC_PT_main, LIPSYNC_PT_ranges, LIPSYNC_UL_segments, LIPSYNC_PT_segments, LIPSYNC_PT_text,
           LIPSYNC_PT_speaker,
           LIPSYNC_UL_jobs,
           LIPSYNC_PT_jobs, LIPSYNC_PT_takes, LIPSYNC_MT_strip)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.SEQUENCER_MT_context_menu.append(_context_menu)


def unregister():
    bpy.types.SEQUENCER_MT_context_menu.remove(_context_menu)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
