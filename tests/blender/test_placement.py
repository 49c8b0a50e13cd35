"""placement.plan_take / apply_take on real bpy: channel, exact range, picture fit, source untouched.

The end-to-end checks render the sequencer: with the take on top, every timeline frame must show
the same source frame code as the original strip showed. (The take stack as a whole, the look and
edits during a job: test_takes_layer.py.)
"""

import logging
import os

import bpy
import pytest
from tests.blender.media_kit import make_coded_video, movie, read_codes, set_rate, sound, strip_state
from tests.fixtures.addon import lipsync

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


@pytest.fixture
def mods(addon):
    return (lipsync("vse.snapshot"), lipsync("worker.media"),
            lipsync("vse.placement"), lipsync("vse.compat"))


def shown_code(scene, frame, tmp_path, size=(160, 120)):
    """Render timeline frame `frame` through the sequencer and read its frame code."""
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = size[0], size[1], 100
    r.use_sequencer = True
    r.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    scene.frame_set(frame)
    r.filepath = str(tmp_path / f"render_{frame}.png")
    bpy.ops.render.render(write_still=True)
    return read_codes(r.filepath)[0]


def place(pl, scene, placement, path, source):
    plan = pl.plan_take(scene, placement, path, source)
    return plan, pl.apply_take(scene, plan, source)


def test_plan_channel_directly_above(scene, mods, media):
    st, _me, pl, compat = mods
    set_rate(scene, 25)
    src = movie(scene, media["v25"], channel=2, frame_start=11, offsets=(5, 7))  # 16..104
    sound(scene, media["clicks"], channel=1)
    movie(scene, media["v24"], channel=4, frame_start=104)  # starts at the right handle
    job = st.snapshot_job(scene, src)
    plan = pl.plan_take(scene, job.placement, "result.mp4", src)
    assert (plan.channel, plan.insert, plan.frame_start, plan.frame_end) == (3, False, 16, 104)
    assert plan.source_strip == src.name and plan.name == f"{src.name}.lipsync" and plan.span == (16, 104)
    assert plan.filepath == os.path.abspath("result.mp4") and plan.notes == ()
    # a strip on channel 3 over the range: never the first free channel above it (the strip would be
    # below the take), a channel is inserted at 3 instead
    movie(scene, media["v24"], channel=3, frame_start=100)  # 100..172: overlaps
    plan = pl.plan_take(scene, job.placement, "result.mp4", src)
    assert (plan.channel, plan.insert) == (3, True)


