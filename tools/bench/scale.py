"""Scale (issue #16): main-thread cost on a feature-length timeline and with 1,000 jobs.

The add-on is loaded as an extension (tests/fixtures/addon.py LOAD_ADDON) in bpy 4.5, in
background mode. The timeline is built like an editor's: N shots, each a movie strip (a 4 s clip
trimmed to 40..80 frames, cut to cut on channel 2) with its dialogue strip (channel 1; every
fifth shot a J-cut on channel 3 starting 8 frames early), a "No Lipsync" colour strip every 100
shots. Timelines are built once and cached as .blend files under bench_out/media (new_sound
costs ~30 ms a strip in bpy: 2,000 shots take about a minute to build).

Figures (each printed with the cost at every N and the growth ratio t(2000)/t(200)):

- estimate: `vse.segments.refresh_estimate` (what the panel shows, docs/architecture.md "Money")
  right after a timeline edit (one sound strip nudged by a frame, so nothing cached is still
  valid), with 10 movie strips selected and with every movie strip selected; the same after a
  selection change only, and with nothing changed, as info.
- submit: `bpy.ops.lipsync.submit_selected` on 30, 100 and 300 selected strips of the 2,000-shot
  timeline, with `RUNTIME.submit` replaced by a recorder for the measurement only, so the figure
  is the operator's main-thread block (snapshot, checks, records, hand-off) and no worker runs;
  the modules the first submit of the process imports on the main thread are listed.
- tick: `LIPSYNC_OT_submit_selected.modal()` driven with TIMER events every 0.25 s (what the
  window manager does, docs/blender.md §4) while 100, then 1,000 jobs are in flight against the
  sandbox (its own process, 300 s of processing: FoxAPI reports whole percents, so a job yields an
  event every few seconds, as in tools/bench/tick.py). The preference caps concurrency at 16, so
  16 jobs poll the sandbox and the others wait for a worker, as after a big submit.
- draw: the Jobs panel's `draw()` and the jobs UIList (filter_items when defined, draw_item for
  10 visible rows) with 1,000 records, on a stand-in layout (no window in the bpy module,
  docs/blender.md §7): the add-on's Python side of a draw, not Blender's C drawing.
- cancel: Esc on the follower of 1,000 jobs: the modal call that handles Esc, then every tick
  until each record has settled (sum and count).
- load: a file with 1,000 records in flight (remote ids set) saved and opened; the load_post
  handler's main-thread work, per app-timer tick in the UI and in all, with `RUNTIME.submit`
  recorded (no worker started); background mode (all at once) as info.

Targets from the issue: estimate 10 selected <= 16 ms, all selected <= 250 ms with growth
<= 12; submit 300 strips <= 300 ms; tick p99 <= 2 ms with 1,000 jobs; draw <= 5 ms; load
<= 50 ms per tick and <= 1 s in all; cancel <= 100 ms.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
import types

import common

SIZES = (10, 100, 200, 1000, 2000)
QUICK_SIZES = (10, 20, 40)
BUILD_VERSION = 1                  # bump when build_shots changes: cached timelines are rebuilt
CLIP_FRAMES = 100                  # the 4 s clip at 25 fps
MODULES = ("operators.submit", "operators.follow", "worker.runtime", "vse.apply", "vse.launch",
           "vse.records", "vse.follower", "vse.segments", "vse.reattach", "vse.handlers", "vse.compat",
           "panels")


# -- the timeline ------------------------------------------------------------------------------
def build_shots(bpy, mods, scene, start: int, stop: int, clip: str, wav: str) -> None:
    """Shots start..stop-1 (see the module docstring), appended after the last one."""
    compat = mods.compat
    coll = compat.strips(scene.sequence_editor)
    cursor = scene.get("bench_cursor", 1)
    for i in range(start, stop):
        head, length = 5 + i % 7, 40 + (i * 13) % 41
        movie = coll.new_movie(name=f"shot{i:04d}", filepath=clip, channel=2, frame_start=cursor - head)
        compat.set_timing(movie, "frame_offset_start", head)
        compat.set_timing(movie, "frame_offset_end", CLIP_FRAMES - head - length)
        movie.select = False
        j_cut = i % 5 == 0
        at = cursor - 8 if j_cut else cursor + i % 4
        sound = coll.new_sound(name=f"line{i:04d}", filepath=wav, channel=3 if j_cut else 1, frame_start=at)
        sound.select = False
        end = compat.visible_range(sound)[1]
        if end > cursor + length:          # the line ends with the shot
            compat.set_timing(sound, "frame_offset_end", end - cursor - length)
        if i % 100 == 50:
            guide = compat.new_effect(coll, f"No Lipsync {i:04d}", "COLOR", 4, cursor + length // 2, 10)
            guide.select = False
        cursor += length
    scene["bench_cursor"] = cursor
    scene.frame_end = cursor + 10


def timelines(bpy, mods, sizes) -> dict:
    """N -> path of a cached .blend with N shots, built cumulatively once."""
    clip = common.test_clip("scale_clip_4s.mp4", 4.0)
    wav = common.speech_wav("scale_line_4s.wav", 4.0)
    tag = f"v{BUILD_VERSION}_{bpy.app.version[0]}.{bpy.app.version[1]}"
    paths = {n: str(common.MEDIA / f"scale_timeline_{n}_{tag}.blend") for n in sizes}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.sequence_editor_create()
    built, started = 0, time.monotonic()
    for n in sorted(sizes):
        build_shots(bpy, mods, scene, built, n, clip, wav)
        built = n
        tmp = paths[n] + f".tmp{os.getpid()}.blend"
        bpy.ops.wm.save_as_mainfile(filepath=tmp, copy=True)
        os.replace(tmp, paths[n])
        common.log(f"scale: timeline of {n} shots built ({time.monotonic() - started:.0f} s so far)")
    return paths


def open_file(bpy, path: str):
    bpy.ops.wm.open_mainfile(filepath=path)
    return bpy.context.scene


def movies_of(mods, scene) -> list:
    return sorted((s for s in mods.compat.strips_all(scene.sequence_editor) if s.type == "MOVIE"),
                  key=lambda s: s.name)


def select_only(mods, scene, chosen) -> None:
    names = {s.name for s in chosen}
    for strip in mods.compat.strips_all(scene.sequence_editor):
        strip.select = strip.name in names


# -- estimate ----------------------------------------------------------------------------------
def _nudge(mods, scene, step: int) -> None:
    """A timeline edit: the first dialogue strip moves by one frame (and back on the next call)."""
    sound = scene.sequence_editor.strips_all["line0001"]
    mods.compat.set_timing(sound, "frame_start", mods.compat.get_timing(sound, "frame_start") + (1 if step % 2 else -1))


def _timed(fn, repeats: int, before=None) -> list[float]:
    out = []
    for i in range(repeats):
        if before is not None:
            before(i)
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _estimate_at(bpy, mods, path: str, repeats: int) -> dict:
    scene = open_file(bpy, path)
    movies = movies_of(mods, scene)
    step = max(1, len(movies) // 10)
    ten, other_ten = movies[::step][:10], movies[1::step][:10]

    def refresh():
        mods.segments.refresh_estimate(scene)

    row = {}
    for label, chosen in (("10", ten), ("all", movies)):
        select_only(mods, scene, chosen)
        refresh()                                        # warm: first-use imports, file stats
        row[f"edit_{label}"] = common.median(_timed(refresh, repeats, lambda i: _nudge(mods, scene, i)))
        row[f"same_{label}"] = common.median(_timed(refresh, repeats))
        row[f"text_{label}"] = scene.lipsync.estimate_text
    row["select_10"] = common.median(_timed(refresh, repeats,
                                            lambda i: select_only(mods, scene, (ten, other_ten)[i % 2])))
    return row


def measure_estimate(bpy, mods, paths, sizes, quick: bool) -> dict:
    """N -> {case: median ms} for the estimate refresh."""
    out = {}
    for n in sizes:
        row = out[n] = _estimate_at(bpy, mods, paths[n], 3 if quick or n >= 1000 else 7)
        common.log(f"scale: estimate N={n}: 10 selected {row['edit_10']:.1f} ms, all {row['edit_all']:.1f} ms "
                   f"({row['text_all']})")
    return out


# -- submit ------------------------------------------------------------------------------------
class SubmitRecorder:
    """Stands in for RUNTIME.submit during a measurement: records the ids, starts no worker."""

    def __init__(self, runtime):
        self.runtime, self.ids = runtime, []

    def __enter__(self):
        self.runtime.submit = lambda job_id, work: self.ids.append(job_id)
        return self

    def __exit__(self, *exc):
        del self.runtime.submit            # back to the class's method


def measure_submit(bpy, mods, path: str, counts) -> dict:
    out = {}
    for count in counts:
        scene = open_file(bpy, path)
        select_only(mods, scene, movies_of(mods, scene)[:count])
        before = set(sys.modules)
        with SubmitRecorder(mods.runtime.RUNTIME) as rec:
            started = time.perf_counter()
            result = bpy.ops.lipsync.submit_selected(confirm_budget=True)
            took = (time.perf_counter() - started) * 1000
        imported = sorted(m for m in set(sys.modules) - before if "." not in m or m.startswith(("httpx", "bl_ext")))
        # a strip crossing a "No Lipsync" strip is two jobs (docs/architecture.md "Ranges and handles")
        if result != {"FINISHED"} or len(set(rec.ids)) != len(rec.ids) or len(rec.ids) < count \
                or len(rec.ids) != len(scene.lipsync.jobs):
            raise SystemExit(f"submit of {count} strips: {result}, {len(rec.ids)} jobs handed to workers")
        out[count] = {"ms": took, "jobs": len(rec.ids), "imported": imported if count == counts[0] else None,
                      "httpx_on_main": any(m.startswith("httpx") for m in set(sys.modules) - before)}
        common.log(f"scale: submit_selected {count} strips: {took:.0f} ms main thread")
    return out


# -- jobs in flight: tick, draw, cancel ----------------------------------------------------------
def _fake_op(mods):
    Op = mods.submit.LIPSYNC_OT_submit_selected
    fake = types.SimpleNamespace(reports=[], _timer=None, _timer_used=False, bl_idname="LIPSYNC_OT_submit_selected")
    fake.report = lambda level, text: fake.reports.append((set(level), text))
    fake._finish = types.MethodType(Op._finish, fake)
    return Op, fake


def _launch(mods, scene, movies, provider: str, model: str) -> list[str]:
    options = mods.options.from_settings(scene.lipsync)
    launched = mods.launch.Launched()
    for m in movies:
        launched.add(mods.launch.launch(scene, mods.launch.LaunchSpec(
            strip=m.name, provider=provider, model=model, options=options)))
    if launched.refused or len(launched.job_ids) < len(movies):
        raise SystemExit(f"launch refused: {launched.reasons()[:3]}")
    return launched.job_ids


def _wait_polling(mods, job_ids, want: int) -> None:
    """Not measured: drain until `want` jobs have a remote id and are being polled."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        mods.apply.drain(budget=0.2)
        recs = [mods.records.find(j)[1] for j in job_ids]
        if sum(1 for r in recs if r.remote_id and r.status in ("QUEUED", "PROCESSING")) >= want:
            return
        bad = [r for r in recs if r.status in ("FAILED", "REJECTED", "UNKNOWN", "CANCELLED", "COMPLETED")]
        if bad:
            raise SystemExit(f"job ended during setup: {bad[0].status} {bad[0].message}")
        time.sleep(0.05)
    raise SystemExit(f"{want} jobs did not reach the provider within 300 s")


