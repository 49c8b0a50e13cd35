"""The upload holds exactly the source frames Blender shows, for strips with and without the
automatic playback rate (issue 14, docs/architecture.md "Frames and seconds").

Oracle: Blender's own render of the timeline (tests/fixtures/render.py) read back through the
frame-number barcode (tests/fixtures/oracle.py), compared frame by frame with the decoded upload
that worker/media.py cuts from vse/snapshot.py's plan. Clips at 23.976, 25, 29.97, 30, 50 and 59.94
fps in 24, 25 and 30 fps scenes, added like Add > Movie (`movie_strip_add`, rate flag on or off)
and through the API, plain, trimmed and moved, content-trimmed, held past the content and at a
half-frame start. Each test prints its table: case, frames compared, mismatches, and the count
the one-to-one assumption (the add-on before issue 14) would have had.
"""

import os

import pytest

from tests.fixtures import oracle
from tests.fixtures.addon import lipsync
from tests.fixtures.render import add_movie_like_the_ui, one_to_one, render_range, render_scene

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

CLIP_RATES = ("24000/1001", "25", "30000/1001", "30", "50", "60000/1001")
FRAMES = 150
SPACING = 260


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rate_clips")
    made = {rate: oracle.make_clip(folder / f"c{rate.replace('/', '_')}.mp4", FRAMES, rate, (160, 90), picture=False)
            for rate in CLIP_RATES}
    made["tone"] = oracle.tone_wav(folder / "tone.wav", 600.0)
    return made


def _timing(strip, name, value=None):
    compat = lipsync("vse.compat")
    if value is None:
        return compat.get_timing(strip, name)
    compat.set_timing(strip, name, value)


def _vary(strip, variant):
    """Edit a strip as an editor would: trim and move, trim the content, drag past it, half-frame."""
    if variant == "trimmed+moved":
        _timing(strip, "frame_offset_start", 7)
        _timing(strip, "frame_offset_end", 5)
        _timing(strip, "frame_start", _timing(strip, "frame_start") + 13)
    elif variant == "content-trim":
        _timing(strip, "animation_offset_start", 4)
        _timing(strip, "animation_offset_end", 3)
    elif variant == "held":
        _timing(strip, "frame_offset_start", -3)
        _timing(strip, "frame_offset_end", -4)
    elif variant == "half-start":
        _timing(strip, "frame_start", _timing(strip, "frame_start") + 0.5)


def _add(scene, clips, rate, how, at):
    if how == "API":
        strips = lipsync("vse.compat").strips(scene.sequence_editor)
        return strips.new_movie(f"api{at}", clips[rate], 2, at)
    movie, _sound = add_movie_like_the_ui(scene, clips[rate], at, 2, adjust_playback_rate=how == "Add>Movie",
                                          sound=False)
    return movie


CASES = ([(rate, "Add>Movie", v) for rate in CLIP_RATES
          for v in ("plain", "trimmed+moved", "content-trim", "held", "half-start")]
         + [(rate, "Add>Movie fixed", "plain") for rate in CLIP_RATES]
         + [(rate, "API", v) for rate in CLIP_RATES for v in ("plain", "trimmed+moved")])


@pytest.mark.parametrize("scene_rate", ["24", "25", "30"])
def test_upload_is_what_blender_shows(addon, clips, tmp_path, scene_rate):
    snapshot, media, playback = lipsync("vse.snapshot"), lipsync("worker.media"), lipsync("vse.playback")
    compat = lipsync("vse.compat")
    scene = render_scene(scene_rate, size=(160, 90))
    strips = []
    for number, (rate, how, variant) in enumerate(CASES):
        strip = _add(scene, clips, rate, how, 1 + number * SPACING)
        _vary(strip, variant)
        strips.append(strip)
    names = [s.name for s in strips]
    sound = compat.strips(scene.sequence_editor).new_sound("dialogue", clips["tone"], 1, 1)
    by_copy = playback.auto_rate_by_scene_copy(scene, names)
    rows, bad, before_bad, compared = [], 0, 0, 0
    for (rate, how, variant), name in zip(CASES, names):
        strip = compat.strips_all(scene.sequence_editor)[name]
        assert playback.auto_rate(scene, strip) == by_copy[name] == (how == "Add>Movie"), name
        left, right = (int(v) for v in compat.visible_range(strip))
        rendered = render_range(scene, left, right - 1, str(tmp_path / "r"), prefix=f"s{left}_")
        shown = [oracle.decode_image(oracle.read_bmp(rendered[f])) for f in range(left, right)]
        for path in rendered.values():
            os.unlink(path)
        assert None not in shown, (name, shown)
        job = snapshot.snapshot_job(scene, strip, [sound])
        prepared = media.prepare_media(job, str(tmp_path / "w" / name), use_segments=False)
        uploaded = oracle.decode_video(prepared.video_path)
        wrong = sum(a != b for a, b in zip(uploaded, shown)) + abs(len(uploaded) - len(shown))
        before = sum(a != b for a, b in zip(one_to_one(strip, left, right), shown))
        bad += wrong
        before_bad += before
        compared += len(shown)
        rows.append(f"{rate:>10} in {scene_rate} {how:<16} {variant:<14} {len(shown):4d} frames  "
                    f"mismatches {wrong:3d}  (one-to-one: {before:3d})")
        if wrong:
            rows[-1] += f"  shown {shown[:12]}... uploaded {uploaded[:12]}..."
    print(f"\n[figures] scene {scene_rate} fps: {len(rows)} strips, {compared} "
          f"frames, {bad} mismatches (one-to-one: {before_bad})\n" + "\n".join(rows))
    assert bad == 0


