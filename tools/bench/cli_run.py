"""`python -m client run` on a 10 MB clip vs the same job done with plain httpx, sandbox 0 s.

Both are fresh processes against the same sandbox (own process, processing 0 s), reset before
every run so no upload is reused. The reference (plain_httpx_job.py) uploads the same bytes,
submits, polls every 20 ms and downloads the output: it waits for the same sandbox render, so
the ratio is the client's own overhead (start-up, imports, hashing, retries, poll pacing).
Alternating order, best of N each. Target: <= 1.5x.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024


def noisy_clip(size_mb: int) -> str:
    """An H.264 clip of about `size_mb` MB: grain that x264 cannot squeeze, cut at the size."""
    return common.cached(f"cli_clip_{size_mb}mb.mp4", lambda out: common.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=20", "-vf", "noise=alls=30:allf=t",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "14", "-pix_fmt", "yuv420p",
        "-fs", str(size_mb * MB), "-movflags", "+faststart", "-f", "mp4", out))


def main() -> None:
    args = common.parse_args(repeats=3, size_mb=10)
    size_mb, repeats = (1, 1) if args.quick else (args.size_mb, args.repeats)
    clip = noisy_clip(size_mb)
    wav = common.speech_wav("cli_line_4s.wav", 4.0)
    work = Path(tempfile.mkdtemp(prefix="lipsync_bench_cli_"))
    env = dict(os.environ, SYNC_API_KEY=common.SANDBOX_KEY, PYTHONPATH=str(common.ROOT))
    env.pop("LIPSYNC_POLL_INTERVAL", None)
    ours_times, ref_times = [], []
    with common.SandboxProcess(processing_seconds=0.0) as sb:
        base = sb.base_url("sync")
        ours_cmd = [sys.executable, "-m", "client", "run", "--provider", "sync", "--model", "lipsync-2",
                    "--video", clip, "--audio", wav, "--base-url", base]
        ref_cmd = [sys.executable, str(HERE / "plain_httpx_job.py"), base, common.SANDBOX_KEY, clip, wav]

        def timed(cmd, out) -> float:
            sb.admin("POST", "reset")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd + [out], cwd=str(common.ROOT), env=env, capture_output=True, text=True)
            took = time.perf_counter() - t0
            if proc.returncode != 0 or not os.path.getsize(out):
                raise SystemExit(f"{cmd[1:3]} failed (rc {proc.returncode}): {proc.stderr[-1500:]}")
            os.remove(out)
            return took

        timed(ref_cmd, str(work / "warm.mp4"))              # warm-up: page cache, .pyc files
        for i in range(repeats):
            for which in (("ours", "ref") if i % 2 == 0 else ("ref", "ours")):
                if which == "ours":
                    # a new --out each run: the CLI resumes the job recorded beside an output it
                    # wrote before (its job file), and the sandbox forgets jobs at each reset
                    ours_times.append(timed(ours_cmd + ["--out"], str(work / f"ours{i}.mp4")))
                else:
                    ref_times.append(timed(ref_cmd, str(work / "ref.mp4")))
    for p in work.iterdir():
        p.unlink()
    work.rmdir()
    best_ours, best_ref = min(ours_times), min(ref_times)
    common.log(f"cli: ours {best_ours:.2f} s vs plain httpx {best_ref:.2f} s ({best_ours / best_ref:.2f}x)")
    common.write_rows(args.out, [common.row(
        "cli", f"python -m client run, {os.path.getsize(clip) / MB:.1f} MB clip, sandbox 0 s", best_ours,
        best_ref, unit="s", target="<= 1.5x", ok=best_ours <= 1.5 * best_ref, ours_runs_s=ours_times,
        reference_runs_s=ref_times, clip_bytes=os.path.getsize(clip))])


if __name__ == "__main__":
    common.run(main)
