"""A batch of 20 strips through the real operator in background mode, concurrency 6.

`bpy.ops.lipsync.submit_selected()` blocks in background mode (docs/blender.md §4) until
every job ended and its take is placed. The sandbox (own process) keeps each job processing 2 s.
The reference is ideal scheduling, ceil(20/6) x the wall time of ONE job through the same
operator, measured in the same run (median of 3 single-strip runs, before and after the batch).
Every run uses new strips with their own dialogue, so no upload or render is shared between runs
(the footage is the same file, as in a real shot list). Target: <= 1.2x.
"""

from __future__ import annotations

import importlib
import math
import os
import time

import common

PROCESSING = 2.0


def main() -> None:
    args = common.parse_args(strips=20, concurrency=6, provider="sync", model="lipsync-2", singles=3)
    n, concurrency = (4, 2) if args.quick else (args.strips, args.concurrency)
    processing = 0.3 if args.quick else PROCESSING
    clip = common.test_clip("batch_clip_2s.mp4", 2.0)

    with common.SandboxProcess(processing_seconds=processing) as sb:
        os.environ.update(sb.env(args.provider))
        os.environ.pop("LIPSYNC_POLL_INTERVAL", None)          # the providers' own poll pacing
        exec(common.load_addon_source(), globals())            # defines `bpy` and `addon`
        pkg = addon.__name__                                    # noqa: F821 - from LOAD_ADDON
        runtime = importlib.import_module(pkg + ".worker.runtime").RUNTIME
        bpy.context.preferences.system.use_online_access = True                   # noqa: F821
        bpy.context.preferences.addons[pkg].preferences.max_concurrent_jobs = concurrency  # noqa: F821
        bpy.ops.wm.read_homefile(use_empty=True)                                  # noqa: F821
        scene = bpy.context.scene                                                 # noqa: F821
        scene.render.fps, scene.render.fps_base = 25, 1.0
        sed = scene.sequence_editor_create()
        coll = sed.strips if hasattr(sed, "strips") else sed.sequences
        shots = [0]

        def run(count: int) -> tuple[float, dict]:
            for s in list(coll):
                s.select = False
            for _ in range(count):
                i = shots[0]
                shots[0] += 1
                at = 1 + 60 * i
                wav = common.speech_wav(f"batch_line_{i}.wav", 2.0, tone=300 + 7 * i)
                movie = coll.new_movie(name=f"shot{i:03d}", filepath=clip, channel=2, frame_start=at)
                coll.new_sound(name=f"line{i:03d}", filepath=wav, channel=1, frame_start=at)
                movie.select = True
            scene.frame_end = 60 * shots[0] + 10
            before = len(scene.lipsync.jobs)
            runtime.max_running = 0
            t0 = time.perf_counter()
            result = bpy.ops.lipsync.submit_selected(provider=args.provider, model=args.model)  # noqa: F821
            took = time.perf_counter() - t0
            recs = list(scene.lipsync.jobs)[before:]
            statuses = sorted({r.status for r in recs})
            if result != {"FINISHED"} or len(recs) != count or statuses != ["COMPLETED"]:
                raise SystemExit(f"batch of {count} did not complete: {result} {statuses} "
                                 f"{[r.message for r in recs if r.status != 'COMPLETED'][:2]}")
            return took, {"max_running": runtime.max_running}

        run(1)                                   # warm-up: first-use imports, the clip's upload
        singles = []
        for _ in range(max(1, args.singles - 1)):
            singles.append(run(1)[0])
        batch, info = run(n)
        singles.append(run(1)[0])

    one = common.median(singles)
    ideal = math.ceil(n / concurrency) * one
    ratio = batch / ideal
    common.log(f"batch: {n} strips in {batch:.2f} s; one job {one:.2f} s -> ideal {ideal:.2f} s ({ratio:.2f}x)")
    common.write_rows(args.out, [common.row(
        "batch", f"batch of {n} strips, sandbox {processing:g} s/job, concurrency {concurrency}",
        batch, ideal, unit="s", target="<= 1.2x", ok=ratio <= 1.2, single_job_runs_s=singles,
        single_job_s=one, waves=math.ceil(n / concurrency), max_running=info["max_running"])])


if __name__ == "__main__":
    common.run(main)
