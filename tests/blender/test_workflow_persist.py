"""Persistence: records and takes survive save + reload in a fresh Blender; jobs in flight at save
re-attach after reload without a second submission; never-submitted jobs are not resubmitted
silently; results move from the temp folder into //lipsync/ on save."""

import json
import os

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import (MODEL_FOR, PROVIDERS, VISIBLE, add_shot, record_job, run_blender, sandbox_env,
                                     takes, use_sandbox, visible)

# Child 1: job A runs to completion (take placed), job B is submitted and the file is saved while
# B is still being processed; then the process dies (os._exit: like closing Blender mid-job).
CHILD_SUBMIT = """
import importlib, sys, time, types
from tests.fixtures.workflow import add_shot
bpy.ops.wm.read_homefile(use_empty=True)
scene = bpy.context.scene
add_shot(addon, scene, {media!r}, name="shotA", at=11)
add_shot(addon, scene, {media!r}, name="shotB", at=111, select=False)
scene.sequence_editor.active_strip = scene.sequence_editor.strips_all["shotA"]
assert bpy.ops.lipsync.submit_selected(provider={provider!r}, model={model!r}) == {{"FINISHED"}}
launch = importlib.import_module(addon.__name__ + ".vse.launch")
records = importlib.import_module(addon.__name__ + ".vse.records")
apply = importlib.import_module(addon.__name__ + ".vse.apply")
[job_b] = launch.launch(scene, launch.LaunchSpec(strip="shotB", provider={provider!r}, model={model!r},
                                                 options={{}})).job_ids
rec_b = records.find(job_b)[1]
end = time.monotonic() + 30
while not rec_b.remote_id and time.monotonic() < end:
    apply.drain(0.05); time.sleep(0.02)
assert rec_b.remote_id and rec_b.status in ("QUEUED", "PROCESSING"), (rec_b.status, rec_b.message)
bpy.ops.wm.save_as_mainfile(filepath={blend!r})
result["job_b"] = job_b
result["key_b"] = rec_b.client_key
result["remote_b"] = rec_b.remote_id
result["take_a"] = [s.filepath for s in scene.sequence_editor.strips_all if s.lipsync.is_take]
"""

# Child 2: a fresh Blender opens the file; load_post re-attached B, reattach() waits for it.
CHILD_RELOAD = """
bpy.ops.wm.open_mainfile(filepath={blend!r})
scene = bpy.context.scene
recs = {{r.name: r for r in scene.lipsync.jobs}}
result["after_load"] = {{n: [r.status, r.remote_id, r.message] for n, r in recs.items()}}
assert bpy.ops.lipsync.reattach() == {{"FINISHED"}}
def vis(s):
    return [s.left_handle, s.right_handle] if hasattr(s, "left_handle") else [s.frame_final_start, s.frame_final_end]
result["jobs"] = {{n: dict(status=r.status, remote_id=r.remote_id, client_key=r.client_key, provider=r.provider,
                          model=r.model, cost=r.cost, takes=r.takes_json, message=r.message) for n, r in recs.items()}}
result["takes"] = {{s.name: dict(source=s.lipsync.source, job_id=s.lipsync.job_id, range=vis(s), channel=s.channel,
                                filepath=s.filepath, exists=os.path.exists(bpy.path.abspath(s.filepath)),
                                remote_id=s.lipsync.remote_id, provider=s.lipsync.provider)
                   for s in scene.sequence_editor.strips_all if s.lipsync.is_take}}
result["job_ids"] = {{n: r.job_id for n, r in recs.items()}}
"""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reload_in_fresh_process_reattaches_without_resubmitting(addon, sandbox, tmp_path, tmp_path_factory,
                                                                  provider):
    sandbox.configure(provider=provider, processing_seconds=1.2)
    media = str(tmp_path_factory.mktemp("media"))
    blend = str(tmp_path / "shot.blend")
    env = sandbox_env(sandbox, [provider])
    first = run_blender(CHILD_SUBMIT.format(media=media, provider=provider, model=MODEL_FOR[provider],
                                            blend=blend), env)
    # the finished take was moved from the temp folder beside the .blend on save
    assert first["take_a"] == [] or all(p.startswith("/") or p.startswith("//") for p in first["take_a"])
    assert sandbox.stats()["generations"][provider] == 2

    second = run_blender(CHILD_RELOAD.format(blend=blend), env)

    a, b = second["jobs"]["shotA"], second["jobs"]["shotB"]
    assert second["after_load"]["shotB"][0] in ("QUEUED", "PROCESSING", "PENDING")
    assert a["status"] == "COMPLETED" and b["status"] == "COMPLETED", (a, b)
    assert b["remote_id"] == first["remote_b"] and b["client_key"] == first["key_b"]
    stats = sandbox.stats()
    assert stats["generations"][provider] == 2          # B was polled, never submitted again
    assert b["provider"] == provider and b["model"] == MODEL_FOR[provider]
    by_source = {t["source"]: t for t in second["takes"].values()}
    assert by_source["shotA"]["range"] == list(VISIBLE)
    assert by_source["shotB"]["range"] == [VISIBLE[0] + 100, VISIBLE[1] + 100]
    for take in by_source.values():
        assert take["exists"] and take["provider"] == provider and take["remote_id"], take
    assert by_source["shotA"]["filepath"].startswith("//lipsync/")          # saved: relative
    # B was placed after the reload (absolute until the next save makes it relative)
    assert by_source["shotB"]["filepath"].startswith(str(tmp_path / "lipsync"))
    assert by_source["shotA"]["job_id"] == second["job_ids"]["shotA"]
    assert os.path.isdir(tmp_path / "lipsync")


