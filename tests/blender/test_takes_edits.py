"""Edits while a job runs: the take is planned against the source as it is when the result lands
(docs/architecture.md, "Takes": identity, edits during a job; vse/placement.plan_take).

The job is recorded (the real records.create), the artist edits the source, then the job completes
through vse/apply.apply_event. Blender then renders the edited timeline with the take and without
it: every frame must show the source frame the edited source shows (frame ids), and what cannot
be covered is said in the job's message.
"""

import bpy
import pytest

from tests.blender import take_kit as K
from tests.fixtures.addon import lipsync

@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return K.make_media(tmp_path_factory.mktemp("edit_media"))


def strips(scene):
    return lipsync("vse.compat").strips_all(scene.sequence_editor)


def ids(renders):
    return {f: K.oracle.decode_image(img) for f, img in renders.items()}


def source_ids(scene, src, folder, frames):
    """What the edited timeline shows without any take (the takes muted, the source playing)."""
    takes = lipsync("vse.takes")
    playing = takes.active_take(scene, src.name)
    takes.select_take(scene, src.name, "")
    shown = ids(K.render(scene, folder, "orig", frames))
    takes.select_take(scene, src.name, playing.name if playing else "")
    return shown


def build(media):
    scene = K.shot_scene()
    scene.frame_end = 130
    K.background(scene, media)
    return scene, K.add_source(scene, media)


def edit_move(scene, src):
    K.timing(src, "frame_start", K.timing(src, "frame_start") + 10)        # 6..101 -> 16..111


def edit_trim(scene, src):
    K.timing(src, "frame_final_end", 81)                                   # 6..101 -> 6..81


def edit_longer_then_move(scene, src):
    K.timing(src, "frame_offset_start", 0)                                 # 6..101 -> 1..101
    K.timing(src, "frame_start", K.timing(src, "frame_start") + 4)         # -> 5..105


