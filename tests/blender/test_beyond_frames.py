"""Issue #8, the frames side, in real bpy against the sandbox over HTTP.

The movie codes its frame index in its pixels (test_media_gen), and the sandbox copies the
uploaded frames into its result, so reading a take's file proves which source frame each
timeline frame shows.

- handles: N frames of pre-roll/tail are uploaded where the media has them and hidden again on
  the take, which covers exactly the strip's range and shows the same source frame at every frame;
- no-lipsync ranges (a "No Lipsync" color strip, or markers): those frames are never uploaded,
  the job is split into pieces placed on exactly the included ranges, the estimate drops;
- draft to final keeps both takes; A/B flips original/take and take/take, undoable, no timing change.
"""


import bpy
import pytest
from tests.fixtures.addon import lipsync
from tests.blender.media_kit import make_coded_video, read_codes
from tests.fixtures.workflow import make_wav, strips_of, takes, use_sandbox, visible

FIRST, HEAD, TAIL, FRAMES = 11, 5, 7, 60          # 60-frame 25 fps clip at 11, trimmed -> 16..64
RANGE = (FIRST + HEAD, FIRST + FRAMES - TAIL)


@pytest.fixture
def shot(addon, scene, tmp_path_factory):
    """Coded 25 fps clip visible on 16..64 (source frames 5..52) with dialogue on 13..53."""
    media = tmp_path_factory.mktemp("coded")
    scene.render.fps, scene.render.fps_base = 25, 1.0
    strips = strips_of(scene)
    movie = strips.new_movie(name="shot", filepath=make_coded_video(media / "coded.mp4", FRAMES, "25"),
                             channel=2, frame_start=FIRST)
    lipsync("vse.compat").set_timing(movie, "frame_offset_start", HEAD)
    lipsync("vse.compat").set_timing(movie, "frame_offset_end", TAIL)
    strips.new_sound(name="line", filepath=make_wav(media / "line.wav", 1.6), channel=1, frame_start=13)
    movie.select = True
    scene.sequence_editor.active_strip = movie
    assert visible(movie) == RANGE
    return movie


def shown_source_frames(addon, take):
    """{timeline frame: source frame code the take shows there}, read from the take's file."""
    codes = read_codes(bpy.path.abspath(take.filepath))
    content = int(lipsync("vse.compat").get_timing(take, "frame_start"))
    trim = int(lipsync("vse.compat").get_timing(take, "animation_offset_start"))
    left, right = visible(take)
    return {f: codes[f - content + trim] for f in range(left, right)}


def timing(addon, strip):
    return tuple(lipsync("vse.compat").get_timing(strip, n) for n in
                 ("frame_start", "frame_final_start", "frame_final_end", "frame_offset_start", "frame_offset_end"))


def test_handles_uploaded_and_trimmed_back_frame_exact(addon, scene, online, clean_env, sandbox, shot):
    use_sandbox(clean_env, sandbox, "sync")
    scene.lipsync.handles = 8                    # pre-roll clamps at the file's frame 0 (5), tail 7
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    [job] = sandbox.stats()["jobs"]
    assert job["inputs"]["video"]["frames"] == FRAMES                     # 5 + 48 + 7
    [seg] = job["segments"]                       # dialogue shifted by the 5 pre-roll frames: 16..53 -> 5..42
    assert abs(seg["start"] - 5 / 25) < 0.02 and abs(seg["end"] - 42 / 25) < 0.02
    [take] = takes(scene)
    assert visible(take) == RANGE
    shown = shown_source_frames(addon, take)
    assert shown == {f: f - FIRST for f in range(*RANGE)}                  # same frame as the source, everywhere
    # the take plays in the source's place: the source is muted (by the add-on), never retimed
    assert visible(shot) == RANGE and shot.mute and shot.lipsync.muted_by_take and not take.mute


def test_handles_inside_media_and_with_no_media_left(addon, scene, online, clean_env, sandbox, shot):
    use_sandbox(clean_env, sandbox, "sync")
    scene.lipsync.handles = 3
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    assert sandbox.stats()["jobs"][0]["inputs"]["video"]["frames"] == 48 + 3 + 3
    [take] = takes(scene)
    assert visible(take) == RANGE and shown_source_frames(addon, take) == {f: f - FIRST for f in range(*RANGE)}


def test_no_lipsync_ranges_not_uploaded_and_estimate_drops(addon, scene, online, clean_env, sandbox, shot):
    use_sandbox(clean_env, sandbox, "sync")
    segments = lipsync("vse.segments")
    snapshot = lipsync("vse.snapshot")
    segments.refresh_estimate(scene)
    before = scene.lipsync.estimate_text
    guide = lipsync("vse.compat").new_effect(strips_of(scene), "No Lipsync", "COLOR", 7, 30, 10)   # cutaway 30..40
    segments.refresh_estimate(scene)
    after = scene.lipsync.estimate_text
    usd = [float(t.split("$")[1].split()[0]) for t in (before, after)]
    assert "2 job(s)" in after and usd[1] < usd[0], (before, after)
    print(f"\n[figures] estimate with cutaway 30..40: {before!r} -> {after!r}")

    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    recs = list(scene.lipsync.jobs)
    assert [r.status for r in recs] == ["COMPLETED", "COMPLETED"] and recs[0].group == recs[1].group != ""
    jobs = sandbox.stats()["jobs"]
    assert sorted(j["inputs"]["video"]["frames"] for j in jobs) == [14, 24]   # 48 - 10 excluded frames
    found = sorted(takes(scene), key=lambda t: visible(t))
    assert [visible(t) for t in found] == [(16, 30), (40, 64)] and not any(t.mute for t in found)
    for take in found:          # each piece shows exactly the source's frames on its range
        assert shown_source_frames(addon, take) == {f: f - FIRST for f in range(*visible(take))}
    assert visible(shot) == RANGE and visible(guide) == (30, 40)

    # the marker convention gives the same ranges; an unclosed start runs to the end
    strips_of(scene).remove(guide)
    scene.timeline_markers.new("nolipsync", frame=30)
    scene.timeline_markers.new("nolipsync_end", frame=40)
    scene.timeline_markers.new("nolipsync", frame=60)
    assert snapshot.excluded_ranges(scene) == [(30, 40), (60, 1 << 30)]
    planned = snapshot.plan_jobs(scene, shot)
    assert [(j.placement.frame_start, j.placement.frame_end) for j in planned] == [(16, 30), (40, 60)]


