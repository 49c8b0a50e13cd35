"""worker/media.py prepare_media on real strips: decoded frame codes and click times prove exactness."""

import os
import shutil
import subprocess
import threading
import time
from fractions import Fraction

import pytest
from tests.blender.media_kit import (FF, RATE, click_times, decode_audio, make_coded_video, movie, read_codes,
                                    set_rate, sound)
from tests.fixtures.addon import lipsync

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


@pytest.fixture
def mods(addon):
    return lipsync("vse.snapshot"), lipsync("worker.media")


def prepare(mods, scene, strip, tmp_path, sounds=None, **kw):
    st, me = mods
    job = st.snapshot_job(scene, strip, sounds)
    kw.setdefault("use_segments", True)
    return job, me.prepare_media(job, str(tmp_path / "work"), **kw)


def video_info(mods, path):
    return lipsync("client.media_info").mp4_video_info(path)


def has_audio_stream(path):
    err = subprocess.run([FF, "-hide_banner", "-i", path], capture_output=True, text=True).stderr
    return "Audio:" in err


# --- video ------------------------------------------------------------------------------------

def test_trimmed_cut_is_frame_exact(scene, mods, media, tmp_path):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], frame_start=11, offsets=(5, 7))
    sound(scene, media["clicks"], channel=1)
    job, prepared = prepare(mods, scene, m, tmp_path)
    assert not prepared.passthrough and prepared.video_path != media["v25"]
    assert read_codes(prepared.video_path) == list(range(5, 93))
    info = video_info(mods, prepared.video_path)
    assert (info["codec"], info["frames"], info["rate"], info["cfr"]) == ("avc1", 88, 25, True)
    assert not has_audio_stream(prepared.video_path)
    assert prepared.video_duration == pytest.approx(88 / 25)


def blender_shows(scene, frames, tmp_path):
    """The frame codes Blender itself renders at scene `frames` (the artist's view of the cut)."""
    import bpy

    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = 160, 120, 100
    render.image_settings.file_format = "PNG"
    shown = []
    for frame in frames:
        scene.frame_set(frame)
        render.filepath = str(tmp_path / f"shown_{frame}.png")
        bpy.ops.render.render(write_still=True)
        shown.append(read_codes(render.filepath)[0])
    return shown


@pytest.mark.parametrize("ext,video_delay,audio_delay", [
    ("mp4", 0.2, 0.0),   # picture starts 0.2 s after the sound (5 frames at 25 fps)
    ("mov", 0.5, 0.0),
    ("mp4", 0.0, -0.3),  # sound starts before the picture
    ("mkv", 0.2, 0.0),
    ("ts", 0.2, 0.0),    # MPEG-TS: no exact seek, cut by frame count
])
def test_cut_matches_blender_when_streams_start_apart(scene, mods, media, tmp_path, ext, video_delay, audio_delay):
    coded = make_coded_video(tmp_path / "coded.mp4", 100)
    clip = str(tmp_path / f"clip.{ext}")
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-itsoffset", str(video_delay),
                    "-i", coded, "-itsoffset", str(audio_delay), "-f", "lavfi", "-i", f"sine=sample_rate={RATE}:d=4.5",
                    "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", clip], check=True)
    set_rate(scene, 25)
    m = movie(scene, clip, frame_start=1, offsets=(5, 7))
    sound(scene, media["clicks"], channel=1)
    _job, prepared = prepare(mods, scene, m, tmp_path)
    codes = read_codes(prepared.video_path)
    first, after = lipsync("vse.compat").visible_range(m)
    last = after - 1
    assert [codes[0], codes[1], codes[-1]] == blender_shows(scene, (first, first + 1, last), tmp_path)
    assert codes == list(range(codes[0], codes[0] + len(codes)))  # nothing dropped or doubled
    if ext != "mkv":  # Blender counts a delayed Matroska picture as 8 frames longer than the file
        assert len(codes) == last - first + 1