def _ticks(bpy, mods, Op, fake, n_ticks: int, interval: float) -> tuple[list[float], list[int]]:
    timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
    ms, drained = [], []
    Op.modal(fake, bpy.context, timer)               # warm-up tick
    for _ in range(n_ticks):
        started = time.perf_counter()
        result = Op.modal(fake, bpy.context, timer)
        took = time.perf_counter() - started
        ms.append(took * 1000)
        drained.append(mods.runtime.RUNTIME.last_drain_count)
        if result != {"RUNNING_MODAL"}:
            raise SystemExit(f"modal ended early: {result} {fake.reports}")
        time.sleep(max(0.0, interval - took))
    return ms, drained


class _Layout:
    """A stand-in UILayout: every call is accepted and counted; properties can be set."""

    def __init__(self, calls: list):
        object.__setattr__(self, "_calls", calls)

    def __getattr__(self, name):
        def call(*args, **kw):
            self._calls.append(name)
            return self
        return call

    def __setattr__(self, name, value):
        pass


def measure_draw(bpy, mods, repeats: int = 50, rows: int = 10) -> dict:
    """The Jobs panel and its UIList, as the add-on's Python runs them in one redraw."""
    panels = mods.panels
    settings = bpy.context.scene.lipsync
    ul = panels.LIPSYNC_UL_jobs
    filter_items = ul.__dict__.get("filter_items")
    calls: list = []
    panel = types.SimpleNamespace(layout=_Layout(calls))
    lst = types.SimpleNamespace(filter_name="", use_filter_sort_alpha=False, use_filter_sort_reverse=False,
                                bitflag_filter_item=1 << 30, use_filter_invert=False)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        panels.LIPSYNC_PT_jobs.draw(panel, bpy.context)
        order = None
        if filter_items is not None:
            _flags, order = filter_items(lst, bpy.context, settings, "jobs")
        shown = range(min(rows, len(settings.jobs)))
        if order:                        # the rows the list shows first, in its order
            shown = sorted(range(len(order)), key=order.__getitem__)[:rows]
        for index in shown:
            item = settings.jobs[index]
            ul.draw_item(lst, bpy.context, _Layout(calls), settings, item, 0, settings, "jobs_index", index)
        times.append((time.perf_counter() - started) * 1000)
    return {"median": common.median(times), "max": max(times), "records": len(settings.jobs),
            "filter_items": filter_items is not None}


