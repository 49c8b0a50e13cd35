"""Shared by the benchmark scripts: paths, the sandbox in its own process, media, result rows.

Every script under tools/bench/ runs inside a Blender target venv (bpy, httpx, imageio-ffmpeg),
started by tools/bench.py, and writes its rows as JSON to the path given by ``--out``. A row is
one figure measured side by side with its reference in the same process run:

    {"name", "figure", "ours", "reference", "unit", "ratio", "target", "ok", "details"}

`ratio` is ours / reference (or ours - reference for "+N ms" targets, see `unit`); `ok` is the
verdict against the issue #7 target.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_OUT = ROOT / "bench_out"
MEDIA = BENCH_OUT / "media"
SANDBOX_KEY = "sandbox-key"

if str(ROOT) not in sys.path:          # `import client`, `import sandbox` from the repo root
    sys.path.insert(0, str(ROOT))


_own_user_dir: str | None = None


def load_addon_source() -> str:
    """tests/fixtures/addon.py LOAD_ADDON: loads the add-on as an extension from the source tree.

    bpy unpacks the add-on's wheels (~175 MB) into BLENDER_USER_RESOURCES: point it at a folder
    of ours that `run()` removes, or every run would leave one behind in /tmp.
    """
    global _own_user_dir
    if "BLENDER_USER_RESOURCES" not in os.environ:
        _own_user_dir = tempfile.mkdtemp(prefix="lipsync_bench_user_")
        os.environ["BLENDER_USER_RESOURCES"] = _own_user_dir
    sys.path.insert(0, str(ROOT))
    try:
        from tests.fixtures import addon  # late: the test kit is on sys.path only for this import
    finally:
        sys.path.remove(str(ROOT))
    return addon.LOAD_ADDON


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


# Found now, from this venv: once a figure has loaded the add-on, the extension's own copy of
# imageio-ffmpeg comes first on sys.path, and Blender unpacks that wheel's ffmpeg without its
# execute bit (worker/ffmpeg.py), so media made after the load would find no ffmpeg.
ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def cached(name: str, make) -> str:
    """bench_out/media/<name>, made once by `make(tmp_path)` (atomic rename, survives reruns)."""
    MEDIA.mkdir(parents=True, exist_ok=True)
    path = MEDIA / name
    if not path.exists():
        tmp = path.with_name(f".tmp-{os.getpid()}-{name}")
        make(str(tmp))
        os.replace(tmp, path)
    return str(path)


def test_clip(name: str, seconds: float, size=(160, 120), fps: int = 25, preset: str = "ultrafast",
              extra=()) -> str:
    """testsrc2 H.264 yuv420p MP4, exactly seconds * fps frames, moov at the front."""
    w, h = size
    frames = int(round(seconds * fps))
    return cached(name, lambda out: ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r={fps}:d={seconds}", "-frames:v", str(frames),
        "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", *extra, "-movflags", "+faststart",
        "-f", "mp4", out))


def speech_wav(name: str, seconds: float, tone: float = 330.0, rate: int = 48000) -> str:
    """Mono 16-bit WAV, a tone gated 120 ms on / 80 ms off (speech-like bursts), via ffmpeg."""
    expr = f"if(lt(mod(t\\,0.2)\\,0.12)\\,0.4*sin(2*PI*{tone}*t)\\,0)"
    return cached(name, lambda out: ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}", "-ac", "1", "-c:a", "pcm_s16le",
        "-f", "wav", out))


class SandboxProcess:
    """`python -m sandbox` in its own process, so its threads and renders do not share our GIL."""

    def __init__(self, processing_seconds: float = 0.0, queue_seconds: float = 0.0, python: str | None = None):
        self.args = [python or sys.executable, "-m", "sandbox", "--port", "0",
                     "--processing-seconds", str(processing_seconds), "--queue-seconds", str(queue_seconds),
                     "--key", SANDBOX_KEY]
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "SandboxProcess":
        self.proc = subprocess.Popen(self.args, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"listening on (http://\S+)", line or "")
            if m:
                self.url = m.group(1)
                return self
            if not line and self.proc.poll() is not None:
                break
        self.__exit__()
        raise RuntimeError("the sandbox did not start")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def env(self, *providers: str) -> dict:
        from client.config import ENV_KEYS
        out = {}
        for p in providers:
            out[f"LIPSYNC_{p.upper()}_BASE_URL"] = self.base_url(p)
            out[ENV_KEYS[p]] = SANDBOX_KEY
        return out

    def admin(self, method: str, path: str, body: dict | None = None):
        import httpx
        r = httpx.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=30)
        r.raise_for_status()
        return r.json() if r.content else None


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values, q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values) -> float:
    return statistics.median(values)


def row(name: str, figure: str, ours: float, reference: float | None, *, unit: str, target: str, ok: bool,
        ratio: float | None = None, **details) -> dict:
    if ratio is None and reference:
        ratio = ours / reference
    return {"name": name, "figure": figure, "ours": ours, "reference": reference, "unit": unit,
            "ratio": ratio, "target": target, "ok": bool(ok), "details": details}


def parse_args(**defaults) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="JSON file for this script's rows")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test), figures not meaningful")
    for key, value in defaults.items():
        ap.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    return ap.parse_args()


def write_rows(path: str, rows: list[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(rows, indent=2))


def log(*parts) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def run(main) -> None:
    """Run a figure script's `main()`, remove our Blender user folder, then leave with os._exit:
    worker threads may still poll and bpy 4.5 can hang at a normal exit with add-on handlers
    alive (docs/blender.md §4)."""
    code = 0
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(exc.code if isinstance(exc.code, str) else f"exit {exc.code}", file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - reported, then a clean exit code
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    if _own_user_dir:
        shutil.rmtree(_own_user_dir, ignore_errors=True)
    os._exit(code)