def _record_unsubmitted(addon, scene, provider, media):
    """A record as a crash would leave it: written, never confirmed by the provider."""
    movie = add_shot(addon, scene, media)
    rec, _plan = record_job(scene, movie, provider, MODEL_FOR[provider], use_segments=provider in ("sync", "runware"))
    rec.status = "SUBMITTING"
    return rec


@pytest.mark.parametrize("provider", PROVIDERS)
def test_never_submitted_job_is_not_resubmitted_silently(addon, scene, online, clean_env, sandbox,
                                                        tmp_path_factory, provider):
    """Opening a file never spends (issue #13): a record the provider never confirmed is shown as
    such, and only the artist's Retry sends it: with the same key where the provider de-duplicates
    (billed at most once), else as a new job."""
    use_sandbox(clean_env, sandbox, provider)
    rec = _record_unsubmitted(addon, scene, provider, str(tmp_path_factory.mktemp("media")))
    key, job_id = rec.client_key, rec.job_id
    assert lipsync("vse.reattach").reattach_all() == []
    assert sandbox.stats()["requests"] == 0                       # nothing sent, nothing billed
    assert rec.status == "UNKNOWN" and rec.remote_state == "UNSURE"
    assert "may or may not have been submitted" in rec.message and key in rec.message and "Retry" in rec.message
    assert not bpy.ops.lipsync.retry_failed.poll()                 # never part of Retry Failed Only

    assert bpy.ops.lipsync.retry(job_id=job_id) == {"FINISHED"}    # the artist's explicit action
    by_key = sandbox.stats()["generations_by_key"].get(provider, {})
    if provider in ("sync", "runware"):   # same key: the provider bills it at most once
        rec = lipsync("vse.records").find(job_id)[1]
        assert rec.status == "COMPLETED" and rec.client_key == key, (rec.status, rec.message)
        assert by_key == {key: 1} and len(scene.lipsync.jobs) == 1
    else:                                  # no idempotency: a new job under a new key
        assert len(scene.lipsync.jobs) == 2 and scene.lipsync.jobs[-1].client_key != key
        assert scene.lipsync.jobs[-1].status == "COMPLETED" and sandbox.stats()["generations"][provider] == 1