def test_25fps_clip_in_24fps_scene_retimed_frame_for_frame(scene, mods, media, tmp_path):
    set_rate(scene, 24)
    m = movie(scene, media["v25"], frame_start=11, offsets=(5, 7))
    sound(scene, media["clicks"], channel=1)
    _job, prepared = prepare(mods, scene, m, tmp_path)
    assert read_codes(prepared.video_path) == list(range(5, 93))  # no frame dropped or doubled
    info = video_info(mods, prepared.video_path)
    assert (info["frames"], info["rate"]) == (88, 24)  # 3.667 s, as on the timeline


def test_untrimmed_25fps_clip_in_24fps_scene_not_passed_through(scene, mods, media, tmp_path):
    set_rate(scene, 24)
    m = movie(scene, media["v25"])
    sound(scene, media["clicks"], channel=1)
    _job, prepared = prepare(mods, scene, m, tmp_path)
    assert not prepared.passthrough
    assert video_info(mods, prepared.video_path)["rate"] == 24
    assert read_codes(prepared.video_path) == list(range(100))


def test_ntsc_cut_exact(scene, mods, media, tmp_path):
    set_rate(scene, 30, 1.001)
    m = movie(scene, media["ntsc"], frame_start=1, offsets=(30, 30))
    sound(scene, media["clicks"], channel=1)
    _job, prepared = prepare(mods, scene, m, tmp_path)
    assert read_codes(prepared.video_path) == list(range(30, 90))
    info = video_info(mods, prepared.video_path)
    assert (info["frames"], info["rate"]) == (60, Fraction(30000, 1001))


def test_untrimmed_accepted_strip_uploaded_as_is(scene, mods, media, tmp_path, monkeypatch):
    st, me = mods
    set_rate(scene, 24)
    m = movie(scene, media["v24"])
    sound(scene, media["clicks"], channel=1)

    def no_video_ffmpeg(*args, **kw):
        raise AssertionError("ffmpeg must not run for an accepted untrimmed video")

    monkeypatch.setattr(lipsync("worker.ffmpeg"), "video_command", no_video_ffmpeg)
    job = st.snapshot_job(scene, m)
    t0 = time.perf_counter()
    assert me.passthrough_reason(job.video, job.scene_rate) is None
    assert time.perf_counter() - t0 < 0.05
    prepared = me.prepare_media(job, str(tmp_path / "w"), use_segments=True)
    assert prepared.passthrough and prepared.video_path == media["v24"]
    assert prepared.timings["video_check"] < 0.05


@pytest.mark.parametrize("variant", ["mkv", "yuv444", "mpeg4", "with_audio_ok"])
def test_passthrough_needs_accepted_format(scene, mods, tmp_path, media, variant):
    st, me = mods
    set_rate(scene, 24)
    kw = {"mkv": dict(), "yuv444": dict(pix_fmt="yuv444p"), "mpeg4": dict(codec="mpeg4"),
          "with_audio_ok": dict(with_audio=True)}[variant]
    ext = ".mkv" if variant == "mkv" else ".mp4"
    path = make_coded_video(tmp_path / f"src{ext}", 24, "24", **kw)
    m = movie(scene, path)
    sound(scene, media["clicks"], channel=1)
    job = st.snapshot_job(scene, m)
    reason = me.passthrough_reason(job.video, job.scene_rate)
    if variant == "with_audio_ok":  # providers take the dialogue separately; the track is ignored
        assert reason is None
    else:
        assert reason is not None
        prepared = me.prepare_media(job, str(tmp_path / "w"), use_segments=True)
        assert read_codes(prepared.video_path) == list(range(24))
        assert video_info(mods, prepared.video_path)["profile"] in (66, 77, 100)


