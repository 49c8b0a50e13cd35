"""Segments, speaker point, panels and menus: what the sidebar shows and what reaches the provider."""

import math
import time
import types

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import PROVIDERS, VISIBLE, LayoutRecorder, add_shot, expected_segments, use_sandbox


def test_segments_rows_follow_sound_strips(addon, scene, tmp_path_factory):
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")), n_sounds=2)
    assert bpy.ops.lipsync.refresh_segments() == {"FINISHED"}
    rows = scene.lipsync.segments
    assert scene.lipsync.segments_strip == "shot" and [r.name for r in rows] == ["shot_line0", "shot_line1"]
    for row, (start, end) in zip(rows, expected_segments(2)):
        assert math.isclose(row.video_start, start, abs_tol=1e-6) and math.isclose(row.video_end, end, abs_tol=1e-6)
    # line0 starts 3 frames before the video: its audio is used from 0.12 s on
    assert math.isclose(rows[0].audio_start, 3 / 25, abs_tol=1e-6)
    rows[1].enabled = False
    rows[0].use_speaker_point, rows[0].speaker_point = True, (80, 40)
    assert bpy.ops.lipsync.refresh_segments() == {"FINISHED"}           # toggles survive a refresh
    assert not rows[1].enabled and rows[0].use_speaker_point and tuple(rows[0].speaker_point) == (80, 40)


