"""Issue #16 on real bpy: what the scale work must not change, and the caches it adds.

- the timeline index (vse/timeline.py) answers what walking every strip answers (the code the
  add-on had before: written out again here as the oracle), on a timeline edited step by step:
  strips moved, trimmed, muted, silenced, added, deleted, renamed, re-channelled, moved into a
  meta, a meta trimmed; and it is rebuilt exactly when the strips changed;
- the panel's estimate: property updates and msgbus callbacks only mark it dirty, the app timer
  refreshes it once the edits settle, a refresh with nothing changed prices nothing again, and
  after every edit the text equals a fresh computation with every cache dropped;
- the plans the estimate keeps per strip (vse/money.py plan_strips): after each kind of edit a
  plan reads (a line moved, silenced, faded or muted with its channel, a no-lipsync range, a trim,
  a file gone, a Text strip, a meta, handles, the rate) the kept plans equal fresh ones, and an
  edit plans again only the strips it touches;
- re-attach after a load in the UI is spread over app-timer ticks: every record in flight is
  started exactly once, none is submitted again (the sandbox counts generations);
- the records' id map stays in step with the collection (adds, removals, reloads) and a miss
  does not walk the records;
- the verdicts of the record check kept for finished records (vse/recordcheck.py) follow a hand
  edit, a newly registered key and the .blend saved elsewhere.
"""

import contextlib
import json
import os
import random
import time
import uuid

import bpy
import pytest

from tests.blender.media_kit import set_rate
from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import add_shot, record_job, use_sandbox

pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")


# -- the oracle: walk every strip -----------------------------------------------------------------
def _compat():
    return lipsync("vse.compat")


def walk_parents(scene) -> dict:
    compat = _compat()
    return {child.name: meta.name for meta in compat.strips_all(scene.sequence_editor) if meta.type == "META"
            for child in compat.strips(meta)}


def walk_range(scene, strip, parents) -> tuple[int, int]:
    compat, sed = _compat(), scene.sequence_editor
    left, right = (int(f) for f in compat.visible_range(strip))
    name, depth = strip.name, 0
    while name in parents and depth < 64:
        meta = compat.strips_all(sed)[parents[name]]
        m_left, m_right = (int(f) for f in compat.visible_range(meta))
        left, right = max(left, m_left), min(right, m_right)
        name, depth = meta.name, depth + 1
    return left, right


def walk_audible(scene, strip, parents) -> bool:
    sed, name = scene.sequence_editor, strip.name
    if strip.mute or strip.volume <= 0:
        return False
    while name in parents:
        name = parents[name]
        if _compat().strips_all(sed)[name].mute:
            return False
    return True


def walk_sounds(scene, movie_strip) -> list[str]:
    compat, parents = _compat(), walk_parents(scene)
    left, right = walk_range(scene, movie_strip, parents)
    found = [s for s in compat.strips_all(scene.sequence_editor) if s.type == "SOUND"
             and walk_audible(scene, s, parents)
             and walk_range(scene, s, parents)[0] < right and walk_range(scene, s, parents)[1] > left]
    found.sort(key=lambda s: (s.channel, compat.visible_range(s)[0]))
    return [s.name for s in found]


def walk_guides(scene) -> list[tuple[int, int]]:
    compat, snapshot = _compat(), lipsync("vse.snapshot")
    found = [tuple(int(f) for f in compat.visible_range(s)) for s in compat.strips_all(scene.sequence_editor)
             if snapshot.is_guide_strip(s) and not s.mute]
    return lipsync("worker.ranges").merge(found)