def test_spaces_and_non_ascii_paths(scene, mods, media, tmp_path):
    folder = tmp_path / "dir with spaces" / "Szene ü 日本"
    folder.mkdir(parents=True)
    video = shutil.copy(media["v25"], folder / "vidéo ü 1.mp4")
    audio = shutil.copy(media["clicks"], folder / "voix é 2.wav")
    set_rate(scene, 25)
    m = movie(scene, str(video), offsets=(10, 10))
    sound(scene, str(audio), channel=1)
    st, me = mods
    job = st.snapshot_job(scene, m)
    prepared = me.prepare_media(job, str(folder / "work dir é"), use_segments=False)
    assert read_codes(prepared.video_path) == list(range(10, 90))
    assert len(decode_audio(prepared.mixed_audio_path)) == 80 * RATE // 25


def test_cancel_before_start(scene, mods, media, tmp_path):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], offsets=(3, 0))
    sound(scene, media["clicks"], channel=1)
    errors = lipsync("client.errors")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(errors.Cancelled):
        prepare(mods, scene, m, tmp_path, cancel=cancel)


def test_cancel_kills_running_ffmpeg(scene, mods, media, tmp_path, monkeypatch):
    st, me = mods
    set_rate(scene, 25)
    m = movie(scene, media["v25"], offsets=(3, 0))
    sound(scene, media["clicks"], channel=1)
    errors = lipsync("client.errors")
    started = []

    def slow(ff, video, rate, out, start_offset=None):  # a 30 s real-time encode standing in for a long clip
        started.append(out)
        return [ff, "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=d=30",
                "-f", "null", "-"]

    monkeypatch.setattr(lipsync("worker.ffmpeg"), "video_command", slow)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.perf_counter()
    with pytest.raises(errors.Cancelled):
        me.prepare_media(st.snapshot_job(scene, m), str(tmp_path / "w"), use_segments=True, cancel=cancel)
    assert started and time.perf_counter() - t0 < 3


# --- audio ------------------------------------------------------------------------------------

def test_segments_of_two_overlapping_strips(scene, mods, media, tmp_path):
    """Overlapping dialogue is never two segments over the same frames (one voice lost, issue 14):
    each strip keeps its own segment where it is heard alone, and the overlap is a segment of
    its own with both mixed (with the options of the strip that started first)."""
    set_rate(scene, 24)
    m = movie(scene, media["v25"], channel=3, frame_start=11, offsets=(5, 7))  # visible 16..104
    sound(scene, media["clicks"], channel=1, frame_start=7, handles=(9, 57))  # heard 16..57
    sound(scene, media["clicks_b"], channel=2, frame_start=43, handles=(47, 200))  # heard 47..104
    job, prepared = prepare(mods, scene, m, tmp_path,
                            segment_overrides={1: {"temperature": 0.3}})
    a1, a2, a3 = prepared.audio
    assert (a1.id, a2.id, a3.id) == ("a1", "a2", "a3") and prepared.mixed_audio_path is None
    s1, s2, s3 = prepared.segments
    assert (s1.audio_id, s1.start, s1.end) == ("a1", 0.0, pytest.approx(31 / 24, abs=1e-12))
    assert (s2.audio_id, s2.start, s2.end) == ("a2", pytest.approx(31 / 24, abs=1e-12),
                                               pytest.approx(41 / 24, abs=1e-12))
    assert (s3.audio_id, s3.start, s3.end) == ("a3", pytest.approx(41 / 24, abs=1e-12),
                                               pytest.approx(88 / 24, abs=1e-12))
    assert s1.options_override == {} and s2.options_override == {} and s3.options_override == {"temperature": 0.3}
    # in upload seconds: clicks (cut from file time 9/24 s) at 0.125, 0.625, 1.625; clicks_b (from
    # file time 4/24 s, at 31/24 s) at 31/24 + 0.25 - 4/24 = 1.375 and 31/24 + 1.5 - 4/24 = 2.625
    pcm1, pcm2, pcm3 = decode_audio(a1.path), decode_audio(a2.path), decode_audio(a3.path)
    assert [len(p) for p in (pcm1, pcm2, pcm3)] == [round(n / 24 * RATE) for n in (31, 10, 47)]
    assert click_times(pcm1) == pytest.approx([0.125, 0.625], abs=0.002)
    assert click_times(pcm2) == pytest.approx([1.375 - 31 / 24, 1.625 - 31 / 24], abs=0.002)  # both voices
    assert click_times(pcm3) == pytest.approx([2.625 - 41 / 24], abs=0.002)


