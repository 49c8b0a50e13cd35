"""The take never hides what was above its source and renders like it (docs/architecture.md, "Takes").

Each shot is built as an editor builds it (titles, colour and adjustment layers above the shot,
opacity and fades, blend modes, transitions and effects on the shot, the shot inside a meta),
then rendered by Blender three ways (tests/blender/take_kit.py): the source only, the ideal (the
source's file swapped for the same frames with a new mouth), and after the add-on placed the
marked result as a take through the path a finished job takes. Every frame must show the source
frame the source showed, and the pixels must be the ideal's (outside the mouth: the source's).
"""

import bpy
import pytest

from tests.blender import take_kit as K
from tests.blender.media_kit import strip_state
from tests.fixtures.addon import lipsync


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return K.make_media(tmp_path_factory.mktemp("take_media"))


def c_title_above(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    title = K.new_effect(scene.sequence_editor, "Title", "TEXT", 3, 1, 120)
    title.text, title.font_size = "TITLE", 30
    if hasattr(title, "location"):
        title.location = (0.5, 0.75)
    return src


def c_colour_add_above(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    glow = K.new_effect(scene.sequence_editor, "Glow", "COLOR", 3, 1, 120)
    glow.color, glow.blend_type = (0.3, 0.1, 0.0), "ADD"
    return src


def c_adjustment_above(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    adjust = K.new_effect(scene.sequence_editor, "Adjust", "ADJUSTMENT", 3, 1, 120)
    with lipsync("vse.compat").sequencer_scene_set(scene):
        dim = adjust.modifiers.new("Dim", "BRIGHT_CONTRAST")
    dim.bright, dim.contrast = -0.2, 20
    return src


def c_muted_guide_above_title(scene, media):
    src = c_title_above(scene, media)
    guide = K.new_effect(scene.sequence_editor, "Guide", "COLOR", 4, 1, 120)
    guide.color = (1, 0, 0)
    scene.sequence_editor.channels[4].mute = True       # a muted guide layer: must stay muted
    return src


def c_opacity_and_fades(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    src.blend_alpha = 0.5
    K.fades(scene, src)
    return src


def c_multiply_over_a_movie(scene, media):
    K.background(scene, media, movie=True)
    src = K.add_source(scene, media)
    src.blend_type = "MULTIPLY"
    return src


def c_cross_into_the_next_shot(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    nxt = K.strips_of(scene.sequence_editor).new_movie("Next", media.other, 3, 80)
    K.new_effect(scene.sequence_editor, "Cross", "CROSS", 4, 80, 16, input1=src, input2=nxt)
    return src


def c_blur_on_the_source(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    blur = K.new_effect(scene.sequence_editor, "Blur", "GAUSSIAN_BLUR", 3, 6, 90, input1=src)
    blur.size_x = blur.size_y = 3
    return src


def c_source_in_a_meta(scene, media):
    K.background(scene, media)
    meta = K.strips_of(scene.sequence_editor).new_meta("Shot", 2, 1)
    src = K.add_source(scene, media, channel=1, owner=meta)
    title = K.new_effect(meta, "MetaTitle", "TEXT", 2, 30, 40)
    title.text, title.font_size = "IN META", 20
    K.timing(meta, "frame_offset_start", 0)
    K.timing(meta, "frame_offset_end", 0)
    return src


CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("c_")}
TIGHT = dict(mean=1.5, gross=0.5)   # x264 noise of two encodes; a wrong design is at 6-54 (mean), 20-80 % gross


def _renders(case, media, folder):
    scene = K.shot_scene()
    CASES[case](scene, media)
    source_only = K.render(scene, folder, "source")
    scene = K.shot_scene()
    K.swap_to_marked(scene, CASES[case](scene, media), media)
    ideal = K.render(scene, folder, "ideal")
    return source_only, ideal


@pytest.mark.parametrize("case", list(CASES))
def test_take_renders_like_the_ideal(addon, media, tmp_path, case):
    source_only, ideal = _renders(case, media, str(tmp_path))
    scene = K.shot_scene()
    src = CASES[case](scene, media)
    before = {s.name: (s.channel, K.visible(s)) for s in lipsync("vse.compat").strips_all(scene.sequence_editor)}
    state = {k: v for k, v in strip_state(src).items() if k != "mute"}
    rec = K.place(scene, src, media.take)
    assert rec.status == "COMPLETED", rec.message
    with_take = K.render(scene, str(tmp_path), "take")
    vs_ideal = K.compare(with_take, ideal)
    outside = K.outside_mouth(with_take, source_only, ideal, source_only)
    print(f"\nLAYER {bpy.app.version_string} {case}: vs ideal {vs_ideal.row()}; "
          f"outside mouth vs source {outside.row()}")
    assert vs_ideal.id_mismatches == 0 and outside.id_mismatches == 0
    assert vs_ideal.mean < TIGHT["mean"] and vs_ideal.gross < TIGHT["gross"], vs_ideal
    assert outside.mean < TIGHT["mean"] and outside.gross < TIGHT["gross"], outside
    # the source's content and timing are untouched; it is muted while its take plays
    assert {k: v for k, v in strip_state(src).items() if k != "mute"} == state
    assert src.mute and src.lipsync.muted_by_take
    # nothing changed its frames; strips above the source kept their order above it
    after = {s.name: (s.channel, K.visible(s)) for s in lipsync("vse.compat").strips_all(scene.sequence_editor)}
    [take_name] = rec.takes
    take = lipsync("vse.compat").strips_all(scene.sequence_editor)[take_name]
    for name, (channel, rng) in before.items():
        assert after[name][1] == rng, name
        if channel > src.channel and after[name][0] != channel:   # moved up one: still above the take
            assert after[name][0] == channel + 1 and after[name][0] > take.channel, name
    assert take.channel > src.channel


@pytest.mark.parametrize("case", ["opacity_and_fades", "cross_into_the_next_shot", "source_in_a_meta"])
def test_back_to_the_original_renders_exactly_the_source(addon, media, tmp_path, case):
    """A/B back and forth: the original renders as before the take, the take as the ideal."""
    source_only, ideal = _renders(case, media, str(tmp_path))
    scene = K.shot_scene()
    src = CASES[case](scene, media)
    rec = K.place(scene, src, media.take)
    takes = lipsync("vse.takes")
    inputs = lambda: sorted((e.name, s, getattr(e, s).name) for e, s in  # noqa: E731
                            lipsync("vse.layers").effects_on(scene, {src.name, *rec.takes}))
    for round_ in range(2):
        assert takes.flip(scene, src) == ""                            # take -> original
        assert not src.mute and not src.lipsync.muted_by_take
        assert all(name == src.name for _e, _s, name in inputs())
        original = K.render(scene, str(tmp_path), f"orig{round_}")
        diff = K.compare(original, source_only)
        print(f"\nAB {bpy.app.version_string} {case} original #{round_}: {diff.row()}")
        assert diff.id_mismatches == 0 and diff.max == 0              # exactly the source's pixels
        assert takes.flip(scene, src) == rec.takes[0]                  # original -> take
        assert src.mute
        diff = K.compare(K.render(scene, str(tmp_path), f"take{round_}"), ideal)
        assert diff.id_mismatches == 0 and diff.mean < TIGHT["mean"] and diff.gross < TIGHT["gross"], diff