def check_index_equals_walk(scene, rng) -> None:
    compat, snapshot, timeline = _compat(), lipsync("vse.snapshot"), lipsync("vse.timeline")
    sed = scene.sequence_editor
    parents = walk_parents(scene)
    index = timeline.index(scene)
    assert {k: v.name for k, v in snapshot._parents(scene).items()} == parents
    ranges = {s.name: walk_range(scene, s, parents) for s in compat.strips_all(sed)}
    assert {name: index.range(name) for name in ranges} == ranges
    for strip in compat.strips_all(sed):
        if strip.type == "MOVIE":
            assert [s.name for s in snapshot.overlapping_sounds(scene, strip)] == walk_sounds(scene, strip), strip.name
            speed = next((s for s in compat.strips_all(sed) if s.type == "SPEED" and s.input_1 == strip), None)
            assert snapshot._speed_effect_of(scene, strip) == speed
    assert snapshot.excluded_ranges(scene) == walk_guides(scene)
    for _ in range(40):                   # any window, by kind and by channel
        left = rng.randrange(-50, 700)
        right = left + rng.randrange(0, 300)
        channel = rng.choice([None, 1, 2, 3, 4])
        kind = rng.choice([None, "SOUND", "MOVIE"])
        want = sorted(n for n, (a, b) in ranges.items() if a < right and b > left
                      and (kind is None or compat.strips_all(sed)[n].type == kind)
                      and (channel is None or compat.strips_all(sed)[n].channel == channel))
        assert sorted(index.overlapping(left, right, kind=kind, channel=channel)) == want, (left, right, kind, channel)


def test_intervals_match_brute_force(addon):
    Intervals = lipsync("vse.timeline").Intervals
    rng = random.Random(16)
    for n in (0, 1, 2, 7, 100, 1000):
        items = []
        for i in range(n):
            left = rng.randrange(0, 5000)
            length = rng.choice([0, 1, rng.randrange(1, 80), rng.randrange(1, 5000)])   # empty, short, long
            items.append((left, left + length, i))
        tree = Intervals(items)
        assert len(tree) == n
        for _ in range(200):
            left = rng.randrange(-100, 5200)
            right = left + rng.randrange(0, 400)
            want = sorted(v for a, b, v in items if a < right and b > left)
            assert sorted(tree.overlapping(left, right)) == want


def _timeline(scene, media):
    """Twelve shots (m00..m11) with their dialogue (l00..l11; every third a J-cut on channel 3), a
    long line, a meta (trimmed), a muted meta, a guide strip and a Speed effect."""
    compat = _compat()
    set_rate(scene, 25)
    strips = compat.strips(scene.sequence_editor_create())
    for i in range(12):
        at = 1 + 50 * i
        shot = strips.new_movie(f"m{i:02d}", media["v25"], 2, at - 10)
        compat.set_timing(shot, "frame_offset_start", 10)                # visible at..at+50
        compat.set_timing(shot, "frame_offset_end", 40)
        strips.new_sound(f"l{i:02d}", media["clicks_b"], 1 if i % 3 else 3, at - (8 if i % 3 == 0 else 0))
    strips.new_sound("long line", media["clicks"], 4, 300)
    meta = strips.new_meta("Reel", 6, 1)
    compat.strips(meta).new_movie("inner", media["v25"], 5, 611)                       # 611..711
    compat.strips(meta).new_sound("inner voice", media["clicks_b"], 7, 600)
    compat.set_timing(meta, "frame_final_start", 620)
    compat.set_timing(meta, "frame_final_end", 690)
    muted = strips.new_meta("Muted", 8, 1)
    compat.strips(muted).new_sound("hidden", media["clicks_b"], 9, 100)
    muted.mute = True
    compat.new_effect(strips, "No Lipsync cutaway", "COLOR", 10, 120, 15)
    kw = {"length": 50} if bpy.app.version >= (5, 0, 0) else {"frame_end": 201}
    strips.new_effect(name="speed", type="SPEED", channel=11, frame_start=151, input1=strips["m03"], **kw)
    return strips, meta