EDITS = {
    "moved": (edit_move, (16, 111), ["moved +10 frame(s)"]),
    "trimmed": (edit_trim, (6, 81), ["was trimmed during the job", "20 of its 95"]),
    "longer_and_moved": (edit_longer_then_move, (5, 105), ["moved +4", "made longer", "5 frame(s) were never"]),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_take_follows_the_edited_source(addon, media, tmp_path, edit):
    change, shown, said = EDITS[edit]
    scene, src = build(media)
    rec = K.record(scene, src)
    change(scene, src)
    assert K.visible(src) == shown
    rec = K.finish(rec, [media.take])
    assert rec.status == "COMPLETED", rec.message
    for words in said:
        assert words in rec.message, rec.message
    [name] = rec.takes
    take = strips(scene)[name]
    covered = K.visible(take)
    assert shown[0] <= covered[0] and covered[1] <= shown[1]
    frames = list(range(shown[0], shown[1], 3)) + [shown[1] - 1]   # across the strip, both ends
    want = source_ids(scene, src, str(tmp_path), frames)
    got = ids(K.render(scene, str(tmp_path), "take", frames))
    wrong = [f for f in frames if got[f] != want[f] or got[f] is None]
    print(f"\nEDIT {bpy.app.version_string} {edit}: {len(frames)} frames compared, {len(wrong)} mismatches; "
          f"take {covered}, source {shown}; {rec.message}")
    assert not wrong, (wrong, got, want)
    # what the take does not reach plays the source's own frames (a fill), never what lies below
    fills = [s for s in strips(scene) if s.lipsync.is_fill]
    assert all(f.mute is False for f in fills)


def test_rename_keeps_record_takes_and_ab(addon, media, tmp_path):
    scene, src = build(media)
    rec = K.record(scene, src)
    src.name = "Hero"
    rec = K.finish(rec, [media.take])
    assert rec.status == "COMPLETED", rec.message
    assert rec.source_strip == "Hero" and rec.placement.source_strip == "Hero"
    takes = lipsync("vse.takes")
    [take] = takes.takes_of(scene, "Hero")
    assert take.lipsync.source == "Hero" and takes.active_take(scene, "Hero") == take
    src.name = "Villain"                                                   # renamed after placing
    assert takes.takes_of(scene, "Villain") == [take]
    assert takes.flip(scene, src) == "" and not src.mute and take.mute      # A/B still works
    assert takes.flip(scene, src) == take.name and src.mute and not take.mute
    assert takes.source_of(scene, take) == src


def test_duplicate_of_the_source_is_its_own_strip(addon, media, tmp_path):
    """A copy carries the uid (Blender copies the PropertyGroup) but not the address: re-keyed."""
    scene, src = build(media)
    identity = lipsync("vse.identity")
    uid = identity.ensure_uid(scene, src)
    K.select_only(scene, src)
    with K.sequencer_context(scene, region=True):
        assert bpy.ops.sequencer.duplicate() == {"FINISHED"}
    [copy] = [s for s in strips(scene) if s.name not in (src.name, "BG", "Dialog")]
    assert copy.lipsync.uid == uid                                         # what Blender does
    copy.channel, src.name = 5, "Renamed"                                  # also after a rename
    identity.resolve(scene)
    assert src.lipsync.uid == uid and copy.lipsync.uid == ""
    assert identity.find_source(scene, uid, "") == src


def test_scene_rate_change_is_said(addon, media, tmp_path):
    scene, src = build(media)
    rec = K.record(scene, src)
    scene.render.fps, scene.render.fps_base = 24, 1.0
    rec = K.finish(rec, [media.take])
    assert rec.status == "COMPLETED", rec.message
    assert "frame rate changed from 25 to 24" in rec.message, rec.message


def _shot_with_cross(media, tmp_path):
    scene, src = build(media)
    K.fades(scene, src)
    nxt = K.strips_of(scene.sequence_editor).new_movie("Next", media.other, 4, 90)
    cross = K.new_effect(scene.sequence_editor, "Cross", "CROSS", 5, 90, 11, input1=src, input2=nxt)
    before = ids(K.render(scene, str(tmp_path), "before", (20, 60, 95)))
    rec = K.place(scene, src, media.take)
    take = strips(scene)[rec.takes[0]]
    assert src.mute and cross.input_1 == take              # the cross is fed by the take now
    return scene, src, take, before


def test_remove_take_keeps_the_effects_it_fed(addon, media, tmp_path):
    scene, src, take, before = _shot_with_cross(media, tmp_path)
    assert bpy.ops.lipsync.remove_take(take=take.name) == {"FINISHED"}
    cross = strips(scene)["Cross"]
    assert cross.input_1 == src and not src.mute and not src.lipsync.muted_by_take
    assert not [s for s in strips(scene) if s.lipsync.is_take or s.lipsync.is_fill]
    after = ids(K.render(scene, str(tmp_path), "after", (20, 60, 95)))
    assert after == before, (after, before)


def test_deleting_the_playing_take_gives_the_source_back(addon, media, tmp_path):
    """Blender's own Delete: the effect the take fed goes with it (Blender's rule, Undo brings it
    back); the add-on gives the source back so the shot does not leave a hole."""
    scene, src, take, _before = _shot_with_cross(media, tmp_path)
    K.select_only(scene, take)
    with K.sequencer_context(scene):
        assert bpy.ops.sequencer.delete() == {"FINISHED"}
    assert "Cross" not in strips(scene)                    # what Blender does (docs/blender.md §10)
    handlers = lipsync("vse.handlers")
    handlers._depsgraph_update_post(scene)                 # what Blender calls after the delete
    timers = bpy.app.timers
    assert timers.is_registered(handlers.heal_takes)       # healed on the next tick, not inside it
    timers.unregister(handlers.heal_takes)                 # app timers never fire in background
    handlers.heal_takes()
    assert not src.mute and not src.lipsync.muted_by_take
    assert all(f.mute for f in strips(scene) if f.lipsync.is_fill)
    after = ids(K.render(scene, str(tmp_path), "after", (20, 60)))
    assert after == {20: 19, 60: 59}, after                # the source's own frames 19, 59
