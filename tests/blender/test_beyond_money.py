"""Issue #8, the money side, in real bpy against the sandbox over HTTP.

- the estimate covers the whole selection; the budget cap refuses a batch until it is confirmed
  (nothing reaches the sandbox before); the provider's cost lands on the record and the take,
  and the file's running total adds it up;
- "retry failed only" submits exactly the failed jobs, never the finished ones;
- the result cache: the same content + range + audio + provider + model + options reuses the
  take with no upload and no generation, also for a renamed copy of the files; any change of
  option is a new, billed generation.
"""

import os
import shutil
import time

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import (CLIP, HEAD, SOUND_LAYOUTS, TAIL, VISIBLE, add_shot, strips_of, takes, use_sandbox,
                                     visible)


def _gens(sandbox, provider="sync"):
    stats = sandbox.stats()
    return stats["generations"].get(provider, 0), stats["uploads"].get(provider, 0)


def test_estimate_budget_cap_confirm_and_running_total(addon, scene, online, clean_env, sandbox, addon_prefs,
                                                       tmp_path_factory):
    use_sandbox(clean_env, sandbox, "runware")      # Runware reports the actual cost (includeCost)
    scene.lipsync.provider = "runware"
    media = str(tmp_path_factory.mktemp("media"))
    add_shot(addon, scene, media, name="shotA")
    add_shot(addon, scene, media, name="shotB", at=111)
    lipsync("vse.segments").refresh_estimate(scene)
    assert scene.lipsync.estimate_text.startswith("2 strip(s), 3.8 s: about $"), scene.lipsync.estimate_text
    addon_prefs.budget_cap_usd = 0.10          # two strips of lipsync-2 on Runware: ~$0.13
    with pytest.raises(RuntimeError, match=r"exceeds the budget cap \$0.10.*confirm"):
        bpy.ops.lipsync.submit_selected()
    assert len(scene.lipsync.jobs) == 0 and sandbox.stats()["requests"] == 0   # nothing recorded, nothing sent
    assert bpy.ops.lipsync.submit_selected(confirm_budget=True) == {"FINISHED"}
    assert sorted(r.status for r in scene.lipsync.jobs) == ["COMPLETED", "COMPLETED"]
    assert _gens(sandbox, "runware")[0] == 2
    costs = [r.cost for r in scene.lipsync.jobs]
    assert all(c > 0 for c in costs), costs            # the provider's actual cost on each record...
    for source in ("shotA", "shotB"):
        [take] = takes(scene, source)
        rec = next(r for r in scene.lipsync.jobs if r.source_strip == source)
        assert take.lipsync.cost == pytest.approx(rec.cost)   # ...and on its take
    assert scene.lipsync.spent_text == f"Spent in this file: ${sum(costs):.2f} (2 paid job(s))"


def test_retry_failed_only_submits_the_failed_ones(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    media = str(tmp_path_factory.mktemp("media"))
    for i in range(3):
        add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i)
    sandbox.arm("sync", "job_failed", count=1, on="submit", code="generation_unsafe", message="face not found")
    assert bpy.ops.lipsync.submit_selected() == {"FINISHED"}
    failed = [r.source_strip for r in scene.lipsync.jobs if r.status == "FAILED"]
    done = {r.source_strip for r in scene.lipsync.jobs if r.status == "COMPLETED"}
    assert len(failed) == 1 and len(done) == 2
    # an outcome-unknown job may have been billed: it is Re-attach's, never resubmitted
    scene.lipsync.jobs[[r.status for r in scene.lipsync.jobs].index("COMPLETED")].status = "UNKNOWN"
    before = sandbox.stats()["generations_by_key"].get("sync", {})
    assert bpy.ops.lipsync.retry_failed() == {"FINISHED"}
    after = sandbox.stats()["generations_by_key"].get("sync", {})
    new_keys = set(after) - set(before)
    assert len(new_keys) == 1 and all(after[k] == before[k] for k in before)   # one new job, no resubmit
    newest = scene.lipsync.jobs[-1]
    assert newest.source_strip == failed[0] and newest.status == "COMPLETED" and newest.client_key in new_keys
    assert len(scene.lipsync.jobs) == 4
    # nothing left to retry: the failed one has succeeded since
    assert not bpy.ops.lipsync.retry_failed.poll()