def test_index_equals_walking_every_strip_through_edits(addon, scene, media):
    compat, timeline = _compat(), lipsync("vse.timeline")
    strips, meta = _timeline(scene, media)
    sa = compat.strips_all(scene.sequence_editor)
    rng = random.Random(7)
    edits = [
        ("move a line", lambda: compat.set_timing(sa["l01"], "frame_start",
                                                  compat.get_timing(sa["l01"], "frame_start") + 37)),
        ("trim a shot", lambda: compat.set_timing(sa["m02"], "frame_offset_start", 30)),
        ("mute a line", lambda: setattr(sa["l04"], "mute", True)),
        ("silence a line", lambda: setattr(sa["l05"], "volume", 0.0)),
        ("add a music bed", lambda: strips.new_sound("bed", media["clicks"], 12, 1)),
        ("delete a line", lambda: strips.remove(sa["l06"])),
        ("re-channel a line", lambda: setattr(sa["l07"], "channel", 13)),
        ("rename a line", lambda: setattr(sa["l08"], "name", "renamed line")),
        ("line into the meta", lambda: sa["l09"].move_to_meta(meta)),
        ("trim the meta", lambda: compat.set_timing(meta, "frame_final_end", 650)),
        ("unmute the muted meta", lambda: setattr(sa["Muted"], "mute", False)),
        ("mute the guide", lambda: setattr(sa["No Lipsync cutaway"], "mute", True)),
        ("delete the meta", lambda: strips.remove(meta)),
    ]
    check_index_equals_walk(scene, rng)
    for what, edit in edits:
        builds = timeline.builds
        edit()
        check_index_equals_walk(scene, rng)
        geometry = what not in ("mute a line", "silence a line", "unmute the muted meta", "mute the guide")
        # rebuilt when a strip's place, length, name, channel or meta changed; restamped otherwise
        assert timeline.builds == builds + geometry, what
    builds = timeline.builds
    for strip in sa:
        strip.select = not strip.select
    check_index_equals_walk(scene, rng)
    assert timeline.builds == builds                        # a selection is no rebuild


def test_pinned_reads_the_strips_once(addon, scene, media):
    timeline = lipsync("vse.timeline")
    _timeline(scene, media)
    calls = []
    real = timeline._stamp
    timeline._stamp = lambda sed: calls.append(1) or real(sed)
    try:
        with timeline.pinned(scene):
            for strip in _compat().strips_all(scene.sequence_editor):
                if strip.type == "MOVIE":
                    lipsync("vse.snapshot").overlapping_sounds(scene, strip)
        assert len(calls) == 1
        lipsync("vse.snapshot").excluded_ranges(scene)       # outside: stamped again
        assert len(calls) == 2
    finally:
        timeline._stamp = real


# -- the panel's estimate ---------------------------------------------------------------------------
def _shots(addon, scene, tmp_path_factory, n=4):
    media = str(tmp_path_factory.mktemp("media"))
    shots = [add_shot(addon, scene, media, name=f"shot{i}", at=11 + 100 * i, select=i < 2) for i in range(n)]
    scene.frame_end = 11 + 100 * n
    return shots


@contextlib.contextmanager
def no_caches():
    """Inside: the add-on's caches of the timeline, the plans and the estimate are empty; afterwards
    they are put back, so the test still sees what the add-on would do next."""
    timeline, segments, money = lipsync("vse.timeline"), lipsync("vse.segments"), lipsync("vse.money")
    held = [(cache, dict(cache)) for cache in (timeline._cache, segments._shown, money._plans)]
    for cache, _saved in held:
        cache.clear()
    try:
        yield
    finally:
        for cache, saved in held:
            cache.clear()
            cache.update(saved)


def fresh_estimate(scene) -> str:
    """The estimate computed with the add-on's caches dropped."""
    with no_caches():
        money, settings = lipsync("vse.money"), scene.lipsync
        movies = money.selected_movies(scene)
        est = money.estimate_strips(scene, movies, settings.provider, settings.model,
                                    lipsync("vse.options").from_settings(settings))
        return money.describe(est, len(movies))


def fresh_plans(scene) -> list:
    """snapshot.plan_jobs of each selected strip, no cache involved (None: refused)."""
    money, snapshot = lipsync("vse.money"), lipsync("vse.snapshot")
    LipsyncError = lipsync("client.errors").LipsyncError
    out = []
    with no_caches():
        for strip in money.selected_movies(scene):
            try:
                out.append(tuple(snapshot.plan_jobs(scene, strip)))
            except LipsyncError:
                out.append(None)
    return out


