"""modal() driven by hand (background bpy never calls it, docs/blender.md §4), Esc, the batch
concurrency limit, and the polls that explain themselves (online access off, missing key)."""

import time
import types

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import VISIBLE, add_shot, fake_operator, start_modal, takes, use_sandbox, visible


def _mods(addon):
    return types.SimpleNamespace(submit=lipsync("operators.submit"), runtime=lipsync("worker.runtime"),
                                 apply=lipsync("vse.apply"), notices=lipsync("vse.notices"),
                                 follower=lipsync("vse.follower"))


def _event(kind, value="PRESS"):
    return types.SimpleNamespace(type=kind, value=value)


def _drive(op_cls, fake, context, timeout=20.0, on_tick=None):
    """Send TIMER events every 20 ms like the window manager would; returns (result, tick times)."""
    ticks = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        t0 = time.perf_counter()
        result = op_cls.modal(fake, context, _event("TIMER", "NOTHING"))
        ticks.append(time.perf_counter() - t0)
        if result != {"RUNNING_MODAL"}:
            return result, ticks
        if on_tick:
            on_tick()
        time.sleep(0.02)
    raise AssertionError("modal never finished")


def test_modal_timer_drains_and_finishes(addon, scene, online, clean_env, sandbox, addon_prefs, tmp_path_factory,
                                         capsys):
    use_sandbox(clean_env, sandbox, "sync")
    addon_prefs.max_concurrent_jobs = 4
    media = str(tmp_path_factory.mktemp("media"))
    n = 8
    for i in range(n):
        add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i)
    m = _mods(addon)
    Op = m.submit.LIPSYNC_OT_submit_selected
    fake = fake_operator(Op, provider="sync", model="lipsync-2", sync_mode="")
    start_modal(fake, bpy.context)
    assert Op.modal(fake, bpy.context, _event("MOUSEMOVE")) == {"PASS_THROUGH"}
    result, ticks = _drive(Op, fake, bpy.context)
    assert result == {"FINISHED"}
    assert fake._timer is None                                  # _finish removed the timer
    assert fake.reports[-1] == ({"INFO"}, f"{n} done"), [(r.name, r.status, r.message) for r in scene.lipsync.jobs]
    for i in range(n):
        [take] = takes(scene, f"shot{i}")
        assert visible(take) == (VISIBLE[0] + 100 * i, VISIBLE[1] + 100 * i)
    # each tick stays within a few ms (drain budget 1 ms; the tick that places a take is longer)
    ticks.sort()
    with capsys.disabled():
        print(f"\n[figures] modal ticks with {n} jobs (4 at once): {len(ticks)} ticks, median "
              f"{ticks[len(ticks) // 2] * 1000:.2f} ms, 90th {ticks[len(ticks) * 9 // 10] * 1000:.2f} ms, "
              f"max {ticks[-1] * 1000:.1f} ms")
    assert ticks[len(ticks) // 2] < 0.01


def test_esc_stops_waiting_then_reattach_collects(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    sandbox.configure(provider="sync", processing_seconds=1.5)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    m = _mods(addon)
    Op = m.submit.LIPSYNC_OT_submit
    fake = fake_operator(Op)
    start_modal(fake, bpy.context)
    rec = scene.lipsync.jobs[0]
    deadline = time.monotonic() + 15
    while not rec.remote_id and time.monotonic() < deadline:   # wait until the provider has it
        assert Op.modal(fake, bpy.context, _event("TIMER", "NOTHING")) == {"RUNNING_MODAL"}
        time.sleep(0.02)
    assert rec.remote_id
    first = Op.modal(fake, bpy.context, _event("ESC"))
    result = first if first != {"RUNNING_MODAL"} else _drive(Op, fake, bpy.context)[0]
    assert result == {"CANCELLED"} and fake._timer is None
    assert rec.status == "CANCELLED" and rec.remote_id and "Re-attach" in rec.message
    assert not takes(scene)
    # the remote job went on; re-attach polls it (never resubmits) and places the take
    assert bpy.ops.lipsync.reattach(job_id=rec.job_id) == {"FINISHED"}
    assert rec.status == "COMPLETED", rec.message
    assert visible(takes(scene)[0]) == VISIBLE
    assert sandbox.stats()["generations"]["sync"] == 1


def test_batch_of_ten_honours_concurrency(addon, scene, online, clean_env, sandbox, addon_prefs,
                                          tmp_path_factory, capsys):
    use_sandbox(clean_env, sandbox, "sync")
    sandbox.configure(provider="sync", processing_seconds=0.3)
    media = str(tmp_path_factory.mktemp("media"))
    for i in range(10):
        add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i)
    addon_prefs.max_concurrent_jobs = 3
    m = _mods(addon)
    m.runtime.RUNTIME.max_running = 0
    t0 = time.monotonic()
    assert bpy.ops.lipsync.submit_selected(provider="sync") == {"FINISHED"}
    wall = time.monotonic() - t0
    statuses = [r.status for r in scene.lipsync.jobs]
    assert statuses == ["COMPLETED"] * 10
    assert all(len(takes(scene, f"shot{i}")) == 1 for i in range(10))
    assert m.runtime.RUNTIME.max_running == 3
    stats = sandbox.stats()
    assert stats["generations"]["sync"] == 10
    assert 1 <= stats["max_concurrent"]["sync"] <= 3
    with capsys.disabled():
        print(f"\n[figures] batch of 10 (limit 3, sandbox 0.3 s processing): {wall:.1f} s wall, "
              f"sandbox max_concurrent {stats['max_concurrent']['sync']}")


def test_batch_summary_names_failure(addon, scene, online, clean_env, sandbox, tmp_path_factory, capfd):
    use_sandbox(clean_env, sandbox, "sync")
    media = str(tmp_path_factory.mktemp("media"))
    for i in range(3):
        add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i)
    sandbox.arm("sync", "job_failed", count=1, on="submit", code="generation_unsafe", message="face not found")
    # partial failure is a WARNING (no exception for the calling script), all failed is an ERROR
    assert bpy.ops.lipsync.submit_selected(provider="sync") == {"FINISHED"}
    statuses = sorted(r.status for r in scene.lipsync.jobs)
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED"]
    out = capfd.readouterr().out
    assert "2 done, 1 failed: shot" in out and "face not found" in out, out
    index = [r.status for r in scene.lipsync.jobs].index("FAILED")
    failed = scene.lipsync.jobs[index]
    assert "face not found" in failed.message and "generation_unsafe" in failed.message
    # values, not the record: adding a record reallocates the collection (old pointers dangle)
    key, source, options = failed.client_key, failed.source_strip, failed.options_json
    # retry = a new job with a new key, same strips and options
    scene.lipsync.jobs_index = index
    assert bpy.ops.lipsync.retry() == {"FINISHED"}
    again = scene.lipsync.jobs[-1]
    assert again.status == "COMPLETED" and again.client_key != key
    assert again.source_strip == source and again.options_json == options


