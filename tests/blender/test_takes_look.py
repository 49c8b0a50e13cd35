"""The take renders like its source everywhere but the mouth: the look and its animation
(docs/architecture.md, "Takes"; vse/look.py).

Each shot is graded and animated as an editor does it (strip modifiers with a mask, keyed opacity
and blend, keyed transform, crop and flip, saturation, multiply, colour space), rendered by Blender
as the source only, as the ideal (the source's file swapped for the same frames with a new mouth,
so the ideal has exactly the source's look) and with the take the add-on placed
(tests/blender/take_kit.py). The take must match the ideal everywhere and the source outside the
mouth, at frames across the strip (the animation changes between them). The same take placed
without the look (a bare movie strip, what the first version did) is rendered too, to show that
the comparison sees a lost look.
"""

import bpy
import pytest

from tests.blender import take_kit as K
from tests.fixtures.addon import lipsync

TIGHT = dict(mean=1.5, gross=0.5)   # x264 noise of two encodes (see test_takes_layer.py)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return K.make_media(tmp_path_factory.mktemp("look_media"))


def _modifier(strip, name, kind):
    with lipsync("vse.compat").sequencer_scene_set(strip.id_data):
        return strip.modifiers.new(name, kind)


def _mask(name="Face"):
    """A mask datablock: a square in the upper half of the frame."""
    mask = bpy.data.masks.new(name)
    layer = mask.layers.new()
    spline = layer.splines.new()
    spline.points.add(4)
    for point, co in zip(spline.points, ((-0.5, 0.1), (0.5, 0.1), (0.5, 0.9), (-0.5, 0.9))):
        point.co = co
        point.handle_left_type = point.handle_right_type = "VECTOR"
    spline.use_cyclic = True
    return mask


def c_graded_with_mask(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    warm = _modifier(src, "Warm", "COLOR_BALANCE")
    warm.color_balance.gain = (1.3, 1.0, 0.7)
    warm.color_balance.lift = (1.05, 1.0, 0.95)
    curves = _modifier(src, "Curve", "CURVES")
    curve = curves.curve_mapping.curves[3]
    curve.points.new(0.5, 0.7)
    curves.curve_mapping.update()
    dim = _modifier(src, "Dim", "BRIGHT_CONTRAST")
    dim.bright, dim.contrast = -0.15, 15
    dim.input_mask_type = "ID"
    dim.input_mask_id = _mask()
    K.key(dim, "bright", 6, -0.3)                          # a keyed modifier setting
    K.key(dim, "bright", 100, 0.2)
    return src


def c_keyed_opacity_and_blend(scene, media):
    K.background(scene, media, movie=True)
    src = K.add_source(scene, media)
    src.blend_type = "SCREEN"
    K.key(src, "blend_alpha", 6, 1.0)
    K.key(src, "blend_alpha", 100, 0.2)                    # a fade by hand
    return src


def c_keyed_transform_crop_flip(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    src.use_flip_x = True
    src.crop.min_x, src.crop.max_y = 12, 6
    tr = src.transform
    tr.rotation = 0.1
    K.key(tr, "offset_x", 6, -20.0)
    K.key(tr, "offset_x", 100, 25.0)
    K.key(tr, "scale_x", 6, 0.6)
    K.key(tr, "scale_x", 100, 0.9)
    tr.scale_y = 0.7
    return src


def c_colour_settings(scene, media):
    K.background(scene, media)
    src = K.add_source(scene, media)
    src.color_saturation = 0.3
    src.color_multiply = 1.4
    src.colorspace_settings.name = "Linear Rec.709"
    K.key(src, "color_saturation", 40, 0.3)
    K.key(src, "color_saturation", 90, 1.6)
    return src


CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("c_")}


def _renders(case, media, folder):
    scene = K.shot_scene()
    CASES[case](scene, media)
    source_only = K.render(scene, folder, "source")
    scene = K.shot_scene()
    K.swap_to_marked(scene, CASES[case](scene, media), media)
    return source_only, K.render(scene, folder, "ideal")


def _bare_take(scene, src, path):
    """The first version's take: the file on a free channel above, only transform and blend."""
    take = K.strips_of(scene.sequence_editor).new_movie("Bare", path, 7, 1)
    K.timing(take, "frame_offset_start", 0)
    K.timing(take, "frame_start", K.visible(src)[0])
    return take


@pytest.mark.parametrize("case", list(CASES))
def test_take_has_the_source_look_and_animation(addon, media, tmp_path, case):
    source_only, ideal = _renders(case, media, str(tmp_path))
    scene = K.shot_scene()
    src = CASES[case](scene, media)
    rec = K.place(scene, src, media.take)
    assert rec.status == "COMPLETED", rec.message
    [name] = rec.takes
    take = lipsync("vse.compat").strips_all(scene.sequence_editor)[name]
    look = lipsync("vse.look")
    assert [(m.name, m.type) for m in take.modifiers] == [(m.name, m.type) for m in src.modifiers]
    assert len(look.strip_fcurves(scene, take)) == len(look.strip_fcurves(scene, src))
    assert take.colorspace_settings.name == src.colorspace_settings.name
    with_take = K.render(scene, str(tmp_path), "take")
    vs_ideal = K.compare(with_take, ideal)
    outside = K.outside_mouth(with_take, source_only, ideal, source_only)

    bare_scene = K.shot_scene()
    bare_src = CASES[case](bare_scene, media)
    _bare_take(bare_scene, bare_src, media.take)
    bare = K.compare(K.render(bare_scene, str(tmp_path), "bare"), ideal)
    print(f"\nLOOK {bpy.app.version_string} {case}: take vs ideal {vs_ideal.row()}; outside mouth vs source "
          f"{outside.row()}; bare take vs ideal {bare.row()}")
    if case != "keyed_transform_crop_flip":    # flipped, scaled and cropped: no barcode left to read, the
        readable = sum(K.oracle.decode_image(ideal[f]) is not None for f in ideal)   # pixels say it all
        assert readable >= len(ideal) // 2                 # frame ids are read, not all skipped
    assert vs_ideal.id_mismatches == 0 and outside.id_mismatches == 0
    assert vs_ideal.mean < TIGHT["mean"] and vs_ideal.gross < TIGHT["gross"], vs_ideal
    assert outside.mean < TIGHT["mean"] and outside.gross < TIGHT["gross"], outside
    assert bare.gross > 5 * max(vs_ideal.gross, 0.5)       # the comparison sees a lost look


def test_smaller_result_covers_the_source_area(addon, media, tmp_path):
    """A result at about half the resolution is scaled (keys too) to cover what the source covers."""
    case = "keyed_transform_crop_flip"
    _source_only, ideal = _renders(case, media, str(tmp_path))
    scene = K.shot_scene()
    src = CASES[case](scene, media)
    rec = K.place(scene, src, media.half)
    assert rec.status == "COMPLETED", rec.message
    take = lipsync("vse.compat").strips_all(scene.sequence_editor)[rec.takes[0]]
    scene.frame_set(50)
    ratio = 160 / 80
    assert take.transform.scale_x == pytest.approx(src.transform.scale_x * ratio, rel=1e-4)
    assert take.transform.scale_y == pytest.approx(src.transform.scale_y * 90 / 44, rel=1e-4)
    assert take.crop.min_x == round(12 / ratio)
    diff = K.compare(K.render(scene, str(tmp_path), "half"), ideal)
    print(f"\nLOOK {bpy.app.version_string} half-size take vs ideal: {diff.row()}")
    assert diff.id_mismatches == 0
    assert diff.gross < 8, diff       # a quarter of the pixels, upscaled: edges differ, nothing moved