def _spy(monkeypatch, module, name: str, noted) -> list:
    """Wrap module.name (the real function runs): each call appends noted(*its positional args)."""
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(noted(*args))
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.fixture
def counted(monkeypatch):
    """Counts the estimate's pricing (money.estimate_planned)."""
    return _spy(monkeypatch, lipsync("vse.money"), "estimate_planned", lambda *_args: 1)


@pytest.fixture
def planned(monkeypatch):
    """The names of the strips snapshot.plan_jobs is asked to plan."""
    return _spy(monkeypatch, lipsync("vse.snapshot"), "plan_jobs", lambda _scene, strip, *_rest: strip.name)


def test_estimate_cached_and_equal_to_a_fresh_computation_after_edits(addon, scene, tmp_path_factory, counted):
    compat, segments = _compat(), lipsync("vse.segments")
    shots = _shots(addon, scene, tmp_path_factory)
    sa = compat.strips_all(scene.sequence_editor)
    segments.refresh_estimate(scene)
    assert scene.lipsync.estimate_text == fresh_estimate(scene) != ""
    counted.clear()
    segments.refresh_estimate(scene)                     # nothing changed: nothing read again
    assert counted == []
    edits = [
        ("select a third shot", lambda: setattr(shots[2], "select", True)),
        ("trim a shot", lambda: compat.set_timing(shots[0], "frame_offset_end", 20)),
        ("mute the dialogue of a shot", lambda: setattr(sa["shot1_line0"], "mute", True)),
        ("a no-lipsync strip", lambda: compat.new_effect(compat.strips(scene.sequence_editor), "No Lipsync",
                                                         "COLOR", 9, 230, 10)),
        ("a no-lipsync marker", lambda: scene.timeline_markers.new("nolipsync", frame=240)),
        ("handles", lambda: setattr(scene.lipsync, "handles", 4)),
        ("another provider", lambda: setattr(scene.lipsync, "provider", "runware")),
        ("deselect all", lambda: [setattr(s, "select", False) for s in sa]),
    ]
    texts = [scene.lipsync.estimate_text]
    for what, edit in edits:
        edit()
        counted.clear()
        segments.refresh_estimate(scene)
        assert counted == [1], what
        assert scene.lipsync.estimate_text == fresh_estimate(scene), what
        texts.append(scene.lipsync.estimate_text)
    assert len(set(texts)) == len(texts), texts          # every edit changed what the panel says


def test_ui_marks_dirty_and_the_timer_refreshes_once_edits_settle(addon, scene, tmp_path_factory, counted):
    segments, handlers = lipsync("vse.segments"), lipsync("vse.handlers")
    shots = _shots(addon, scene, tmp_path_factory)
    segments.refresh_estimate(scene)
    before = scene.lipsync.estimate_text
    shots[3].select = True
    counted.clear()
    handlers.on_selection_changed()                      # the msgbus callback
    scene.lipsync.handles = 2                            # a property update
    assert counted == [] and scene.lipsync.estimate_text == before      # marked, not computed
    assert not bpy.app.timers.is_registered(segments.estimate_timer)    # background: on demand only
    try:
        segments.mark_dirty(scene, background=False)
        assert bpy.app.timers.is_registered(segments.estimate_timer)
        wait = segments.estimate_timer()                 # too soon after the last mark
        assert wait is not None and 0 < wait <= segments.DEBOUNCE and counted == []
        time.sleep(segments.DEBOUNCE)
        assert segments.estimate_timer() is None         # one-shot once the edits settled
        assert counted == [1]
        assert scene.lipsync.estimate_text.startswith("3 strip(s)")
        assert scene.lipsync.estimate_text == fresh_estimate(scene)
    finally:
        if bpy.app.timers.is_registered(segments.estimate_timer):
            bpy.app.timers.unregister(segments.estimate_timer)


