"""strips.snapshot_job: strip timing -> plain data, on real bpy (4.5, 5.0, 5.2).

Expected values are computed with Fractions from the scene by hand, as the docstrings of
operators/strips.py explain; DeprecationWarnings are errors here so 5.2 proves compat.py use.
"""

import types
from fractions import Fraction

import bpy
import pytest
from tests.blender.media_kit import movie, scene_state, set_rate, sound
from tests.fixtures.addon import lipsync

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


@pytest.fixture
def st(addon):
    return lipsync("vse.snapshot")


def exact(value):
    return pytest.approx(float(value), abs=1e-12)


def test_exact_rate_snaps_float32_rates(st):
    assert st.exact_rate(30 / 1.0010000467300415) == Fraction(30000, 1001)
    assert st.exact_rate(24 / 1.0010000467300415) == Fraction(24000, 1001)
    assert st.exact_rate(29.970029830932617) == Fraction(30000, 1001)  # MovieStrip.fps of NTSC
    assert st.exact_rate(23.976) == Fraction(2997, 125)  # not NTSC: 1e-6 away
    assert st.exact_rate(25.0) == 25 and st.exact_rate(12.5) == Fraction(25, 2)


def test_trimmed_movie_with_offsets(scene, st, media):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], channel=2, frame_start=11, offsets=(5, 7))
    s = sound(scene, media["clicks"], channel=1, frame_start=1)
    job = st.snapshot_job(scene, m)
    v = job.video
    # visible 16..104; timeline 16 shows source frame 16 - 11 = 5
    assert (v.first_frame, v.frames, v.total_frames) == (5, 88, 100)
    assert v.file_start == exact(Fraction(5, 25)) and v.duration == exact(Fraction(88, 25))
    assert (v.width, v.height, v.fps, v.untrimmed) == (160, 120, 25.0, False)
    assert job.placement == st.Placement("Scene", m.name, 2, 16, 104, "")
    part, = job.audio
    # sound starts at frame 1: frame 16 plays 15/25 s of the file; it covers the whole video
    assert part.strip_name == s.name and part.file_start == exact(Fraction(15, 25))
    assert part.video_offset == 0 and part.duration == exact(Fraction(88, 25))


def test_clip_25fps_in_24fps_scene_is_frame_for_frame(scene, st, media):
    """Blender shows one source frame per timeline frame (measured 4.5/5.0/5.2): the upload is
    the visible source frames at 24 fps, lasting what the artist watched."""
    set_rate(scene, 24)
    m = movie(scene, media["v25"], frame_start=11, offsets=(5, 7))
    sound(scene, media["clicks"], frame_start=11)
    assert lipsync("vse.compat").visible_range(m) == (16, 104)
    job = st.snapshot_job(scene, m)
    v = job.video
    assert (v.first_frame, v.frames, v.rate, job.scene_rate) == (5, 88, 25, 24)
    assert v.file_start == exact(Fraction(5, 25))          # seconds in the 25 fps file
    assert v.duration == exact(Fraction(88, 24))           # seconds on the 24 fps timeline
    assert job.audio[0].file_start == exact(Fraction(5, 24))  # sound plays in scene seconds


def test_ntsc_clip_in_ntsc_scene_exact(scene, st, media):
    set_rate(scene, 30, 1.001)
    m = movie(scene, media["ntsc"], frame_start=1, offsets=(30, 30))
    sound(scene, media["clicks"], frame_start=1)
    job = st.snapshot_job(scene, m)
    ntsc = Fraction(30000, 1001)
    assert job.scene_rate == ntsc and job.video.rate == ntsc
    assert (job.video.first_frame, job.video.frames) == (30, 60)
    assert job.video.file_start == float(30 / ntsc) == 1.001
    assert job.video.duration == float(60 / ntsc) == 2.002
    assert job.audio[0].file_start == 1.001 and job.audio[0].duration == 2.002


def test_content_trim_start_counts_in_source_frame(scene, st, media):
    """animation_offset_start (5.2: content_trim_start) hides source frames at the start: 4.x
    keeps frame_start, 5.2 moves content_start, the shown frame is the same (measured)."""
    set_rate(scene, 25)
    compat = lipsync("vse.compat")
    m = movie(scene, media["v25"], frame_start=101)
    compat.set_timing(m, "animation_offset_start", 10)
    compat.set_timing(m, "animation_offset_end", 4)
    compat.set_timing(m, "frame_offset_start", 3)
    sound(scene, media["clicks"], frame_start=90)
    job = st.snapshot_job(scene, m)
    assert job.video.first_frame == 13 and job.video.frames == 83
    assert job.video.total_frames == 100 and not job.video.untrimmed