@pytest.mark.parametrize("scene_rate, src_key, offsets", [
    ((24, 1.0), "v25", (5, 7)),          # clip 25 fps in a 24 fps scene
    ((30, 1.001), "ntsc", (30, 30)),     # 29.97 in 29.97
    ((25, 1.0), "v25", (-3, -4)),        # handles past the media: Blender holds first/last frame
])
def test_prepared_video_placed_back_shows_same_frames(scene, mods, media, tmp_path, scene_rate, src_key, offsets):
    st, me, pl, compat = mods
    set_rate(scene, *scene_rate)
    src = movie(scene, media[src_key], channel=2, frame_start=11, offsets=offsets)
    sound(scene, media["clicks"], channel=1)
    left, right = compat.visible_range(src)
    probe = (left, (left + right) // 2, right - 1)
    before = [shown_code(scene, f, tmp_path) for f in probe]
    job = st.snapshot_job(scene, src)
    prepared = me.prepare_media(job, str(tmp_path / "w"), use_segments=True)
    state = strip_state(src)
    _plan, take = place(pl, scene, job.placement, prepared.video_path, src)
    assert compat.visible_range(take) == (left, right) and take.channel == 3
    assert strip_state(src) == state and not take.mute
    assert [shown_code(scene, f, tmp_path) for f in probe] == before


def test_longer_result_trimmed_to_source_range(scene, mods, media, tmp_path):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    src = movie(scene, media["v25"], channel=2, frame_start=11, offsets=(5, 7))  # 16..104 = 88
    sound(scene, media["clicks"], channel=1)
    result = make_coded_video(tmp_path / "long.mp4", 100, "24")
    state = strip_state(src)
    job = st.snapshot_job(scene, src)
    plan, take = place(pl, scene, job.placement, result, src)
    assert compat.visible_range(take) == (16, 104)
    assert compat.get_timing(take, "frame_start") == 16 and compat.get_timing(take, "frame_offset_end") == 12
    assert pl.shortfall(plan, take) == 0 and pl.shortfall_note(plan, take) == ""
    assert strip_state(src) == state
    assert shown_code(scene, 16, tmp_path) == 0 and shown_code(scene, 103, tmp_path) == 87


def test_shorter_result_ends_early_and_reports(scene, mods, media, tmp_path, caplog):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    src = movie(scene, media["v25"], channel=2, frame_start=11, offsets=(5, 7))  # 16..104
    sound(scene, media["clicks"], channel=1)
    result = make_coded_video(tmp_path / "short.mp4", 60, "24")
    with caplog.at_level(logging.WARNING):
        plan, take = place(pl, scene, st.snapshot_job(scene, src).placement, result, src)
        note = pl.shortfall_note(plan, take)
    assert compat.visible_range(take) == (16, 76)  # no frozen last frame: the source shows after
    assert pl.shortfall(plan, take) == 28
    assert "28 frame(s) shorter" in caplog.text and note == (
        "The take is 28 frame(s) shorter than its source: frames 76..104 play the original")
    assert shown_code(scene, 80, tmp_path) == 80 - 16 + 5  # the original again


def test_different_resolution_result_covers_same_picture(scene, mods, media, tmp_path):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    src = movie(scene, media["v24"], channel=2)  # 160x120
    sound(scene, media["clicks"], channel=1)
    result = make_coded_video(tmp_path / "big.mp4", 72, "24", size=(320, 240))
    _plan, take = place(pl, scene, st.snapshot_job(scene, src).placement, result, src)
    assert (take.transform.scale_x, take.transform.scale_y) == (0.5, 0.5)
    assert shown_code(scene, 40, tmp_path) == 39  # bars where the source had them

    # a moved, scaled, cropped and flipped source: the take copies it, scaled to its pixels
    src2 = movie(scene, media["v24"], channel=5)
    t = src2.transform
    t.scale_x, t.scale_y, t.offset_x, t.offset_y, t.rotation = 1.5, 1.25, 12.0, -7.0, 0.1
    src2.crop.min_x, src2.crop.max_y = 10, 4
    src2.use_flip_x = True
    state = strip_state(src2)
    _plan, take2 = place(pl, scene, st.snapshot_job(scene, src2).placement, result, src2)
    t2 = take2.transform
    assert (t2.scale_x, t2.scale_y) == (pytest.approx(0.75), pytest.approx(0.625))
    assert (t2.offset_x, t2.offset_y, t2.rotation) == (12.0, -7.0, pytest.approx(0.1))
    assert (take2.crop.min_x, take2.crop.max_y, take2.use_flip_x) == (20, 8, True)
    assert strip_state(src2) == state


def test_insert_moves_every_strip_above_up_one_with_its_channel(scene, mods, media):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    src = movie(scene, media["v24"], channel=2)                      # 1..73
    sound(scene, media["clicks"], channel=1)
    title = compat.new_effect(compat.strips(scene.sequence_editor), "title", "COLOR", 3, 30, 10)
    later = compat.new_effect(compat.strips(scene.sequence_editor), "later", "COLOR", 3, 200, 10)
    top = compat.new_effect(compat.strips(scene.sequence_editor), "top", "COLOR", 5, 1, 10)
    channels = scene.sequence_editor.channels
    channels[3].name, channels[4].mute, channels[5].lock = "Titles", True, True
    state = strip_state(src)
    plan, take = place(pl, scene, st.snapshot_job(scene, src).placement, media["v24"], src)
    assert plan.insert and take.channel == 3 and compat.visible_range(take) == compat.visible_range(src)
    assert (title.channel, later.channel, top.channel) == (4, 4, 6)   # the whole channel moved, in order
    assert (channels[4].name, channels[5].mute, channels[6].lock) == ("Titles", True, True)
    assert not channels[3].mute and not channels[3].lock and channels[3].name == "Channel 3"
    assert channels[7].name == "Channel 7"               # default names stay the default of their number
    assert strip_state(src) == state


def test_insert_refused_before_anything_moves_at_channel_128(scene, mods, media):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    src = movie(scene, media["v24"], channel=2)
    sound(scene, media["clicks"], channel=1)
    compat.new_effect(compat.strips(scene.sequence_editor), "above", "COLOR", 3, 1, 100)
    compat.new_effect(compat.strips(scene.sequence_editor), "last", "COLOR", 128, 500, 10)
    before = {s.name: s.channel for s in compat.strips_all(scene.sequence_editor)}
    with pytest.raises(lipsync("client.errors").InputError, match="channel 128"):
        pl.plan_take(scene, st.snapshot_job(scene, src).placement, media["v24"], src)
    assert {s.name: s.channel for s in compat.strips_all(scene.sequence_editor)} == before


def test_source_inside_meta_gets_take_inside_meta(scene, mods, media):
    st, _me, pl, compat = mods
    set_rate(scene, 24)
    strips = compat.strips(scene.sequence_editor_create())
    meta = strips.new_meta("Meta", 4, 1)
    inner = compat.strips(meta).new_movie("inner", media["v24"], 2, 1)
    compat.strips(meta).new_sound("voice", media["clicks"], 1, 1)
    compat.set_timing(meta, "frame_offset_start", 0)
    compat.set_timing(meta, "frame_offset_end", 0)
    job = st.snapshot_job(scene, inner)
    assert job.placement.meta == meta.name
    _plan, take = place(pl, scene, job.placement, media["v24"], inner)
    assert take.name in [s.name for s in compat.strips(meta)]
    assert take.channel == 3 and compat.visible_range(take) == compat.visible_range(inner)


def test_missing_result_file_is_an_input_error(scene, mods, media, tmp_path):
    st, _me, pl, compat = mods
    src = movie(scene, media["v24"], channel=2)
    sound(scene, media["clicks"], channel=1)
    plan = pl.plan_take(scene, st.snapshot_job(scene, src).placement, tmp_path / "never written.mp4", src)
    before = len(compat.strips_all(scene.sequence_editor))
    with pytest.raises(lipsync("client.errors").InputError, match="result file is missing"):
        pl.apply_take(scene, plan, src)
    assert len(compat.strips_all(scene.sequence_editor)) == before