# -- the plan cache of the estimate (vse/money.py plan_strips, snapshot.PlanReads) -------------------
def _cached_state(scene, planned, what) -> tuple:
    """Refresh the estimate, then check it and the plans it kept against a fresh computation; the
    (text, plans) it shows."""
    money, segments = lipsync("vse.money"), lipsync("vse.segments")
    segments.refresh_estimate(scene)
    text = scene.lipsync.estimate_text
    assert text == fresh_estimate(scene), what
    calls = len(planned)
    got, refused, _serials = money.plan_strips(scene, money.selected_movies(scene))
    assert len(planned) == calls, what                    # what the refresh left in the cache
    fresh = fresh_plans(scene)
    assert got == [p for p in fresh if p is not None] and refused == fresh.count(None), what
    return text, got


def _volume_curve(strip):
    return lipsync("vse.dialogue").volume_fcurve(strip)


def _plan_edits(scene, shots):
    """Edits of everything a plan reads, each a (what, do) pair; each changes the estimate's text or
    a plan (checked by the test, so none of them can pass by changing nothing)."""
    compat, settings = _compat(), scene.lipsync
    sed = scene.sequence_editor
    sa = compat.strips_all(sed)

    def line(i):
        return sa[f"shot{i}_line0"]

    def shift(strip, frames, name="frame_start"):
        return lambda: compat.set_timing(strip, name, compat.get_timing(strip, name) + frames)

    def fade(*values):
        def do():
            line(0).volume = values[0]
            line(0).keyframe_insert("volume", frame=20)
            line(0).volume = values[1]
            line(0).keyframe_insert("volume", frame=40)
        return do

    def key_value(index, value):
        return lambda: setattr(_volume_curve(line(0)).keyframe_points[index], "co", (20 + 20 * index, value))

    def text_strip():
        strip = compat.new_effect(compat.strips(sed), "spoken", "TEXT", 8, 130, 20)
        strip.text = "Hello there"

    def into_meta():
        meta = compat.strips(sed).new_meta("Reel", 12, 300)
        shots[3].move_to_meta(meta)
        compat.set_timing(meta, "frame_final_start", 300)
        compat.set_timing(meta, "frame_final_end", 400)

    def guide():
        compat.new_effect(compat.strips(sed), "No Lipsync cutaway", "COLOR", 9, 230, 10)

    markers = scene.timeline_markers
    clip = bpy.path.abspath(shots[0].filepath)
    return [
        ("(a) a line moved off its shot", shift(line(1), 60)),
        ("(a) the line moved back", shift(line(1), -60)),
        ("(a) a line nudged by a frame", shift(line(1), 1)),
        ("(b) a line silenced", lambda: setattr(line(0), "volume", 0.0)),
        ("(b) its volume raised", lambda: setattr(line(0), "volume", 0.7)),
        ("(b) a fade out keyed", fade(1.0, 0.0)),
        ("(b) a key's value changed", key_value(1, 0.5)),
        ("(b) a key moved", lambda: setattr(_volume_curve(line(0)).keyframe_points[0], "co", (26, 1.0))),
        ("(b) every key at 0", lambda: [key_value(i, 0.0)() for i in (0, 1)]),
        ("(b) the keys removed", lambda: (line(0).keyframe_delete("volume", frame=20),
                                          line(0).keyframe_delete("volume", frame=40),
                                          setattr(line(0), "volume", 0.9))),
        ("(c) the dialogue channel muted", lambda: setattr(sed.channels[1], "mute", True)),
        ("(c) and unmuted", lambda: setattr(sed.channels[1], "mute", False)),
        ("(c) a line muted", lambda: setattr(line(3), "mute", True)),
        ("(c) the line unmuted", lambda: setattr(line(3), "mute", False)),
        ("(d) a no-lipsync strip over shot2", guide),
        ("(d) the strip moved", lambda: shift(sa["No Lipsync cutaway"], 6)()),
        ("(d) no-lipsync markers over shot3", lambda: (markers.new("nolipsync", frame=330),
                                                       markers.new("nolipsync_end", frame=340))),
        ("(d) a marker moved", lambda: setattr(markers["nolipsync_end"], "frame", 345)),
        ("(e) shot3 trimmed", shift(shots[3], 10, "frame_offset_end")),
        ("(e) shot0 made longer", shift(shots[0], -3, "frame_offset_start")),
        ("(e) shot1 moved", shift(shots[1], 2)),
        ("a sound offset", lambda: setattr(line(2), "sound_offset", 0.1)),
        ("a movie on another channel", lambda: setattr(shots[0], "channel", 5)),
        ("a movie played in reverse", lambda: setattr(shots[2], "use_reverse_frames", True)),
        ("the movie file moved away", lambda: os.rename(clip, clip + ".away")),
        ("and back", lambda: os.rename(clip + ".away", clip)),
        ("a Text strip over shot1", text_strip),
        ("its words changed", lambda: setattr(sa["spoken"], "text", "Hello there, how are you")),
        ("(f) handles", lambda: setattr(settings, "handles", 4)),
        ("(f) another provider", lambda: setattr(settings, "provider", "runware")),
        ("(f) another model", lambda: setattr(settings, "model", "lipsync-2-pro")),
        ("shot3 moved into a meta", into_meta),
        ("shot1's line deleted: its Text strip speaks alone", lambda: compat.strips(sed).remove(line(1))),
        ("the scene rate", lambda: setattr(scene.render, "fps", 24)),
    ]