def test_disabled_segment_dropped(scene, mods, media, tmp_path):
    set_rate(scene, 24)
    m = movie(scene, media["v25"], channel=3, frame_start=11, offsets=(5, 7))
    sound(scene, media["clicks"], channel=1, frame_start=7, handles=(9, 57))
    b = sound(scene, media["clicks_b"], channel=2, frame_start=43, handles=(47, 200))
    _job, prepared = prepare(mods, scene, m, tmp_path, segment_overrides={0: {"enabled": False}})
    seg, = prepared.segments
    assert seg.audio_id == "a1" and seg.start == pytest.approx(31 / 24)
    assert [a.id for a in prepared.audio] == ["a1"] and b.name
    errors = lipsync("client.errors")
    with pytest.raises(errors.InputError, match="disabled"):
        prepare(mods, scene, m, tmp_path, segment_overrides={0: {"enabled": False}, 1: {"enabled": False}})


def test_mixed_audio_exact_length_and_offsets(scene, mods, media, tmp_path):
    set_rate(scene, 24)
    m = movie(scene, media["v25"], channel=3, frame_start=11, offsets=(5, 7))
    sound(scene, media["clicks"], channel=1, frame_start=7, handles=(9, 57))
    sound(scene, media["clicks_b"], channel=2, frame_start=43, handles=(47, 200))
    _job, prepared = prepare(mods, scene, m, tmp_path, use_segments=False)
    assert prepared.segments == [] and [a.id for a in prepared.audio] == ["a1"]
    assert prepared.audio[0].path == prepared.mixed_audio_path
    pcm = decode_audio(prepared.mixed_audio_path)
    assert len(pcm) == round(88 / 24 * RATE)  # exactly the video's duration
    second = 31 / 24 - 4 / 24  # part 2 starts 31 frames in, at its file time 4/24 s
    assert click_times(pcm) == pytest.approx(sorted([0.125, 0.625, 1.625, second + 0.25, second + 1.5]), abs=0.002)


def test_sound_offset_delays_audio_in_mix(scene, mods, media, tmp_path):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], channel=2)  # 1..101, 4 s
    s = sound(scene, media["clicks"], channel=1)
    s.sound_offset = 0.25
    _job, prepared = prepare(mods, scene, m, tmp_path, use_segments=False)
    pcm = decode_audio(prepared.mixed_audio_path)
    assert len(pcm) == 4 * RATE
    assert click_times(pcm) == pytest.approx([0.75, 1.25, 2.25, 3.25], abs=0.002)


def test_single_covering_strip_is_plain_either_way(scene, mods, media, tmp_path):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], channel=2, offsets=(10, 20))
    sound(scene, media["clicks"], channel=1)
    for use_segments in (True, False):
        _job, prepared = prepare(mods, scene, m, tmp_path / str(use_segments), use_segments=use_segments)
        assert prepared.segments == [] and len(prepared.audio) == 1
        assert prepared.mixed_audio_path == prepared.audio[0].path
        pcm = decode_audio(prepared.mixed_audio_path)
        assert len(pcm) == round(70 / 25 * RATE)
        assert click_times(pcm) == pytest.approx([0.1, 0.6, 1.6, 2.6], abs=0.002)  # file time - 0.4 s


def test_audio_is_compact_mp3(scene, mods, media, tmp_path):
    from tests.media_fixtures import make_tone_wav

    set_rate(scene, 25)
    m = movie(scene, media["v25"], channel=2)
    sound(scene, make_tone_wav(tmp_path / "tone.wav", 5.0), channel=1)
    _job, prepared = prepare(mods, scene, m, tmp_path, use_segments=False)
    with open(prepared.mixed_audio_path, "rb") as f:
        head = f.read(3)
    assert head == b"ID3" or head[0] == 0xFF
    wav_bytes = 44 + 4 * RATE * 2  # 4 s of 16-bit 48 kHz mono
    assert os.path.getsize(prepared.mixed_audio_path) <= wav_bytes / 6


