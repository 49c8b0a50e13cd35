"""Bad input: each case is refused with a clear message before any upload or spend, and nothing in
the scene changes (strips, settings, job records). A few inputs that look bad but can be handled
(odd containers, spaces and non-ASCII in paths) must be converted and complete instead.

Every case runs the operator an artist or a script would run, in background bpy, where an ERROR
report or a failed poll() arrives as RuntimeError carrying the message.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import bpy
import pytest

from tests.fixtures.addon import lipsync
from test_rel_bl_faults import scene_strips
from tests.fixtures.workflow import (FF, VISIBLE, add_shot, make_wav, record_job, strips_of, takes, timing, use_sandbox,
                                     visible)

def settings_state(scene) -> dict:
    s = scene.lipsync
    keys = [k for k in s.bl_rna.properties.keys() if k not in ("rna_type", "segments", "jobs", "estimate_text")]
    state = {k: _plain(getattr(s, k)) for k in keys}
    state["jobs"] = len(s.jobs)
    return state


def _plain(value):
    try:
        return tuple(value) if not isinstance(value, str) else value
    except TypeError:
        return value


def snapshot(scene) -> dict:
    return {"strips": scene_strips(scene), "settings": settings_state(scene),
            "scenes": sorted(s.name for s in bpy.data.scenes)}


class Ctx:
    def __init__(self, addon, scene, media, tmp, monkeypatch, sandbox):
        self.addon, self.scene, self.media, self.tmp, self.env, self.sandbox = (
            addon, scene, media, tmp, monkeypatch, sandbox)
        self.movie = add_shot(addon, scene, media)
        self.sound = strips_of(scene)["shot_line0"]
        self.compat = lipsync("vse.compat")

    def strips(self):
        return strips_of(self.scene)

    def select_only(self, strip):
        for s in self.compat.strips_all(self.scene.sequence_editor):
            s.select = False
        if strip is not None:
            strip.select = True
        self.scene.sequence_editor.active_strip = strip

    def own_copy(self, strip_attr="movie"):
        """Give the shot its own media files (the case deletes or edits them)."""
        if strip_attr == "movie":
            path = str(self.tmp / "own_clip.mp4")
            shutil.copy(self.movie.filepath, path)
            self.movie.filepath = path
            return path
        path = str(self.tmp / "own_line.wav")
        shutil.copy(bpy.path.abspath(self.sound.sound.filepath), path)
        self.sound.sound.filepath = path
        return path


def batch(provider="sync", model="lipsync-2", **kw):
    return lambda: bpy.ops.lipsync.submit_selected(provider=provider, model=model, **kw)


def single():
    return lambda: bpy.ops.lipsync.submit()


def _still(ctx):
    path = str(ctx.tmp / "still.png")
    subprocess.run([FF, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1",
                    path], check=True)
    return path


def _active(ctx, strip):
    ctx.select_only(strip)
    return single()


# -- the cases: setup(ctx) -> operator call, and the words the message must hold ----------------------
def c_nothing_selected(ctx):
    ctx.select_only(None)
    return batch()


def c_no_active_strip(ctx):
    ctx.select_only(None)
    return single()


def c_image_strip(ctx):
    return _active(ctx, ctx.strips().new_image("img", _still(ctx), 5, VISIBLE[0]))


def c_color_strip(ctx):
    return _active(ctx, ctx.compat.new_effect(ctx.strips(), "col", "COLOR", 5, VISIBLE[0], 20))


def c_text_strip(ctx):
    return _active(ctx, ctx.compat.new_effect(ctx.strips(), "txt", "TEXT", 5, VISIBLE[0], 20))


def c_meta_strip(ctx):
    return _active(ctx, ctx.strips().new_meta("meta", 5, VISIBLE[0]))


def c_scene_strip(ctx):
    return _active(ctx, ctx.strips().new_scene("sc", bpy.data.scenes.new("Other"), 5, VISIBLE[0]))


def c_sound_strip_as_video(ctx):
    return _active(ctx, ctx.sound)


def c_movie_file_missing(ctx):
    os.unlink(ctx.own_copy("movie"))
    return batch()


def c_sound_file_missing(ctx):
    os.unlink(ctx.own_copy("sound"))
    return batch()


def c_no_sound_overlapping(ctx):
    ctx.sound.channel = 9
    timing(ctx.sound, "frame_start", 400)
    return batch()


def c_zero_length_overlap(ctx):
    # the dialogue ends exactly where the video starts: an overlap of zero frames
    timing(ctx.sound, "frame_start", VISIBLE[0] - 40)
    return batch()


def c_only_muted_sound(ctx):
    ctx.sound.mute = True
    return batch()


def c_silent_sound(ctx):
    ctx.sound.volume = 0.0
    return batch()


def c_packed_sound(ctx):
    ctx.sound.sound.pack()
    return batch()


def c_reversed_movie(ctx):
    ctx.movie.use_reverse_frames = True
    return batch()


def c_strobe(ctx):
    ctx.movie.strobe = 3.0
    return batch()


def c_time_remap(ctx):
    ctx.scene.render.frame_map_new = 200
    return batch()


def c_retimed_movie(ctx):
    if bpy.app.version < (5, 2, 0):
        pytest.skip("retiming_keys.add() segfaults bpy 4.5 and 5.0 headless (tests/blender/test_strips.py)")
    ctx.movie.retiming_keys.add(timeline_frame=30)
    return batch()


def c_speed_effect_on_movie(ctx):
    kw = {"length": 40} if bpy.app.version >= (5, 0, 0) else {"frame_end": VISIBLE[0] + 40}
    ctx.strips().new_effect(name="speed", type="SPEED", channel=5, frame_start=VISIBLE[0], input1=ctx.movie, **kw)
    return batch()


def c_missing_api_key(ctx):
    ctx.env.delenv("WAVESPEED_API_KEY", raising=False)
    return batch("wavespeed")


def c_online_access_off(ctx):
    bpy.context.preferences.system.use_online_access = False
    return batch()


def c_base_url_plain_http_remote(ctx):
    ctx.env.setenv("LIPSYNC_SYNC_BASE_URL", "http://example.com/sync")
    return batch()


def c_base_url_not_http(ctx):
    ctx.env.setenv("LIPSYNC_SYNC_BASE_URL", "ftp://127.0.0.1/sync")
    return batch()


def c_unknown_provider(ctx):
    return batch("replicate")


def c_unknown_model(ctx):
    return batch("sync", "lipsync-9")


def c_model_not_offered(ctx):
    return batch("runware", "lipsync-1.9.0-beta")


def c_sync_mode_not_supported(ctx):
    return batch("runware", "sync-3", sync_mode="loop")


def c_sync_mode_unknown(ctx):
    return batch("sync", "lipsync-2", sync_mode="stretch")


def c_option_model_lacks(ctx):
    ctx.scene.lipsync.provider, ctx.scene.lipsync.model = "sync", "lipsync-1.9.0-beta"
    ctx.scene.lipsync.use_temperature = True       # lipsync-1.9.0-beta takes no temperature
    return single()


def c_speaker_point_outside_picture(ctx):
    s = ctx.scene.lipsync
    s.speaker_mode, s.speaker_frame, s.speaker_point = "POINT", 3, (900, 700)   # the clip is 160x120
    return single()


def c_speaker_frame_after_end(ctx):
    s = ctx.scene.lipsync
    s.speaker_mode, s.speaker_frame, s.speaker_point = "POINT", 480, (80, 60)   # 48 frames are uploaded
    return single()


def c_take_as_video(ctx):
    ctx.movie.lipsync.is_take = True
    ctx.movie.lipsync.source = "elsewhere"
    return batch()


def c_video_longer_than_limit(ctx):
    ctx.env.setenv("LIPSYNC_SYNC_MAX_SECONDS", "1.5")      # the shot is 1.92 s
    return batch()


def c_output_folder_not_writable(ctx):
    blend = ctx.tmp / "project" / "shot.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    (blend.parent / "lipsync").write_text("a file where the results folder would go")
    return batch()


def c_all_dialogue_switched_off(ctx):
    seg = lipsync("vse.segments")
    seg.refresh_segments(ctx.scene, ctx.movie)
    for row in ctx.scene.lipsync.segments:
        row.enabled = False
    return single()


# name: (setup, words the message holds, refused by the workflow since commit 0387f51)
CASES = {
    "nothing selected": (c_nothing_selected, ("Select one or more movie strips",), False),
    "no active strip": (c_no_active_strip, ("movie strip active",), False),
    "image strip as the video": (c_image_strip, ('"img" is an image strip', "render it to a video file"), True),
    "color strip as the video": (c_color_strip, ('"col" is a color strip',), True),
    "text strip as the video": (c_text_strip, ('"txt" is a text strip',), True),
    "meta strip as the video": (c_meta_strip, ('"meta" is a meta strip', "Tab"), True),
    "scene strip as the video": (c_scene_strip, ('"sc" is a scene strip',), True),
    "sound strip as the video": (c_sound_strip_as_video, ('"shot_line0" is a sound strip',), True),
    "movie file missing": (c_movie_file_missing, ('movie file of strip "shot" was not found',), False),
    "sound file missing": (c_sound_file_missing, ('sound file of strip "shot_line0" was not found',), False),
    "no sound strip overlapping": (c_no_sound_overlapping, ("No audible sound strip overlaps",), False),
    "zero-length overlap": (c_zero_length_overlap, ("No audible sound strip overlaps",), False),
    "only a muted sound strip": (c_only_muted_sound, ("muted strips, strips on muted channels",), False),
    "sound strip at volume 0": (c_silent_sound, ("No audible sound strip overlaps",), False),
    "sound packed into the .blend": (c_packed_sound, ("packed into the .blend", "Unpack"), False),
    "reversed movie": (c_reversed_movie, ("plays in reverse",), False),
    "strobe": (c_strobe, ("Strobe 3",), False),
    "scene time remapping": (c_time_remap, ("remaps time",), False),
    "retimed movie": (c_retimed_movie, ('"shot" is retimed',), False),
    "movie retimed by a Speed strip": (c_speed_effect_on_movie, ('"shot" is retimed by the Speed strip "speed"',),
                                       True),
    "missing API key": (c_missing_api_key, ("No API key for WaveSpeedAI", "WAVESPEED_API_KEY"), False),
    "online access off": (c_online_access_off, ("Online access is off",), False),
    "base URL plain http off loopback": (c_base_url_plain_http_remote, ("example.com", "https"), True),
    "base URL not http": (c_base_url_not_http, ("ftp://", "https"), True),
    "unknown provider": (c_unknown_provider, ("Unknown provider 'replicate'",), False),
    "unknown model": (c_unknown_model, ("model 'lipsync-9'",), False),
    "model the provider does not offer": (c_model_not_offered, ("lipsync-1.9.0-beta", "Runware"), False),
    "sync mode the model does not support": (c_sync_mode_not_supported, ("loop", "sync-3", "Runware"), False),
    "unknown sync mode": (c_sync_mode_unknown, ("stretch",), False),
    "option the model does not take": (c_option_model_lacks, ("temperature", "lipsync-1.9.0-beta"), True),
    "speaker point outside the picture": (c_speaker_point_outside_picture, ("900", "160x120"), True),
    "speaker frame after the end": (c_speaker_frame_after_end, ("480", "48"), True),
    "a take as the video": (c_take_as_video, ("takes are skipped",), False),
    "video longer than the provider's limit": (c_video_longer_than_limit, ("1.9 s", "at most 1.5 s"), True),
    "output folder not writable": (c_output_folder_not_writable, ("lipsync", "folder"), True),
    "every dialogue strip switched off": (c_all_dialogue_switched_off, ("switched off",), False),
}


def _params():
    for name, (setup, words, _late) in CASES.items():
        yield pytest.param(setup, words, id=name)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bad_input_media"))


@pytest.mark.parametrize("setup,words", list(_params()))
def test_bad_input_is_refused_before_any_spend(addon, scene, online, clean_env, sandbox, media, tmp_path,
                                               setup, words):
    for provider in ("sync", "runware", "wavespeed", "foxapi", "fal"):
        use_sandbox(clean_env, sandbox, provider)
    ctx = Ctx(addon, scene, media, tmp_path, clean_env, sandbox)
    call = setup(ctx)
    before = snapshot(scene)
    with pytest.raises(RuntimeError) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert "Traceback" not in message and len(message.splitlines()) <= 3, message
    stats = sandbox.stats()
    assert stats["requests"] == 0 and sum(stats["uploads"].values()) == 0 and sum(stats["generations"].values()) == 0
    assert snapshot(scene) == before
    bpy.context.preferences.system.use_online_access = True


# -- inputs that look bad but are handled: converted and completed ---------------------------------------
def test_odd_containers_and_paths_are_converted_not_refused(addon, scene, online, clean_env, sandbox, tmp_path):
    """MPEG-4 Part 2 video in AVI and FLAC dialogue, in a folder with spaces and non-ASCII letters:
    the upload is a converted H.264 MP4 + MP3, the take lands frame-exact."""
    use_sandbox(clean_env, sandbox, "sync")
    folder = tmp_path / "Szene 1 – Café Übung"
    folder.mkdir()
    clip = str(folder / "aufnahme ü 1.avi")
    subprocess.run([FF, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30",
                    "-frames:v", "60", "-c:v", "mpeg4", "-q:v", "5", clip], check=True)
    flac = str(folder / "dialog é.flac")
    subprocess.run([FF, "-loglevel", "error", "-y", "-i", make_wav(str(tmp_path / "l.wav"), 1.6), flac], check=True)
    (tmp_path / "m").mkdir()
    movie = add_shot(addon, scene, str(tmp_path / "m"))
    movie.filepath = clip
    strips_of(scene)["shot_line0"].sound.filepath = flac
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "projekt ö.blend"))
    before = scene_strips(scene)
    assert bpy.ops.lipsync.submit_selected(provider="sync", model="lipsync-2") == {"FINISHED"}
    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    [take] = takes(scene)
    assert visible(take) == VISIBLE and os.path.exists(bpy.path.abspath(take.filepath))
    [job] = sandbox.stats()["jobs"]
    assert job["inputs"]["video"]["frames"] == VISIBLE[1] - VISIBLE[0]
    after = scene_strips(scene)
    assert all(after[n] == s for n, s in before.items())


def test_disk_full_during_download_fails_clearly_then_reattach_collects(addon, scene, online, clean_env, sandbox,
                                                                       media, tmp_path):
    """The result is paid for: a full disk must not lose it. The job fails with a sentence saying
    so, nothing half-written becomes a take, and after space is freed Re-attach downloads it
    without a second generation."""
    import errno
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, media)
    download = lipsync("client.download")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fd, mode):
            self._f = real_fdopen(fd, mode)

        def write(self, data):
            self._f.write(data[: len(data) // 3])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    clean_env.setattr(download.os, "fdopen", FullDisk)
    before = scene_strips(scene)
    with pytest.raises(RuntimeError, match="disk is full"):
        bpy.ops.lipsync.submit_selected(provider="sync", model="lipsync-2")
    rec = scene.lipsync.jobs[0]
    assert rec.status == "FAILED" and rec.remote_id and "disk is full" in rec.message and "Re-attach" in rec.message
    out_dir = bpy.path.abspath(rec.out_dir)
    assert not takes(scene) and (not os.path.isdir(out_dir) or not [f for f in os.listdir(out_dir)
                                                                    if f.startswith(rec.out_stem)])
    assert scene_strips(scene) == before
    clean_env.setattr(download.os, "fdopen", real_fdopen)            # space freed
    assert bpy.ops.lipsync.reattach(job_id=rec.job_id) == {"FINISHED"}
    assert rec.status == "COMPLETED", rec.message
    [take] = takes(scene)
    assert visible(take) == VISIBLE
    assert sandbox.stats()["generations"]["sync"] == 1               # collected, not paid again


def test_result_with_other_resolution_and_fps_is_placed_frame_exact(addon, scene, online, clean_env, sandbox,
                                                                     media, tmp_path):
    """A provider answers with 320x240 at 24 fps for a 160x120 30 fps source in a 25 fps scene: the
    take covers exactly the source's frames and the same screen area; the source is untouched."""
    events = lipsync("client.events")
    movie = add_shot(addon, scene, media)
    before = scene_strips(scene)
    rec, _plan = record_job(scene, movie)
    result = str(tmp_path / "result.mp4")
    subprocess.run([FF, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24",
                    "-frames:v", "60", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", result],
                   check=True)
    lipsync("vse.apply").apply_event(rec.job_id, events.Completed("gen-1", [result], 0.5, 2.5))
    assert rec.status == "COMPLETED", rec.message
    [take] = takes(scene)
    assert visible(take) == VISIBLE
    assert abs(take.transform.scale_x * 320 - movie.transform.scale_x * 160) < 1e-4
    assert abs(take.transform.scale_y * 240 - movie.transform.scale_y * 120) < 1e-4
    after = scene_strips(scene)
    assert all(after[n] == s for n, s in before.items())
