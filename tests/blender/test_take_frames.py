"""The placed take shows, at every timeline frame, the take frame made from the source frame Blender
shows there (issue 14, docs/blender.md §2 "The automatic playback rate").

End to end against the sandbox over HTTP: a barcoded clip added like Add > Movie (the automatic
playback rate on), or through the API, trimmed, with dialogue under it, is submitted with handles;
the sandbox returns the uploaded video re-encoded with a moving mouth (the barcode survives).
Blender's render of the timeline before the submit (the source) and after it (the take on top) are
read back with the barcode oracle and compared frame by frame. Each case prints its figures and
what the one-to-one upload of the add-on before issue 14 would have placed there.
"""

import os
from fractions import Fraction

import bpy
import pytest

from tests.fixtures import oracle
from tests.fixtures.addon import lipsync
from tests.fixtures.render import add_movie_like_the_ui, one_to_one, render_range, render_scene
from tests.fixtures.workflow import takes, use_sandbox

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

SECONDS = 3
CASES = [("24000/1001", "24"), ("25", "24"), ("30000/1001", "24"), ("30", "24"), ("50", "24"),
         ("60000/1001", "24"), ("30000/1001", "25"), ("50", "25"), ("25", "30"), ("60000/1001", "30")]


def _shown(scene, left, right, folder, prefix):
    rendered = render_range(scene, left, right - 1, folder, prefix=prefix)
    codes = [oracle.decode_image(oracle.read_bmp(rendered[f])) for f in range(left, right)]
    for path in rendered.values():
        os.unlink(path)
    return codes


@pytest.mark.parametrize("how", ["Add>Movie", "API"])
@pytest.mark.parametrize("clip_rate,scene_rate", CASES)
def test_take_shows_what_the_source_shows(addon, online, clean_env, sandbox, tmp_path, clip_rate, scene_rate, how):
    if how == "API" and clip_rate not in ("30", "24000/1001"):
        pytest.skip("API-added strips are one-to-one: two rates cover them")
    compat = lipsync("vse.compat")
    use_sandbox(clean_env, sandbox, "sync")
    scene = render_scene(scene_rate, size=(160, 90))
    frames = round(SECONDS * Fraction(clip_rate))
    clip = oracle.make_clip(tmp_path / "clip.mp4", frames, clip_rate, (160, 90), picture=False)
    if how == "API":
        movie = compat.strips(scene.sequence_editor).new_movie("shot", clip, 2, 11)
    else:
        movie, _ = add_movie_like_the_ui(scene, clip, 11, 2, sound=False)
        movie.name = "shot"
    compat.set_timing(movie, "frame_offset_start", 5)
    compat.set_timing(movie, "frame_offset_end", 4)
    left, right = (int(v) for v in compat.visible_range(movie))
    compat.strips(scene.sequence_editor).new_sound("line", oracle.tone_wav(tmp_path / "line.wav", 5.0), 1, left)
    source = _shown(scene, left, right, str(tmp_path / "r"), "src")
    assert None not in source

    for strip in compat.strips_all(scene.sequence_editor):
        strip.select = strip == movie
    scene.sequence_editor.active_strip = movie
    scene.lipsync.handles = 4
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    [take] = takes(scene)
    assert tuple(int(v) for v in compat.visible_range(take)) == (left, right)
    placed = _shown(scene, left, right, str(tmp_path / "r"), "take")
    mismatches = sum(a != b for a, b in zip(placed, source))
    before = sum(a != b for a, b in zip(one_to_one(movie, left, right), source))
    print(f"\n[figures] take {clip_rate} in {scene_rate} {how}: {len(source)} frames compared, "
          f"{mismatches} mismatches (one-to-one before issue 14: {before})")
    assert placed == source