def test_draft_to_final_and_ab_switch(addon, scene, online, clean_env, sandbox, shot):
    use_sandbox(clean_env, sandbox, "sync")
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    [draft] = takes(scene)
    scene.sequence_editor.active_strip = draft
    assert bpy.ops.lipsync.draft_to_final(model="lipsync-2-pro") == {"FINISHED"}
    final_rec = scene.lipsync.jobs[-1]
    assert final_rec.status == "COMPLETED" and final_rec.model == "lipsync-2-pro"
    assert [j["model"] for j in sandbox.stats()["jobs"]][-1] != sandbox.stats()["jobs"][0]["model"]
    draft, final = takes(scene)
    assert final.lipsync.model == "lipsync-2-pro" and visible(final) == visible(draft) == RANGE
    assert draft.mute and not final.mute                 # both kept, the final plays
    scene.sequence_editor.active_strip = final
    with pytest.raises(RuntimeError, match="already uses lipsync-2-pro"):
        bpy.ops.lipsync.draft_to_final(model="lipsync-2-pro")

    take_ops = lipsync("operators.takes")
    assert "UNDO" in take_ops.LIPSYNC_OT_toggle_ab.bl_options
    if bpy.context.window_manager.keyconfigs.addon is not None:   # one key in the Sequencer keymap
        [(keymap, item)] = take_ops._keymaps
        assert (keymap.name, item.idname, item.type) == ("Sequencer", "lipsync.toggle_ab", "F8")
    state = timing(addon, shot)
    scene.sequence_editor.active_strip = shot
    assert bpy.ops.lipsync.toggle_ab() == {"FINISHED"}          # take -> original
    assert draft.mute and final.mute and not shot.mute and not shot.lipsync.muted_by_take   # the original plays
    assert bpy.ops.lipsync.toggle_ab() == {"FINISHED"}          # original -> take
    assert draft.mute and not final.mute
    assert bpy.ops.lipsync.use_take(take=draft.name) == {"FINISHED"}
    assert bpy.ops.lipsync.toggle_ab() == {"FINISHED"}          # take 1 <-> take 2
    assert draft.mute and not final.mute
    assert bpy.ops.lipsync.toggle_ab() == {"FINISHED"}
    assert not draft.mute and final.mute
    assert timing(addon, shot) == state and shot.mute            # the source is never retimed; muted under its take
    assert bpy.ops.lipsync.use_take(take="") == {"FINISHED"}
    assert timing(addon, shot) == state and not shot.mute and draft.mute and final.mute


def test_completion_notice_status_bar_and_optional_sound(addon, addon_prefs, monkeypatch):
    notices = lipsync("vse.notices")
    shown, chimes = [], []

    class Workspace:
        def status_text_set(self, text):
            shown.append(text)

    context = type("Ctx", (), {"workspace": Workspace(), "preferences": bpy.context.preferences})()
    monkeypatch.setattr(notices, "play_chime", lambda: chimes.append(1) or True)
    monkeypatch.setattr(notices, "_schedule_clear", lambda workspace: shown.append("(cleared later)"))
    assert not notices.notify(context, "Lip Sync finished: 2 done")       # background: nothing to show
    assert notices.notify(context, "Lip Sync finished: 2 done", background=False)
    assert shown == ["Lip Sync finished: 2 done", "(cleared later)"] and chimes == []   # the sound is off by default
    addon_prefs.notify_sound = True
    assert notices.notify(context, "Lip Sync finished: 1 done", background=False) and chimes == [1]


def test_panel_offers_every_beyond_feature(addon, scene, online, clean_env, sandbox, shot):
    import types

    from tests.fixtures.workflow import LayoutRecorder
    use_sandbox(clean_env, sandbox, "sync")
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    scene.sequence_editor.active_strip = takes(scene)[0]
    panels = lipsync("panels")
    log = []
    for cls in (panels.LIPSYNC_PT_main, panels.LIPSYNC_PT_ranges, panels.LIPSYNC_PT_jobs, panels.LIPSYNC_PT_takes,
                panels.LIPSYNC_MT_strip):
        cls.draw(types.SimpleNamespace(layout=LayoutRecorder(log)), bpy.context)
    texts = " | ".join(str(kw.get("text", "")) for _n, _a, kw in log)
    ops = {a[0] for n, a, _kw in log if n in ("operator", "operator_menu_enum")}
    assert {"lipsync.toggle_ab", "lipsync.draft_to_final", "lipsync.retry_failed", "lipsync.provider_estimate"} <= ops
    props = {a[1] for n, a, _kw in log if n == "prop" and len(a) > 1}
    assert {"handles", "use_cache"} <= props
    assert "No Lipsync" in texts and "nolipsync" in texts and "Spent in this file" in texts
