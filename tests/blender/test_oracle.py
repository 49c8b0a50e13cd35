"""The test oracles read back what they wrote, and strips can be added the way the UI adds them.

tests/fixtures/oracle.py codes each frame's index in a barcode that survives x264, scaling and
opacity, and that decodes as None (never as a wrong number) when two coded pictures are mixed;
tests/fixtures/render.py renders Blender's own view of a timeline and runs Add > Movie.
"""

import itertools

import numpy as np
import pytest

from tests.fixtures import oracle
from tests.fixtures.addon import lipsync
from tests.fixtures.render import add_movie_like_the_ui, render_frames, render_scene


@pytest.mark.parametrize("rate", ["24000/1001", "25", "30000/1001", "30", "50", "60000/1001"])
def test_barcode_clip_decodes_at_every_rate(tmp_path, rate):
    path = oracle.make_clip(tmp_path / "c.mp4", 60, rate, (160, 90))
    assert oracle.decode_video(path) == list(range(60))
    assert oracle.decode_video(path, (80, 45)) == list(range(60))      # read at half size too


def test_mixed_pictures_never_decode_as_a_wrong_number():
    wrong = 0
    for i, j in itertools.product(range(0, 200, 7), range(3, 200, 11)):
        if i == j:
            continue
        a, b = oracle.draw_frame(i, 160, 90).astype(int), oracle.draw_frame(j, 160, 90).astype(int)
        for mix in (np.minimum(a, b), np.maximum(a, b), (a + b) // 2, a * b // 255):
            wrong += oracle.decode_image(mix.astype(np.uint8)) not in (None,)
    assert wrong == 0
    assert oracle.decode_image((oracle.draw_frame(77, 160, 90) * 0.3).astype(np.uint8)) == 77


def test_add_movie_like_the_ui_sets_the_automatic_playback_rate(addon, tmp_path):
    scene = render_scene(fps="24", size=(160, 90))
    clip = oracle.make_clip(tmp_path / "c25.mp4", 150, "25", (160, 90))
    movie, sound = add_movie_like_the_ui(scene, clip, frame_start=1, channel=2, sound=False)
    # Add > Movie with the automatic rate plays a 25 fps clip at real speed in a 24 fps scene:
    # 150 source frames last 144 timeline frames (docs/blender.md §2)
    assert sound is None and lipsync("vse.compat").get_timing(movie, "frame_final_duration") == 144
    [image] = render_frames(scene, [101], tmp_path / "r")
    assert oracle.decode_image(oracle.read_image(image)) == 104   # not 100: frame 101 shows round(100 * 25/24)