def test_two_overlapping_dialogue_strips_at_odd_offsets(scene, st, media):
    set_rate(scene, 24)
    m = movie(scene, media["v25"], channel=3, frame_start=11, offsets=(5, 7))  # visible 16..104
    a = sound(scene, media["clicks"], channel=1, frame_start=7, handles=(9, 57))  # overlap 16..57
    b = sound(scene, media["clicks_b"], channel=2, frame_start=43, handles=(47, 200))  # 47..104
    muted = sound(scene, media["clicks"], channel=4, frame_start=20)
    muted.mute = True
    sound(scene, media["clicks_b"], channel=5, frame_start=300)  # after the video
    assert [s.name for s in st.overlapping_sounds(scene, m)] == [a.name, b.name]
    job = st.snapshot_job(scene, m)
    pa, pb = job.audio
    assert (pa.strip_name, pa.frame_start, pa.frame_end) == (a.name, 16, 57)
    assert pa.video_offset == 0 and pa.duration == exact(Fraction(41, 24))
    assert pa.file_start == exact(Fraction(16 - 7, 24))
    assert (pb.strip_name, pb.frame_start, pb.frame_end) == (b.name, 47, 104)
    assert pb.video_offset == exact(Fraction(47 - 16, 24)) and pb.duration == exact(Fraction(57, 24))
    assert pb.file_start == exact(Fraction(47 - 43, 24))


def test_explicit_sound_strips_only(scene, st, media):
    set_rate(scene, 24)
    m = movie(scene, media["v24"], channel=3)
    sound(scene, media["clicks"], channel=1)
    b = sound(scene, media["clicks_b"], channel=2)
    job = st.snapshot_job(scene, m, [b])
    assert [p.strip_name for p in job.audio] == [b.name]


def test_sound_offset_and_content_trim(scene, st, media):
    set_rate(scene, 24)
    compat = lipsync("vse.compat")
    m = movie(scene, media["v24"], channel=3, frame_start=1)  # 1..73
    s = sound(scene, media["clicks"], channel=1, frame_start=1)
    s.sound_offset = 0.25  # the sound is heard 0.25 s later (measured: clicks move later)
    job = st.snapshot_job(scene, m)
    part, = job.audio
    # frame 1 would play file time -0.25 s: silence until 0.25 s into the video
    assert part.file_start == 0 and part.video_offset == exact(0.25)
    assert part.duration == exact(Fraction(72, 24) - Fraction(1, 4))
    s.sound_offset = 0.0
    compat.set_timing(s, "animation_offset_start", 12)  # hides the first 0.5 s of the file
    start = compat.get_timing(s, "frame_start")
    part, = st.snapshot_job(scene, m).audio
    first = max(1, compat.visible_range(s)[0])
    assert part.file_start == exact(Fraction(first - int(start) + 12, 24))


def test_scene_sound_strip_partly_before_video(scene, st, media):
    set_rate(scene, 25)
    m = movie(scene, media["v25"], channel=2, frame_start=51)  # 51..151
    sound(scene, media["clicks_b"], channel=1, frame_start=1)  # 3 s = 75 frames: 1..76
    part, = st.snapshot_job(scene, m).audio
    assert (part.frame_start, part.frame_end) == (51, 76)
    assert part.file_start == exact(2.0) and part.duration == exact(1.0) and part.video_offset == 0


# --- validation: clear InputError, nothing changed ------------------------------------------

def _error(st, scene, strip, sounds=None):
    from_errors = lipsync("client.errors")
    before = scene_state(scene)
    with pytest.raises(from_errors.InputError) as info:
        st.snapshot_job(scene, strip, sounds)
    assert scene_state(scene) == before
    return str(info.value)


@pytest.fixture
def still(tmp_path):
    from tests.blender.media_kit import FF
    import subprocess
    path = str(tmp_path / "still.png")
    subprocess.run([FF, "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32",
                    "-frames:v", "1", path], check=True)
    return path


def test_not_a_movie_strip_messages(scene, st, media, still):
    compat = lipsync("vse.compat")
    strips = compat.strips(scene.sequence_editor_create())
    sound(scene, media["clicks"], channel=1)
    cases = {
        "image strip": strips.new_image("img", still, 2, 1),
        "color strip": compat.new_effect(strips, "col", "COLOR", 3, 1, 50),
        "text strip": compat.new_effect(strips, "txt", "TEXT", 4, 1, 50),
        "meta strip": strips.new_meta("meta", 5, 1),
        "scene strip": strips.new_scene("sc", bpy.data.scenes.new("Other"), 6, 1),
        "sound strip": sound(scene, media["clicks_b"], channel=7),
    }
    for what, strip in cases.items():
        message = _error(st, scene, strip)
        assert f'"{strip.name}" is a{"n" if what[0] in "aeiou" else ""} {what}' in message, message
    assert "select the movie" in _error(st, scene, cases["sound strip"])
    assert "render it to a video file" in _error(st, scene, cases["image strip"])
    assert "Tab" in _error(st, scene, cases["meta strip"])