def test_plan_cache_equals_fresh_plans_after_each_edit(addon, scene, tmp_path_factory, planned):
    """Every kind of edit a plan reads, with four strips selected: after each, the estimate and the
    plans kept for it equal what a computation without any cache gives (a stale plan fails here)."""
    shots = _shots(addon, scene, tmp_path_factory)
    for shot in shots:
        shot.select = True
    state = _cached_state(scene, planned, "first")
    assert state[0].startswith("4 strip(s)")
    for what, edit in _plan_edits(scene, shots):
        edit()
        new = _cached_state(scene, planned, what)
        assert new != state, f"{what}: changed nothing the test can see"
        state = new


def test_an_edit_plans_again_only_the_strips_it_touches(addon, scene, tmp_path_factory, planned, counted):
    """The scaling property (issue #16): after a nudge of one line only the shot it overlaps is
    planned again; a selection change plans nothing kept; a scene-wide setting plans everything."""
    compat, segments = _compat(), lipsync("vse.segments")
    shots = _shots(addon, scene, tmp_path_factory, n=12)
    for shot in shots:
        shot.select = True
    segments.refresh_estimate(scene)
    assert sorted(planned) == sorted(s.name for s in shots)
    steps = [
        ("nothing changed", lambda: None, []),
        ("a line nudged", lambda: compat.set_timing(compat.strips_all(scene.sequence_editor)["shot5_line0"],
                                                    "frame_start", 514), ["shot5"]),
        ("a shot trimmed", lambda: compat.set_timing(shots[7], "frame_offset_end", 10), ["shot7"]),
        ("markers over shot9", lambda: (scene.timeline_markers.new("nolipsync", frame=940),
                                         scene.timeline_markers.new("nolipsync_end", frame=950)), ["shot9"]),
        ("two shots deselected", lambda: [setattr(s, "select", False) for s in shots[:2]], []),
        ("and selected again", lambda: [setattr(s, "select", True) for s in shots[:2]], []),
        ("handles", lambda: setattr(scene.lipsync, "handles", 3), [s.name for s in shots]),
    ]
    for what, edit, want in steps:
        edit()
        planned.clear()
        counted.clear()
        segments.refresh_estimate(scene)
        assert sorted(planned) == sorted(want), what
        assert counted == ([] if what == "nothing changed" else [1]), what
        assert scene.lipsync.estimate_text == fresh_estimate(scene), what


