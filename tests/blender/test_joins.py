"""A submit matching a running job joins it instead of paying again (worker/joins.py), in real bpy
against the sandbox over HTTP: a strip submitted twice while its first job runs, and one batch
holding two strips with the same content. Each is one upload and one generation; every record
ends COMPLETED with the take, the joiners at no charge.
"""

import shutil

import bpy

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import HEAD, SOUND_LAYOUTS, TAIL, add_shot, strips_of, takes, use_sandbox


def _gens(sandbox, provider="sync"):
    stats = sandbox.stats()
    return stats["generations"].get(provider, 0), stats["uploads"].get(provider, 0)


def _spec(scene, name):
    launch = lipsync("vse.launch")
    options = launch.checked_options(scene.lipsync, "sync", "lipsync-2")
    return launch.LaunchSpec(strip=name, provider="sync", model="lipsync-2", options=options, use_segments=True)


def _wait(ids):
    runtime = lipsync("worker.runtime").RUNTIME
    assert runtime.wait(ids, lipsync("vse.apply").apply_event, deadline=60.0)


def test_submit_while_running_joins_the_running_job(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    launch = lipsync("vse.launch")
    first = launch.launch(scene, _spec(scene, "shot"))
    second = launch.launch(scene, _spec(scene, "shot"))   # the first is still running: nothing waited
    third = launch.launch(scene, _spec(scene, "shot"))
    ids = first.job_ids + second.job_ids + third.job_ids
    assert len(ids) == 3
    _wait(ids)
    recs = lipsync("vse.records").of(ids)
    assert [r.status for r in recs] == ["COMPLETED"] * 3, [r.message for r in recs]
    assert _gens(sandbox) == (1, 2)                        # one video + one audio upload, one generation
    leaders = [r for r in recs if not r.joined]
    joined = [r for r in recs if r.joined]
    assert len(leaders) == 1 and len(joined) == 2, [(r.joined, r.reused_from, r.message) for r in recs]
    assert all(r.joined == leaders[0].job_id and r.cost == 0.0 and "no charge" in r.message for r in joined)
    [take] = takes(scene)                                  # the same strip: one take, playing
    assert not take.mute and all(r.takes == [take.name] for r in recs)


def test_identical_strips_in_one_batch_pay_once(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    media = tmp_path_factory.mktemp("media")
    movie = add_shot(addon, scene, str(media))
    clip_copy, wav_copy = str(media / "copy.mp4"), str(media / "copy.wav")
    shutil.copyfile(movie.filepath, clip_copy)
    sound = next(s for s in strips_of(scene) if s.type == "SOUND")
    shutil.copyfile(bpy.path.abspath(sound.sound.filepath), wav_copy)
    strips = strips_of(scene)
    copy = strips.new_movie(name="copy", filepath=clip_copy, channel=2, frame_start=211)
    lipsync("vse.compat").set_timing(copy, "frame_offset_start", HEAD)
    lipsync("vse.compat").set_timing(copy, "frame_offset_end", TAIL)
    start, _seconds = SOUND_LAYOUTS[1][0]
    strips.new_sound(name="copy_line", filepath=wav_copy, channel=1, frame_start=start + 200)
    movie.select = copy.select = True
    assert bpy.ops.lipsync.submit_selected() == {"FINISHED"}
    recs = list(scene.lipsync.jobs)
    assert [r.status for r in recs] == ["COMPLETED"] * 2, [r.message for r in recs]
    assert _gens(sandbox)[0] == 1
    assert recs[0].fingerprint == recs[1].fingerprint
    assert sum(bool(r.joined) for r in recs) == 1 and sum(r.cost == 0.0 for r in recs) >= 1
    assert len(takes(scene)) == 1 and len(takes(scene, "copy")) == 1


def test_cache_off_runs_again(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    """With the result cache off the artist asked for a new roll: no join either."""
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    scene.lipsync.use_cache = False
    launch = lipsync("vse.launch")
    ids = launch.launch(scene, _spec(scene, "shot")).job_ids + launch.launch(scene, _spec(scene, "shot")).job_ids
    _wait(ids)
    recs = lipsync("vse.records").of(ids)
    assert [r.status for r in recs] == ["COMPLETED"] * 2 and not any(r.joined for r in recs)
    assert _gens(sandbox)[0] == 2