def test_missing_media_files(scene, st, media, tmp_path):
    import shutil
    video, audio = tmp_path / "gone.mp4", tmp_path / "gone.wav"
    shutil.copy(media["v25"], video)
    shutil.copy(media["clicks"], audio)
    m = movie(scene, str(video))
    s = sound(scene, str(audio), channel=1)
    audio.unlink()
    message = _error(st, scene, m)
    assert f'sound file of strip "{s.name}" was not found: {audio}' in message
    video.unlink()
    assert f'movie file of strip "{m.name}" was not found: {video}' in _error(st, scene, m)


def test_no_overlapping_sound(scene, st, media):
    m = movie(scene, media["v25"], frame_start=1)
    assert "No audible sound strip overlaps" in _error(st, scene, m)
    late = sound(scene, media["clicks"], channel=1, frame_start=500)
    assert "No audible sound strip overlaps" in _error(st, scene, m, [late])
    muted = sound(scene, media["clicks"], channel=3, frame_start=1)
    muted.mute = True
    assert "muted strips" in _error(st, scene, m) and "do not count" in _error(st, scene, m)
    quiet = sound(scene, media["clicks"], channel=4, frame_start=1)
    quiet.volume = 0.0
    assert "No audible sound strip" in _error(st, scene, m)


def test_reverse_frames_and_time_remap_refused(scene, st, media):
    m = movie(scene, media["v25"])
    sound(scene, media["clicks"], channel=1)
    m.use_reverse_frames = True
    assert "plays in reverse" in _error(st, scene, m)
    m.use_reverse_frames = False
    scene.render.frame_map_new = 200
    assert "remaps time" in _error(st, scene, m)


@pytest.mark.skipif(bpy.app.version < (5, 2, 0), reason="retiming_keys.add() segfaults bpy 4.5 and 5.0 headless")
def test_retimed_strips_refused(scene, st, media):
    m = movie(scene, media["v25"])
    s = sound(scene, media["clicks"], channel=1)
    s.retiming_keys.add(timeline_frame=30)
    assert f'Sound strip "{s.name}" is retimed' in _error(st, scene, m)
    s.retiming_keys.reset()
    m.retiming_keys.add(timeline_frame=41)
    assert f'Movie strip "{m.name}" is retimed' in _error(st, scene, m)


def test_zero_length_refused(st):
    errors = lipsync("client.errors")
    fake = types.SimpleNamespace(type="MOVIE", name="empty", frame_final_start=10, frame_final_end=10,
                                 bl_rna=types.SimpleNamespace(properties={}))
    with pytest.raises(errors.InputError, match='"empty" has zero length'):
        st.read_video(types.SimpleNamespace(render=None), fake, Fraction(25))


def test_strips_inside_metas_clipped_and_muted_metas_silent(scene, st, media):
    set_rate(scene, 25)
    compat = lipsync("vse.compat")
    strips = compat.strips(scene.sequence_editor_create())
    meta = strips.new_meta("Shot", 3, 1)
    inner = compat.strips(meta).new_movie("inner", media["v25"], 2, 11)  # 11..111
    compat.strips(meta).new_sound("inner voice", media["clicks"], 1, 1)
    compat.set_timing(meta, "frame_offset_start", 0)
    compat.set_timing(meta, "frame_offset_end", 0)
    compat.set_timing(meta, "frame_final_start", 31)   # the meta shows only 31..91
    compat.set_timing(meta, "frame_final_end", 91)
    muted_meta = strips.new_meta("Muted", 6, 1)
    compat.strips(muted_meta).new_sound("hidden", media["clicks_b"], 1, 1)
    compat.set_timing(muted_meta, "frame_offset_start", 0)
    compat.set_timing(muted_meta, "frame_offset_end", 0)
    muted_meta.mute = True
    job = st.snapshot_job(scene, inner)
    assert (job.video.first_frame, job.video.frames) == (20, 60)
    assert (job.placement.frame_start, job.placement.frame_end, job.placement.meta) == (31, 91, "Shot")
    assert [p.strip_name for p in job.audio] == ["inner voice"]
    assert job.audio[0].file_start == exact(Fraction(30, 25))