def test_panel_segments_reach_the_provider(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")), n_sounds=2)
    bpy.ops.lipsync.refresh_segments()
    rows = scene.lipsync.segments
    rows[0].use_speaker_point, rows[0].speaker_frame, rows[0].speaker_point = True, 5, (80, 40)
    rows[1].enabled = False
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    [job] = sandbox.stats()["jobs"]
    [segment] = job["segments"]                                    # the switched-off strip is not sent
    start, end = expected_segments(2)[0]
    assert abs(segment["start"] - start) < 0.02 and abs(segment["end"] - end) < 0.02
    req = scene.lipsync.jobs[0].request_json
    assert '"options_override":{"active_speaker":{"frame":5,"point":[80,40]}}' in req.replace(" ", "")


def test_active_strip_change_refreshes_rows(addon, scene, tmp_path_factory):
    """The msgbus callbacks (UI only) rebuild the rows when another strip is made active and mark
    the estimate dirty; the debounced app timer refreshes it (called here by hand: app timers do
    not fire in background, docs/blender.md §4)."""
    segments = lipsync("vse.handlers")   # the msgbus callbacks
    estimate = lipsync("vse.segments")
    media = str(tmp_path_factory.mktemp("media"))
    add_shot(addon, scene, media, name="one", at=11)
    two = add_shot(addon, scene, media, name="two", at=211, n_sounds=2)
    scene.sequence_editor.active_strip = two
    segments.on_active_strip_changed()
    assert scene.lipsync.segments_strip == "two" and len(scene.lipsync.segments) == 2
    time.sleep(estimate.DEBOUNCE)
    assert estimate.estimate_timer() is None
    assert scene.lipsync.estimate_text.startswith("2 strip(s)")
    for strip in scene.sequence_editor.strips_all:
        strip.select = strip.name == "one"
    segments.on_selection_changed()
    assert scene.lipsync.estimate_text.startswith("2 strip(s)")          # marked only
    time.sleep(estimate.DEBOUNCE)
    assert estimate.estimate_timer() is None
    assert scene.lipsync.estimate_text.startswith("1 strip(s), 1.9 s: about $")


def test_all_segments_off_refuses(addon, scene, online, clean_env, tmp_path_factory):
    use_sandbox(clean_env, types.SimpleNamespace(base_url=lambda p: "http://127.0.0.1:9/" + p), "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    bpy.ops.lipsync.refresh_segments()
    scene.lipsync.segments[0].enabled = False
    with pytest.raises(RuntimeError, match="switched off"):
        bpy.ops.lipsync.submit()
    assert not scene.lipsync.jobs


def test_preview_to_source_math(addon):
    speaker = lipsync("vse.speaker")
    f = speaker.preview_to_source
    # docstring example: 160x120 at scale 2 in a 320x240 scene, click (40, 20) -> (100, 50)
    assert f(40, 20, width=160, height=120, scale=(2, 2)) == (100, 50)
    assert f(0, 0, width=160, height=120) == (80, 60)                       # centre
    assert f(10, -5, width=160, height=120, offset=(10, -5)) == (80, 60)    # offset moves the picture
    x, y = f(0, 30, width=160, height=120, rotation=math.pi / 2)             # rotated 90 deg CCW
    assert math.isclose(x, 110, abs_tol=1e-9) and math.isclose(y, 60, abs_tol=1e-9)
    assert f(-40, 0, width=160, height=120, flip=(True, False)) == (120, 60)
    # origin at the bottom-left corner: scaling pivots there
    assert f(-80, -60, width=160, height=120, scale=(2, 2), origin=(0, 0)) == (0, 120)


def test_pick_speaker_stores_source_pixel(addon, scene, tmp_path_factory):
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    scene.render.resolution_x, scene.render.resolution_y = 320, 240
    movie.transform.scale_x = movie.transform.scale_y = 2.0
    movie.transform.offset_x = 20
    scene.frame_current = VISIBLE[0] + 7
    assert bpy.ops.lipsync.pick_speaker(location=(60, 20)) == {"FINISHED"}
    settings = scene.lipsync
    assert settings.speaker_mode == "POINT" and settings.speaker_frame == 7
    assert tuple(settings.speaker_point) == (100, 50)
    with pytest.raises(RuntimeError, match="outside"):
        bpy.ops.lipsync.pick_speaker(location=(1000, 0))
    bpy.ops.lipsync.refresh_segments()
    assert bpy.ops.lipsync.pick_speaker(location=(20, 0), segment="shot_line0") == {"FINISHED"}
    row = settings.segments["shot_line0"]
    assert row.use_speaker_point and tuple(row.speaker_point) == (80, 60)



@pytest.mark.parametrize("provider", PROVIDERS)
def test_panels_draw_for_every_provider(addon, scene, online, clean_env, sandbox, tmp_path_factory, provider):
    panels = lipsync("panels")
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")), n_sounds=2)
    bpy.ops.lipsync.refresh_segments()
    scene.lipsync.provider = provider
    scene.lipsync.speaker_mode = "POINT"
    if provider == "sync":
        assert bpy.ops.lipsync.submit() == {"FINISHED"}
        scene.sequence_editor.active_strip = [s for s in scene.sequence_editor.strips_all if s.lipsync.is_take][0]
    log = []
    for cls in (panels.LIPSYNC_PT_main, panels.LIPSYNC_PT_segments, panels.LIPSYNC_PT_speaker,
                panels.LIPSYNC_PT_jobs, panels.LIPSYNC_PT_takes, panels.LIPSYNC_MT_strip):
        cls.draw(types.SimpleNamespace(layout=LayoutRecorder(log)), bpy.context)
    settings = scene.lipsync
    for rec in settings.jobs:
        panels.LIPSYNC_UL_jobs.draw_item(None, bpy.context, LayoutRecorder(log), settings, rec, 0, settings,
                                         "jobs_index", 0)
    for row in settings.segments:
        panels.LIPSYNC_UL_segments.draw_item(None, bpy.context, LayoutRecorder(log), settings, row, 0, settings,
                                             "segments_index", 0)
    texts = " | ".join(str(kw.get("text", "")) for _n, _a, kw in log)
    ops = {a[0] for n, a, _kw in log if n == "operator"}
    assert {"lipsync.submit", "lipsync.submit_selected", "lipsync.refresh_segments"} <= ops
    if provider in ("wavespeed", "fal"):     # greyed with the reason from the capability table
        assert "temperature is not supported" in texts
    if provider == "sync":
        assert "Take 1: lipsync-2 (sync)" in texts and "lipsync.use_take" in ops
        assert {"lipsync.cancel", "lipsync.retry", "lipsync.reattach"} <= ops
        assert "Completed" in texts and "shot_line1" in texts
    rows = [(n, kw) for n, _a, kw in log if n == "template_list"]
    assert rows


def test_context_menu_and_search(addon):
    menu = bpy.types.SEQUENCER_MT_context_menu
    funcs = getattr(menu.draw, "_draw_funcs", [])
    assert any(getattr(f, "__name__", "") == "_context_menu" for f in funcs)
    for name in ("submit", "submit_selected", "cancel", "retry", "use_take", "reattach", "pick_speaker"):
        op = getattr(bpy.ops.lipsync, name)
        rna = op.get_rna_type()
        assert rna.name and rna.description, name       # labelled and described: F3 finds them
