"""What Undo does to a placed take and its record (docs/architecture.md, "Undo"; vse/journal.py).

Real undo steps of real bpy (background bpy pushes none by itself: the test pushes them where the
UI pushes them, vse/apply._undo_step). Undoing a placement removes the take and everything the
placement changed, keeps the record finished (so the next file open never places the take again),
and Redo brings the take back. Undoing past a submit keeps the running job's record.
"""

import bpy

from tests.blender import take_kit as K
from tests.fixtures.addon import lipsync


def strips(scene):
    return lipsync("vse.compat").strips_all(scene.sequence_editor)


def state(scene):
    return sorted((s.name, s.channel, K.visible(s), s.mute) for s in strips(scene))


def test_undo_a_placement_then_reopen_places_nothing(addon, tmp_path):
    media = K.make_media(str(tmp_path))
    scene = K.shot_scene()
    K.background(scene, media)
    src = K.add_source(scene, media)
    title = K.new_effect(scene.sequence_editor, "Title", "TEXT", 3, 1, 120)   # moved up by the placement
    title.text = "T"
    rec = K.record(scene, src)
    job_id = rec.job_id
    lipsync("vse.apply").apply_event(job_id, lipsync("worker.events").Submitted(remote_id="remote-1"))
    bpy.ops.ed.undo_push(message="submitted")
    before = state(scene)
    rec = K.finish(rec, [media.take])                 # what the drain does; the UI then pushes a step
    bpy.ops.ed.undo_push(message="Lip Sync: place take of Src")
    assert rec.status == "COMPLETED" and rec.takes
    assert state(bpy.context.scene) != before

    assert bpy.ops.ed.undo() == {"FINISHED"}
    scene = bpy.context.scene
    assert state(scene) == before                     # take, channel insert and mute all undone
    rec = lipsync("vse.records").find(job_id)[1]
    assert rec.status == "COMPLETED" and rec.takes == [] and rec.remote_id == "remote-1"
    assert "its take was undone" in rec.message

    path = str(tmp_path / "undone.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)           # load_post: re-attach what is in flight
    scene = bpy.context.scene
    assert state(scene) == before                     # nothing placed again, nothing re-attached
    rec = lipsync("vse.records").find(job_id)[1]
    assert rec.status == "COMPLETED" and not lipsync("worker.runtime").RUNTIME.is_active(job_id)


def test_redo_brings_the_take_back(addon, tmp_path):
    media = K.make_media(str(tmp_path))
    scene = K.shot_scene()
    K.background(scene, media)
    src = K.add_source(scene, media)
    rec = K.record(scene, src)
    job_id = rec.job_id
    bpy.ops.ed.undo_push(message="recorded")
    rec = K.finish(rec, [media.take])
    bpy.ops.ed.undo_push(message="placed")
    placed = state(bpy.context.scene)
    name = rec.takes[0]
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert lipsync("vse.records").find(job_id)[1].takes == []
    assert bpy.ops.ed.redo() == {"FINISHED"}
    assert state(bpy.context.scene) == placed
    rec = lipsync("vse.records").find(job_id)[1]
    assert rec.status == "COMPLETED" and rec.takes == [name]


def test_undo_past_the_submit_keeps_the_running_job(addon, tmp_path):
    media = K.make_media(str(tmp_path))
    scene = K.shot_scene()
    K.background(scene, media)
    K.add_source(scene, media)
    bpy.ops.ed.undo_push(message="before the submit")
    src = strips(bpy.context.scene)["Src"]
    rec = K.record(bpy.context.scene, src)
    job_id = rec.job_id
    lipsync("vse.apply").apply_event(job_id, lipsync("worker.events").Submitted(remote_id="remote-9"))
    bpy.ops.ed.undo_push(message="submitted")
    assert bpy.ops.ed.undo() == {"FINISHED"}          # back to before the submit: the record is
    rec = lipsync("vse.records").find(job_id)[1]      # given back, still in flight
    assert rec is not None and rec.remote_id == "remote-9" and rec.in_flight
    rec = K.finish(rec, [media.take])                 # its result still lands
    assert rec.status == "COMPLETED" and rec.takes, rec.message