# -- re-attach spread over ticks ---------------------------------------------------------------------
def _in_flight_file(addon, scene, tmp_path, tmp_path_factory, sandbox, n):
    """A saved .blend whose n records are at the provider (remote ids), still processing."""
    launch, apply, records = lipsync("vse.launch"), lipsync("vse.apply"), lipsync("vse.records")
    runtime = lipsync("worker.runtime").RUNTIME
    sandbox.configure(provider="sync", processing_seconds=3.0)
    shots = _shots(addon, scene, tmp_path_factory, n)
    ids = []
    for shot in shots:
        ids += launch.launch(scene, launch.LaunchSpec(strip=shot.name, provider="sync", model="lipsync-2",
                                                      options={})).job_ids
    deadline = time.monotonic() + 60
    while not all(records.find(j)[1].remote_id for j in ids) and time.monotonic() < deadline:
        apply.drain(0.05)
        time.sleep(0.02)
    assert all(records.find(j)[1].status in ("QUEUED", "PROCESSING") for j in ids)
    blend = str(tmp_path / "in_flight.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    runtime.cancel_many(ids)                             # stop following (the provider goes on)
    assert runtime.wait(ids, apply.apply_event, deadline=30)
    return blend, ids


def test_reattach_after_load_is_spread_over_ticks(addon, scene, online, clean_env, sandbox, tmp_path,
                                                  tmp_path_factory, monkeypatch, addon_prefs):
    use_sandbox(clean_env, sandbox, "sync")
    handlers, reattach, records = lipsync("vse.handlers"), lipsync("vse.reattach"), lipsync("vse.records")
    runtime = lipsync("worker.runtime").RUNTIME
    addon_prefs.max_concurrent_jobs = 5                              # all five at the provider at once
    blend, ids = _in_flight_file(addon, scene, tmp_path, tmp_path_factory, sandbox, 5)
    generations = sandbox.stats()["generations"]["sync"]
    assert generations == 5
    bpy.app.handlers.load_post.remove(handlers._load_post)          # open it as the UI would
    try:
        bpy.ops.wm.open_mainfile(filepath=blend)
    finally:
        bpy.app.handlers.load_post.append(handlers._load_post)
    started = []
    real_submit = runtime.submit
    monkeypatch.setattr(runtime, "submit", lambda job_id, work: started.append(job_id) or real_submit(job_id, work))
    monkeypatch.setattr(reattach, "STEP_BUDGET", 0.0)               # one record per tick
    try:
        assert handlers.on_file_loaded(background=False) == []      # nothing started inside load_post
        assert started == [] and reattach.pending() == 5
        assert bpy.app.timers.is_registered(reattach.reattach_step)
        ticks = 0
        while True:
            again = reattach.reattach_step()
            ticks += 1
            assert len(started) == ticks                            # one more each tick
            if again is None:
                break
            assert again == reattach.STEP_INTERVAL
        assert sorted(started) == sorted(ids) and reattach.pending() == 0       # each once
        assert bpy.app.timers.is_registered(reattach.follow_in_ui)  # then the follower
    finally:
        for timer in (reattach.reattach_step, reattach.follow_in_ui):
            if bpy.app.timers.is_registered(timer):
                bpy.app.timers.unregister(timer)
    assert bpy.ops.lipsync.reattach(follow_only=True) == {"FINISHED"}
    jobs = [records.find(j)[1] for j in ids]
    assert [j.status for j in jobs] == ["COMPLETED"] * 5, [j.message for j in jobs]
    assert sandbox.stats()["generations"]["sync"] == generations     # polled, never submitted again
    assert sorted(started) == sorted(ids)


# -- the id map --------------------------------------------------------------------------------------
def test_id_map_in_step_with_adds_removals_and_reloads(addon, scene, tmp_path, tmp_path_factory):
    records = lipsync("vse.records")
    shots = _shots(addon, scene, tmp_path_factory, 3)
    other = bpy.data.scenes.new("Other")
    assert records.find("warm-up") == (None, None)      # the map of a file without records
    made = [record_job(scene, shot)[0].job_id for shot in shots]
    made += [record_job(other, _copy_shot(other, shots[0]))[0].job_id for _ in range(2)]
    rebuilds = records.rebuilds
    for job_id in made:                                   # every add kept the map complete
        found_scene, job = records.find(job_id)
        assert job.job_id == job_id and found_scene.name == ("Scene" if job_id in made[:3] else "Other")
    assert records.find("no-such-job") == (None, None)
    assert records.of(reversed(made)) == [records.find(j)[1] for j in reversed(made)]
    assert records.rebuilds == rebuilds                  # hits and a miss: no walk over the records
    scene.lipsync.jobs.remove(1)                          # removed by hand: indices move
    assert records.find(made[1]) == (None, None)
    assert [records.find(j)[1].job_id for j in (made[0], made[2], made[3])] == [made[0], made[2], made[3]]
    assert records.rebuilds == rebuilds + 1
    blend = str(tmp_path / "records.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.open_mainfile(filepath=blend)             # load_post forgets the map
    for job_id in (made[0], made[2], made[3], made[4]):
        assert records.find(job_id)[1].job_id == job_id
    assert records.find(made[1]) == (None, None)
    assert json.loads(records.find(made[0])[1].rna.sound_strips_json) == ["shot0_line0"]


def test_record_verdicts_kept_only_while_nothing_they_read_changes(addon, scene, tmp_path, tmp_path_factory,
                                                                   monkeypatch):
    """The result cache checks every finished record (vse/recordcheck.py) on each launch and each
    estimate; a verdict is kept while the record and what the check reads beside it (the .blend's
    path, the registered keys) stay the same: after each change the finished jobs it lists equal
    a computation with no verdict kept, and a second look checks nothing again."""
    recordcheck, reuse, records = lipsync("vse.recordcheck"), lipsync("vse.reuse"), lipsync("vse.records")
    checked = []
    real = recordcheck._problem
    monkeypatch.setattr(recordcheck, "_problem", lambda job: checked.append(job.job_id) or real(job))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    result = tmp_path / "result.mp4"
    result.write_bytes(b"a result")
    made = []
    for i in range(4):
        rec, _plan = record_job(scene, movie)
        rec.status, rec.fingerprint, rec.outputs = "COMPLETED", str(i) * 64, [str(result)]
        made.append(rec.job_id)
    key = "k" + uuid.uuid4().hex                      # a key only this test registers
    record = {job_id: lambda j=job_id: records.find(j)[1] for job_id in made}
    edits = [
        ("a remote id edited by hand", lambda: setattr(record[made[1]](), "remote_id", "not a job id!")),
        ("a remote id that carries a key", lambda: setattr(record[made[2]](), "remote_id", f"job-{key}")),
        ("that key registered", lambda: lipsync("client.errors").register_secret(key)),
        ("an out dir beside the .blend", lambda: setattr(record[made[3]](), "out_dir", str(tmp_path / "lipsync"))),
        ("the .blend saved elsewhere", lambda: bpy.ops.wm.save_as_mainfile(
            filepath=str(tmp_path_factory.mktemp("elsewhere") / "shot.blend"))),
    ]
    lists = []
    for what, edit in [("first", lambda: None), *edits]:
        edit()
        checked.clear()
        found = reuse.known_results()
        assert checked, what                          # something changed: checked again
        checked.clear()
        assert reuse.known_results() == found and checked == [], what      # kept
        saved = dict(recordcheck._verdicts)
        recordcheck._verdicts.clear()
        try:
            assert reuse.known_results() == found, what                    # = checked afresh
        finally:
            recordcheck._verdicts.update(saved)
        lists.append(sorted(found.values()))
    kept = [[0, 1, 2, 3], [0, 2, 3], [0, 2, 3], [0, 3], [0, 3], [0]]
    assert lists == [sorted(made[i] for i in ids) for ids in kept]


def _copy_shot(scene, shot):
    """A movie and its sound in another scene (the records' map spans every scene)."""
    compat = _compat()
    strips = compat.strips(scene.sequence_editor_create())
    scene.render.fps = 25
    src = compat.strips_all(shot.id_data.sequence_editor)
    copy = strips.new_movie(shot.name, shot.filepath, 2, int(compat.get_timing(shot, "frame_start")))
    line = src[f"{shot.name}_line0"]
    strips.new_sound(line.name, bpy.path.abspath(line.sound.filepath), 1, int(compat.get_timing(line, "frame_start")))
    return copy