def test_cache_hit_reuses_take_without_upload_or_generation(addon, scene, online, clean_env, sandbox,
                                                            tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    media = tmp_path_factory.mktemp("media")
    movie = add_shot(addon, scene, str(media))
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    first = scene.lipsync.jobs[0]
    assert first.status == "COMPLETED" and first.cost != 0 and len(first.fingerprint) == 64
    [take] = takes(scene)
    gens, uploads = _gens(sandbox)
    requests = sandbox.stats()["requests"]
    assert gens == 1
    # before submitting again, the estimate already knows it is free (digests cached, stat only)
    lipsync("vse.segments").refresh_estimate(scene)
    assert scene.lipsync.estimate_text == "1 strip(s), 0.0 s: about $0.00, 1 reused free", scene.lipsync.estimate_text

    started = time.perf_counter()
    assert bpy.ops.lipsync.submit() == {"FINISHED"}          # the same strip, same settings
    hit_seconds = time.perf_counter() - started
    second = scene.lipsync.jobs[1]
    assert second.status == "COMPLETED", second.message
    assert second.cost == 0.0 and second.reused_from == scene.lipsync.jobs[0].job_id
    assert "no charge" in second.message and take.name in second.message
    assert sandbox.stats()["requests"] == requests and _gens(sandbox) == (gens, uploads)   # nothing sent
    assert takes(scene) == [take] and not take.mute                   # the existing take, re-activated
    print(f"\n[figures] cache hit: {hit_seconds * 1000:.0f} ms, 0 uploads, 0 generations")

    # a renamed copy of the same media elsewhere on the timeline: content hashes, not names
    clip_copy = str(media / "renamed_clip.mp4")
    shutil.copyfile(movie.filepath, clip_copy)
    sound_src = next(s for s in strips_of(scene) if s.type == "SOUND").sound.filepath
    wav_copy = str(media / "renamed_line.wav")
    shutil.copyfile(bpy.path.abspath(sound_src), wav_copy)
    strips = strips_of(scene)
    copy = strips.new_movie(name="copy", filepath=clip_copy, channel=2, frame_start=211)
    lipsync("vse.compat").set_timing(copy, "frame_offset_start", HEAD)
    lipsync("vse.compat").set_timing(copy, "frame_offset_end", TAIL)
    start, _seconds = SOUND_LAYOUTS[1][0]
    strips.new_sound(name="copy_line", filepath=wav_copy, channel=1, frame_start=start + 200)
    scene.sequence_editor.active_strip = copy
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    third = scene.lipsync.jobs[2]
    assert third.status == "COMPLETED" and third.cost == 0.0 and third.fingerprint == first.fingerprint
    assert sandbox.stats()["requests"] == requests
    [copy_take] = takes(scene, "copy")
    assert visible(copy_take) == (VISIBLE[0] + 200, VISIBLE[1] + 200) and copy_take.lipsync.reused
    assert os.path.samefile(bpy.path.abspath(copy_take.filepath), bpy.path.abspath(take.filepath))

    # another option: a new, billed generation
    scene.sequence_editor.active_strip = movie
    scene.lipsync.sync_mode = "silence"
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    assert scene.lipsync.jobs[3].status == "COMPLETED" and not scene.lipsync.jobs[3].reused_from
    assert _gens(sandbox)[0] == gens + 1
    # sync.so reports no cost: the total says what is only estimated
    assert "(2 paid job(s), 2 reused free) + about $" in scene.lipsync.spent_text
    assert CLIP["frames"] == 60


def test_provider_estimate_uploads_but_never_generates(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    media = str(tmp_path_factory.mktemp("media"))
    add_shot(addon, scene, media, name="shotA")
    add_shot(addon, scene, media, name="shotB", at=111)
    assert bpy.ops.lipsync.provider_estimate() == {"FINISHED"}
    text = scene.lipsync.provider_estimate_text
    assert text.startswith("Provider's price for 2 strip(s): $"), text
    assert float(text.split("$")[1]) > 0
    gens, uploads = _gens(sandbox)
    assert gens == 0 and uploads >= 2 and len(scene.lipsync.jobs) == 0      # priced, nothing generated
    scene.lipsync.provider = "fal"                                          # no cost endpoint: says so
    assert not bpy.ops.lipsync.provider_estimate.poll()
    assert lipsync("vse.notices").play_chime() in (True, False)     # never raises without a device