def test_batch_summary_counts_refused_strips(addon, scene, online, clean_env, sandbox, tmp_path_factory, capfd):
    use_sandbox(clean_env, sandbox, "sync")
    media = str(tmp_path_factory.mktemp("media"))
    add_shot(addon, scene, media, name="talk", at=11)
    lonely = add_shot(addon, scene, media, name="lonely", at=211)
    for strip in list(scene.sequence_editor.strips_all):
        if strip.name.startswith("lonely_line"):
            strip.mute = True                                 # muted dialogue does not count
    lonely.select = True
    assert bpy.ops.lipsync.submit_selected(provider="sync") == {"FINISHED"}
    out = capfd.readouterr().out
    assert "1 done, 1 failed: lonely: " in out and "No audible sound strip" in out, out
    assert [r.name for r in scene.lipsync.jobs] == ["talk"]


def test_cancel_in_background(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    sandbox.configure(provider="sync", processing_seconds=5.0)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    m = _mods(addon)
    fake = fake_operator(m.submit.LIPSYNC_OT_submit)
    [job_id] = fake.start_jobs(bpy.context).job_ids         # started, not waited for
    rec = scene.lipsync.jobs[0]
    end = time.monotonic() + 15
    while not rec.remote_id and time.monotonic() < end:
        m.apply.drain(0.05)
        time.sleep(0.02)
    t0 = time.monotonic()
    assert bpy.ops.lipsync.cancel(job_id=job_id) == {"FINISHED"}
    assert time.monotonic() - t0 < 3
    assert rec.status == "CANCELLED" and rec.remote_id
    assert not m.runtime.RUNTIME.is_active(job_id)
    assert bpy.ops.lipsync.cancel(job_id=job_id) == {"CANCELLED"}     # nothing left to cancel


def test_poll_explains_online_access(addon, scene, clean_env, tmp_path_factory):
    bpy.context.preferences.system.use_online_access = False
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    for op in (bpy.ops.lipsync.submit, bpy.ops.lipsync.submit_selected, bpy.ops.lipsync.reattach):
        assert not op.poll()
        with pytest.raises(RuntimeError, match="Online access is off"):
            op()


def test_missing_key_names_env_var(addon, scene, online, clean_env, tmp_path_factory):
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    scene.lipsync.provider = "fal"
    with pytest.raises(RuntimeError, match="FAL_KEY"):
        bpy.ops.lipsync.submit()
    with pytest.raises(RuntimeError, match="WAVESPEED_API_KEY"):
        bpy.ops.lipsync.submit_selected(provider="wavespeed")
    assert not scene.lipsync.jobs   # nothing recorded, nothing sent


def test_wrong_key_fails_with_readable_message(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "fal", key="not-the-sandbox-key")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    with pytest.raises(RuntimeError, match="0 done, 1 failed: shot: fal"):
        bpy.ops.lipsync.submit_selected(provider="fal")
    rec = scene.lipsync.jobs[0]
    assert rec.status == "FAILED" and "API key" in rec.message and "not-the-sandbox-key" not in rec.message
    assert not takes(scene)


def test_idle_ticks_leave_status_bar_and_panels_alone(addon, scene, online, clean_env, sandbox, tmp_path_factory,
                                                      monkeypatch):
    """Most ticks apply no event: they must not rewrite the status text or tag redraws (issue #7)."""
    use_sandbox(clean_env, sandbox, "sync")
    sandbox.configure(provider="sync", processing_seconds=1.0)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    m = _mods(addon)
    shown, redraws = [], []

    class Workspace:
        def status_text_set(self, text):
            shown.append(text)

    class Context:  # bpy.context with a workspace that records the status bar
        workspace = Workspace()

        def __getattr__(self, name):
            return getattr(bpy.context, name)

    real_redraw = m.notices.redraw_sequencers
    monkeypatch.setattr(m.notices, "redraw_sequencers", lambda ctx: redraws.append(1) or real_redraw(ctx))
    applied = []
    real_drain = m.runtime.RUNTIME.drain
    monkeypatch.setattr(m.runtime.RUNTIME, "drain", lambda *a, **k: applied.append(real_drain(*a, **k)) or applied[-1])
    Op = m.submit.LIPSYNC_OT_submit
    fake = fake_operator(Op)
    context = Context()
    start_modal(fake, context)
    result, ticks = _drive(Op, fake, context)
    assert result == {"FINISHED"} and takes(scene)
    idle = sum(1 for n in applied if n == 0)
    assert idle >= 10, applied                      # 1 s of processing at a 20 ms tick: mostly idle ticks
    # one status write and one redraw per tick that applied events (plus the first and the last)
    assert len(redraws) <= len(applied) - idle + 3, (len(redraws), applied)
    assert len(shown) <= len(applied) - idle + 3 and any(t and "running" in t for t in shown), shown
    assert shown[-1] is None                         # _finish cleared the status bar
    assert all(a != b for a, b in zip(shown, shown[1:]))  # never the same text twice in a row