def measure_cancel(bpy, mods, Op, fake, interval: float) -> dict:
    """Esc on the follower, then ticks until every job of it has ended."""
    esc = types.SimpleNamespace(type="ESC", value="PRESS")
    timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
    started = time.perf_counter()
    result = Op.modal(fake, bpy.context, esc)
    esc_ms = (time.perf_counter() - started) * 1000
    ticks, deadline = [], time.monotonic() + 120
    while result == {"RUNNING_MODAL"} and time.monotonic() < deadline:
        time.sleep(interval)
        started = time.perf_counter()
        result = Op.modal(fake, bpy.context, timer)
        ticks.append((time.perf_counter() - started) * 1000)
    settled = result != {"RUNNING_MODAL"}
    return {"esc_ms": esc_ms, "ticks": len(ticks), "ticks_ms": sum(ticks), "max_tick_ms": max(ticks, default=0.0),
            "settled": settled}


def measure_in_flight(bpy, mods, path: str, counts, n_ticks: int, interval: float) -> dict:
    out = {}
    for count in counts:
        scene = open_file(bpy, path)
        job_ids = _launch(mods, scene, movies_of(mods, scene)[:count], "foxapi", "lipsync-2")
        _wait_polling(mods, job_ids, min(16, count))
        Op, fake = _fake_op(mods)
        fake._follower = mods.follower.Follower(job_ids)
        ms, drained = _ticks(bpy, mods, Op, fake, n_ticks, interval)
        row = {"p50": common.percentile(ms, 50), "p99": common.percentile(ms, 99), "max": max(ms),
               "events_mean": sum(drained) / len(drained), "events_max": max(drained),
               "in_flight": sum(1 for j in job_ids if mods.records.find(j)[1].in_flight)}
        if count == counts[-1]:
            row["draw"] = measure_draw(bpy, mods)
            row["cancel"] = measure_cancel(bpy, mods, Op, fake, interval)
        else:
            mods.runtime.RUNTIME.cancel_all()
            mods.runtime.RUNTIME.wait(job_ids, mods.apply.apply_event, deadline=60)
        out[count] = row
        common.log(f"scale: {count} jobs in flight: tick p50 {row['p50']:.2f} p99 {row['p99']:.2f} "
                   f"max {row['max']:.2f} ms, events/tick {row['events_mean']:.2f}")
    return out