def test_drift_region_of_a_long_clip(addon, tmp_path):
    """23.976 fps in 24 fps with the rate flag drifts a frame every 1000: 4.5 shows frame k-1 from
    timeline frame 500 on, 5.x never shows source frame 1 and 1001. A 1100-frame clip trimmed to
    show frames around 500 and 1000."""
    snapshot, media = lipsync("vse.snapshot"), lipsync("worker.media")
    scene = render_scene("24", size=(160, 90))
    clip = oracle.make_clip(tmp_path / "long.mp4", 1100, "24000/1001", (160, 90), picture=False, gop=48)
    tone = oracle.tone_wav(tmp_path / "tone.wav", 60.0)
    compat = lipsync("vse.compat")
    for at, (head, tail) in ((1, (0, 1040)), (2001, (480, 560)), (4001, (985, 60))):
        strip, _ = add_movie_like_the_ui(scene, clip, at, 2, sound=False)
        _timing(strip, "frame_offset_start", head)
        _timing(strip, "frame_offset_end", tail)
        left, right = (int(v) for v in compat.visible_range(strip))
        compat.strips(scene.sequence_editor).new_sound(f"d{at}", tone, 1, left)
        rendered = render_range(scene, left, right - 1, str(tmp_path / "r"), prefix=f"l{at}_")
        shown = [oracle.decode_image(oracle.read_bmp(rendered[f])) for f in range(left, right)]
        job = snapshot.snapshot_job(scene, strip)
        uploaded = oracle.decode_video(media.prepare_media(job, str(tmp_path / f"w{at}"),
                                                           use_segments=False).video_path)
        before = sum(a != b for a, b in zip(one_to_one(strip, left, right), shown))
        print(f"\n[figures] 23.976 in 24, timeline frames {left - at}..{right - at} of the content: "
              f"{len(shown)} frames, mismatches {sum(a != b for a, b in zip(uploaded, shown))} "
              f"(one-to-one: {before})")
        assert uploaded == shown
        assert before > 0 or at == 1   # the region really drifts (at 1 only 5.x differs, at frame 1)


def test_pieces_and_handles_follow_the_rate(addon, clips, tmp_path):
    """A no-lipsync range splits an Add > Movie strip into pieces; each piece with its handles
    uploads the frames Blender shows there, and the hidden handles are the frames around them."""
    snapshot, media = lipsync("vse.snapshot"), lipsync("worker.media")
    compat = lipsync("vse.compat")
    scene = render_scene("24", size=(160, 90))
    strip, _ = add_movie_like_the_ui(scene, clips["30"], 1, 2, sound=False)      # 150 frames -> 1..121
    _timing(strip, "frame_offset_start", 10)
    compat.strips(scene.sequence_editor).new_sound("dialogue", clips["tone"], 1, 1)
    guide = compat.new_effect(compat.strips(scene.sequence_editor), "No Lipsync", "COLOR", 5, 50, 10)
    left, right = (int(v) for v in compat.visible_range(strip))
    rendered = render_range(scene, 1, right - 1, str(tmp_path / "r"))
    shown = {f: oracle.decode_image(oracle.read_bmp(p)) for f, p in rendered.items()}
    jobs = snapshot.plan_jobs(scene, strip, handles=4)
    assert [(j.placement.frame_start, j.placement.frame_end) for j in jobs] == [(left, 50), (60, right)]
    for job in jobs:
        pre = job.placement.handle_start
        start = job.placement.frame_start - pre
        uploaded = oracle.decode_video(media.prepare_media(job, str(tmp_path / f"w{start}"),
                                                           use_segments=False).video_path)
        visible = [shown[f] for f in range(job.placement.frame_start, job.placement.frame_end)]
        assert uploaded[pre:pre + len(visible)] == visible
        assert pre == 4
        # the pre-roll is what the strip shows there with its handle pulled out (frames 6..9 here)
        _timing(strip, "frame_offset_start", 0)
        guide.mute = True     # the colour strip covers the second piece's pre-roll in the render
        rendered_pre = render_range(scene, start, start + pre - 1, str(tmp_path / "p"), prefix=f"p{start}_")
        _timing(strip, "frame_offset_start", 10)
        guide.mute = False
        assert uploaded[:pre] == [oracle.decode_image(oracle.read_bmp(p)) for p in rendered_pre.values()]