def test_offline_load_does_not_reattach(addon, scene, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    bpy.context.preferences.system.use_online_access = False
    rec = _record_unsubmitted(addon, scene, "sync", str(tmp_path_factory.mktemp("media")))
    rec.remote_id = "remote-123"
    assert lipsync("vse.reattach").reattach_all() == []
    assert rec.status == "SUBMITTING" and "Online access is off" in rec.message
    assert sandbox.stats()["requests"] == 0


def test_unsaved_results_move_beside_blend_on_save(addon, scene, online, clean_env, sandbox, tmp_path,
                                                    tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    assert not bpy.data.filepath
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    [take] = takes(scene)
    temp_path = take.filepath
    folders = lipsync("vse.folders")
    assert temp_path.startswith(folders.temp_root() + os.sep) and os.path.exists(temp_path)
    # this user's private folder (worker/scratch.py), not a shared one in the system temp folder
    for folder in (folders.temp_root(), os.path.dirname(folders.temp_root()), lipsync("worker.scratch").root()):
        info = os.lstat(folder)
        assert info.st_mode & 0o777 == 0o700 and info.st_uid == os.getuid(), (folder, oct(info.st_mode))
    blend = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert take.filepath.startswith("//lipsync/") and not os.path.exists(temp_path)
    assert os.path.exists(bpy.path.abspath(take.filepath)) and visible(take) == VISIBLE
    rec = scene.lipsync.jobs[0]
    assert rec.out_dir == "//lipsync" and json.loads(rec.outputs_json)[0].startswith("//lipsync/")
    # the file on disk already has the moved paths (save_pre, not save_post)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    [take] = takes(bpy.context.scene)
    assert take.filepath.startswith("//lipsync/") and visible(take) == VISIBLE
    # a take placed in a saved file goes straight to //lipsync/ (absolute until the next save);
    # a fresh roll of the same inputs, not the result cache (test_beyond_cache.py)
    bpy.context.scene.lipsync.use_cache = False
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    second = takes(bpy.context.scene)[-1]
    assert second.filepath.startswith(str(tmp_path / "lipsync"))
    bpy.ops.wm.save_mainfile()
    assert second.filepath.startswith("//lipsync/") and visible(second) == VISIBLE


def test_takes_stack_and_switch(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    use_sandbox(clean_env, sandbox, "runware")
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    settings = scene.lipsync
    settings.provider, settings.number_results = "runware", 2      # numberResults: Runware only
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    assert json.loads(settings.jobs[1].options_json)["number_results"] == 2
    found = takes(scene)
    assert [t.lipsync.take_index for t in found] == [1, 2, 3]
    assert [t.lipsync.provider for t in found] == ["sync", "runware", "runware"]
    assert found[0].lipsync.cost >= 0 or found[0].lipsync.cost == -1
    assert len({t.channel for t in found}) == 3 and all(visible(t) == VISIBLE for t in found)
    assert [t.mute for t in found] == [True, False, True]             # the newest job's first take plays
    scene.sequence_editor.active_strip = found[0]
    assert bpy.ops.lipsync.use_take(take=found[0].name) == {"FINISHED"}
    assert [t.mute for t in found] == [False, True, True]
    assert bpy.ops.lipsync.use_take(take="") == {"FINISHED"}          # back to the original
    assert all(t.mute for t in found) and not movie.mute and visible(movie) == VISIBLE
    with pytest.raises(RuntimeError, match="is not a take of"):
        bpy.ops.lipsync.use_take(take=movie.name)
    # with a take active, Lip Sync re-runs its source (never lip-syncs a take)
    scene.sequence_editor.active_strip = found[1]
    settings.provider, settings.number_results = "sync", 1
    settings.use_cache = False   # same inputs as take 1: a fresh roll, not the result cache
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    assert settings.jobs[-1].source_strip == "shot" and len(takes(scene)) == 4


def test_load_post_schedules_ui_follower(addon, scene, online, monkeypatch):
    """In the UI a load_post handler cannot wait: it registers an app timer that invokes the modal
    follower (app timers fire in the UI only, docs/blender.md §4/§7)."""
    reattach = lipsync("vse.reattach")
    runtime = lipsync("worker.runtime")
    assert reattach.schedule_follow(background=True) is False
    monkeypatch.setattr(runtime.RUNTIME, "active_ids", lambda: {"job"})
    try:
        assert reattach.schedule_follow(background=False) is True
        assert bpy.app.timers.is_registered(reattach.follow_in_ui)
        assert reattach.schedule_follow(background=False) is False       # once
        waited = []   # background turns INVOKE_DEFAULT into execute(), which waits on the runtime
        monkeypatch.setattr(runtime.RUNTIME, "wait", lambda ids, *a, **kw: waited.append(sorted(ids)) or True)
        assert reattach.follow_in_ui() is None                              # one-shot
        assert waited == [["job"]]
    finally:
        if bpy.app.timers.is_registered(reattach.follow_in_ui):
            bpy.app.timers.unregister(reattach.follow_in_ui)


def test_budget_cap_refuses_batch(addon, scene, online, clean_env, sandbox, addon_prefs, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    media = str(tmp_path_factory.mktemp("media"))
    for i in range(3):
        add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i)
    addon_prefs.budget_cap_usd = 0.05      # lipsync-2 on sync.so: ~$0.07 per strip
    with pytest.raises(RuntimeError, match="exceeds the budget cap"):
        bpy.ops.lipsync.submit_selected(provider="sync")
    assert not scene.lipsync.jobs and sandbox.stats()["requests"] == 0