# -- save and load -----------------------------------------------------------------------------
def _file_with_records(bpy, mods, path: str, count: int, folder: str) -> str:
    """A saved .blend whose `count` records are in flight with remote ids (as after submitting)."""
    scene = open_file(bpy, path)
    select_only(mods, scene, movies_of(mods, scene)[:count])
    with SubmitRecorder(mods.runtime.RUNTIME):
        assert bpy.ops.lipsync.submit_selected(confirm_budget=True) == {"FINISHED"}
    for i, rna in enumerate(scene.lipsync.jobs):
        job = mods.records.JobRecord(rna)
        job.remote_id, job.status, job.progress = f"bench-remote-{i:05d}", "QUEUED", 0.3
        job.request = mods.reattach._request_json(job)
    saved = os.path.join(folder, f"records_{count}.blend")
    started = time.perf_counter()
    bpy.ops.wm.save_as_mainfile(filepath=saved)
    return saved, (time.perf_counter() - started) * 1000


def _open_without_handler(bpy, mods, path: str):
    handler = mods.handlers._load_post
    bpy.app.handlers.load_post.remove(handler)
    try:
        return open_file(bpy, path)
    finally:
        bpy.app.handlers.load_post.append(handler)


def measure_load(bpy, mods, path: str, count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lipsync_scale_") as folder:
        saved, save_ms = _file_with_records(bpy, mods, path, count, folder)
        out = {"save_ms": save_ms}
        for mode in ("ui", "background"):
            _open_without_handler(bpy, mods, saved)
            with SubmitRecorder(mods.runtime.RUNTIME) as rec:
                ticks = _load_ticks(bpy, mods, mode)
            ids, records = rec.ids, len(bpy.context.scene.lipsync.jobs)
            out[mode] = {"ticks": len(ticks), "max_ms": max(ticks), "total_ms": sum(ticks),
                         "started": len(ids), "distinct": len(set(ids)), "records": records}
            if len(set(ids)) != records or len(ids) != records:
                raise SystemExit(f"load ({mode}): {len(ids)} starts of {len(set(ids))} jobs, want {records} once each")
            common.log(f"scale: load_post ({mode}) {count} records: {len(ticks)} tick(s), max {max(ticks):.1f} ms, "
                       f"total {sum(ticks):.1f} ms")
    return out


def _load_ticks(bpy, mods, mode: str) -> list[float]:
    """The handler's main-thread work, then (UI) every app-timer call it left, each timed."""
    reattach = mods.reattach
    on_load = getattr(mods.handlers, "on_file_loaded", None)
    started = time.perf_counter()
    if on_load is None:                  # before issue #16: everything inside the handler
        mods.handlers._load_post()
    else:
        on_load(background=mode == "background")
    ticks = [(time.perf_counter() - started) * 1000]
    step = getattr(reattach, "reattach_step", None)
    while step is not None and bpy.app.timers.is_registered(step):
        started = time.perf_counter()
        again = step()
        ticks.append((time.perf_counter() - started) * 1000)
        if again is None:
            bpy.app.timers.unregister(step)
    if bpy.app.timers.is_registered(reattach.follow_in_ui):
        bpy.app.timers.unregister(reattach.follow_in_ui)
    return ticks


# -- rows --------------------------------------------------------------------------------------
def _growth(values: dict, top: int, base: int):
    return values[top] / values[base] if values.get(base) else None


def estimate_rows(est: dict, sizes) -> list[dict]:
    top = max(sizes)
    base = 200 if 200 in sizes else sorted(sizes)[-2]
    rows = []
    for key, what, target, limit, grow in (("edit_10", "10 selected", "<= 16 ms", 16.0, None),
                                           ("edit_all", "all movie strips selected", "<= 250 ms, growth <= 12",
                                            250.0, 12.0)):
        series = {n: est[n][key] for n in sizes}
        for n in sizes:
            if n != top:
                rows.append(common.row(f"scale_{key}_{n}", f"estimate after an edit, {what}, {n} shots", series[n],
                                       None, unit="ms", target="(info)", ok=True))
        growth = _growth(series, top, base)
        rows.append(common.row(f"scale_{key}", f"estimate after an edit, {what}, {top} shots (ref: {base})",
                               series[top], series[base], unit="ms", target=target, ratio=growth,
                               ok=series[top] <= limit and (grow is None or (growth or 0) <= grow),
                               by_size=series, text=est[top][f"text_{key.split('_')[1]}"]))
    for key, what in (("select_10", "after a selection change only, 10 selected"),
                      ("same_10", "nothing changed, 10 selected"), ("same_all", "nothing changed, all selected")):
        series = {n: est[n][key] for n in sizes}
        rows.append(common.row(f"scale_{key}", f"estimate {what}, {top} shots (ref: {base})", series[top],
                               series[base], unit="ms", target="(info)", ok=True, ratio=_growth(series, top, base),
                               by_size=series))
    return rows


def submit_rows(sub: dict) -> list[dict]:
    counts = sorted(sub)
    top, low = counts[-1], counts[0]
    rows = [common.row(f"scale_submit_{c}", f"submit_selected main-thread block, {c} strips", sub[c]["ms"], None,
                       unit="ms", target="(info)", ok=True) for c in counts[:-1]]
    rows.append(common.row("scale_submit", f"submit_selected main-thread block, {top} strips (ref: {low})",
                           sub[top]["ms"], sub[low]["ms"], unit="ms", target=f"<= {top} ms (1 ms/strip)",
                           ok=sub[top]["ms"] <= top, by_count={c: sub[c]["ms"] for c in counts}))
    first = sub[low]
    rows.append(common.row("scale_submit_imports", "httpx modules the first submit imports on the main thread",
                           int(first["httpx_on_main"]), None, unit="events", target="0",
                           ok=not first["httpx_on_main"], imported=first["imported"]))
    return rows


def in_flight_rows(fly: dict) -> list[dict]:
    counts = sorted(fly)
    top, low = counts[-1], counts[0]
    p99 = {c: fly[c]["p99"] for c in counts}
    rows = [common.row("scale_tick_p99_low", f"tick p99, {low} jobs in flight", p99[low], None, unit="ms",
                       target="(info)", ok=True, **fly[low]),
            common.row("scale_tick_p99", f"tick p99, {top} jobs in flight (ref: {low})", p99[top], p99[low],
                       unit="ms", target="<= 2 ms", ok=p99[top] <= 2.0,
                       **{k: v for k, v in fly[top].items() if k not in ("draw", "cancel")}),
            common.row("scale_tick_max", f"tick max, {top} jobs in flight (ref: {low})", fly[top]["max"],
                       fly[low]["max"], unit="ms", target="(info)", ok=True)]
    draw, cancel = fly[top]["draw"], fly[top]["cancel"]
    rows.append(common.row("scale_draw", f"Jobs panel draw (Python side), {draw['records']} records", draw["median"],
                           None, unit="ms", target="<= 5 ms", ok=draw["median"] <= 5.0, **draw))
    rows.append(common.row("scale_cancel", f"cancel {top} jobs: the Esc call", cancel["esc_ms"], None, unit="ms",
                           target="<= 100 ms", ok=cancel["esc_ms"] <= 100.0 and cancel["settled"], **cancel))
    rows.append(common.row("scale_cancel_settle", f"cancel {top} jobs: ticks until all settled ({cancel['ticks']})",
                           cancel["ticks_ms"], None, unit="ms", target="(info)", ok=True))
    return rows


def load_rows(load: dict, count: int) -> list[dict]:
    ui, bg = load["ui"], load["background"]
    return [
        common.row("scale_load_tick", f"load_post main thread, {count} records: max per tick ({ui['ticks']} ticks)",
                   ui["max_ms"], None, unit="ms", target="<= 50 ms", ok=ui["max_ms"] <= 50.0, **ui),
        common.row("scale_load_total", f"load_post main thread, {count} records: in all", ui["total_ms"], None,
                   unit="ms", target="<= 1000 ms", ok=ui["total_ms"] <= 1000.0),
        common.row("scale_load_background", f"load_post in background mode, {count} records (all at once)",
                   bg["total_ms"], None, unit="ms", target="(info)", ok=True, **bg),
        common.row("scale_save", f"save a file with {count} records (save_pre included)", load["save_ms"], None,
                   unit="ms", target="(info)", ok=True),
    ]


def main() -> None:
    args = common.parse_args(ticks=200, parts="estimate,submit,load,flight")
    parts = set(args.parts.split(","))
    sizes = QUICK_SIZES if args.quick else SIZES
    top = max(sizes)
    submits = (3, 10, 30) if args.quick else (30, 100, 300)
    jobs = (5, 20) if args.quick else (100, 1000)
    n_ticks = 10 if args.quick else args.ticks
    with common.SandboxProcess(processing_seconds=300.0) as sb:
        os.environ.update(sb.env("sync", "foxapi"))
        exec(common.load_addon_source(), globals())      # defines `bpy` and `addon`
        pkg = addon.__name__                                          # noqa: F821 - from LOAD_ADDON
        mods = types.SimpleNamespace(**{n.split(".")[-1]: importlib.import_module(f"{pkg}.{n}") for n in MODULES})
        mods.options = importlib.import_module(f"{pkg}.vse.options")
        prefs = bpy.context.preferences                               # noqa: F821
        prefs.system.use_online_access = True
        prefs.addons[pkg].preferences.max_concurrent_jobs = 16
        paths = timelines(bpy, mods, sizes)                           # noqa: F821
        rows = []
        if "estimate" in parts:
            rows += estimate_rows(measure_estimate(bpy, mods, paths, sizes, args.quick), sizes)   # noqa: F821
        if "submit" in parts:
            rows += submit_rows(measure_submit(bpy, mods, paths[top], submits))                  # noqa: F821
        if "load" in parts:
            rows += load_rows(measure_load(bpy, mods, paths[top], jobs[-1]), jobs[-1])           # noqa: F821
        if "flight" in parts:
            interval = 0.05 if args.quick else mods.follow.TIMER_SECONDS
            rows += in_flight_rows(measure_in_flight(bpy, mods, paths[top], jobs, n_ticks, interval))  # noqa: F821
        mods.runtime.RUNTIME.cancel_all()
    common.write_rows(args.out, rows)


if __name__ == "__main__":
    common.run(main)