def test_prep_time_not_above_plain_reencode(scene, mods, tmp_path):
    """Same work as `ffmpeg -ss -t` with x264 veryfast, nothing more. Compared in CPU seconds of
    the ffmpeg processes: wall time on a shared 2-core runner is too noisy to assert on."""
    import resource

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    from tests.media_fixtures import make_test_video

    src = make_test_video(tmp_path / "bench.mp4", 8.0, 25, size=(640, 360), with_audio=True)
    set_rate(scene, 25)
    m = movie(scene, src, offsets=(50, 50))
    sound(scene, src, channel=1)

    def plain():
        t0 = cpu()
        subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-y", "-ss", "2", "-i", src, "-t", "4",
                        "-c:v", "libx264", "-preset", "veryfast", str(tmp_path / "plain.mp4")], check=True)
        return cpu() - t0

    def ours():
        t0 = cpu()
        prepare(mods, scene, m, tmp_path, use_segments=False)
        return cpu() - t0

    plain_s, ours_s = min(plain() for _ in range(2)), min(ours() for _ in range(2))
    assert ours_s <= plain_s * 1.15 + 0.05, (ours_s, plain_s)


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_rate_read_from_file_when_blender_had_none(mods, tmp_path, ext):
    """The snapshot never calls MovieStrip.fps (it reopens the movie: 40-150 ms on the main
    thread); if elements[0].orig_fps is 0 the worker reads the rate from the file."""
    st, me = mods
    path = make_coded_video(tmp_path / f"n{ext}", 40, "30000/1001")
    video = lipsync("worker.plan").VideoSource(path=path, fps=0.0, file_start=float("nan"), duration=0.0, frames=20,
                           width=160, height=120, first_frame=10, rate=None, total_frames=40)
    resolved = me.resolve_rate(video)
    assert resolved.rate == Fraction(30000, 1001) and resolved.file_start == pytest.approx(10 * 1.001 / 30)


def test_snapshot_reads_no_slow_properties(scene, mods, media):
    st, _me = mods
    set_rate(scene, 25)
    m = movie(scene, media["v25"], offsets=(5, 5))
    sound(scene, media["clicks"], channel=1)
    st.snapshot_job(scene, m)
    t0 = time.perf_counter()
    job = st.snapshot_job(scene, m)
    assert time.perf_counter() - t0 < 0.005  # main thread: a few ms at most
    assert job.video.rate == 25


def test_held_frames_past_the_media_are_cloned(scene, mods, media, tmp_path):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], frame_start=11, offsets=(-3, -4))  # 8..115: 3 + 100 + 4 frames
    sound(scene, media["clicks"], channel=1)
    job, prepared = prepare(mods, scene, m, tmp_path)
    assert (job.video.first_frame, job.video.frames) == (0, 107)   # frame 0 is held for 3 frames
    assert read_codes(prepared.video_path) == [0] * 3 + list(range(100)) + [99] * 4


def test_ffmpeg_failure_is_a_clear_input_error(scene, mods, media, tmp_path):
    import dataclasses
    st, me = mods
    set_rate(scene, 25)
    m = movie(scene, media["v25"], offsets=(3, 0))
    sound(scene, media["clicks"], channel=1)
    job = st.snapshot_job(scene, m)
    garbage = tmp_path / "not audio.wav"
    garbage.write_bytes(b"this is not a wav file" * 100)
    job = dataclasses.replace(job, audio=(dataclasses.replace(job.audio[0], path=str(garbage)),))
    errors = lipsync("client.errors")
    with pytest.raises(errors.InputError, match="ffmpeg could not prepare the mixed audio"):
        me.prepare_media(job, str(tmp_path / "w"), use_segments=False)
