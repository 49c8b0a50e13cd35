"""Benchmarks of issue #7: `python3 tools/bench.py [--only NAME ...] [--json bench_out/bench.json]`.

Not part of the test run. Every figure is measured side by side with its reference in the same
run (these machines are noisy, so ratios, not absolute times, carry the verdict). Each figure
runs in its own fresh process of the Blender 4.5 venv (built by tools/venvs.py if missing):
tools/bench/<script>.py writes its rows as JSON, this script prints one table and writes all rows
to the JSON file.

    figure   script                       what
    tick     tools/bench/tick.py          main-thread time per modal tick, 100 jobs in flight; I/O audit
    media    tools/bench/media_prep.py    20 s of a 60 s 1080p25 clip vs ffmpeg; pass-through; audio bytes
    batch    tools/bench/batch.py         20 strips, 2 s/job, concurrency 6 vs ceil(20/6) x one job
    cli      tools/bench/cli_run.py       `python -m client run`, 10 MB clip vs plain httpx
    enable   tools/bench/enable.py        import bpy + enable vs an empty extension
    memory   tools/bench/upload_memory.py peak extra RSS of a 1 GB upload
    scale    tools/bench/scale.py         2,000-shot timeline, 1,000 jobs: estimate, submit, tick, draw, load

`--quick` shrinks every size (smoke test only: the figures then mean nothing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import venvs  # noqa: E402

ROOT = venvs.ROOT
BENCH = ROOT / "tools" / "bench"
FIGURES = {
    "tick": "tick.py",
    "media": "media_prep.py",
    "batch": "batch.py",
    "cli": "cli_run.py",
    "enable": "enable.py",
    "memory": "upload_memory.py",
    "scale": "scale.py",
}
COLUMNS = ("figure", "ours", "reference", "ratio", "target", "verdict")


def _value(value, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 1024:.0f} KiB"
    if unit == "events":
        return f"{value:.0f}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.2f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def _ratio(row: dict) -> str:
    ratio = row.get("ratio")
    if ratio is None:
        return "-"
    if row["target"].startswith("<= +"):           # a difference, not a quotient
        return f"{ratio:+.1f} {row['unit']}"
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _verdict(row: dict) -> str:
    if row["target"].startswith("("):
        return "info"
    return "met" if row["ok"] else "MISSED"


def table(rows: list[dict]) -> str:
    lines = [[r["figure"], _value(r["ours"], r["unit"]), _value(r["reference"], r["unit"]), _ratio(r),
              r["target"], _verdict(r)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(COLUMNS, *lines)]
    fmt = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    out = [fmt.format(*COLUMNS), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def run_figure(python: str, name: str, quick: bool) -> tuple[list[dict], str | None, float]:
    with tempfile.TemporaryDirectory(prefix="lipsync_bench_") as tmp:
        out = os.path.join(tmp, f"{name}.json")
        cmd = [python, str(BENCH / FIGURES[name]), "--out", out] + (["--quick"] if quick else [])
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        took = time.monotonic() - started
        sys.stderr.write(proc.stderr[-4000:] if proc.returncode else
                         "".join(ln + "\n" for ln in proc.stderr.splitlines() if ln.startswith("[bench]")))
        if proc.returncode != 0 or not os.path.exists(out):
            return [], f"{FIGURES[name]} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-600:]}", took
        return json.loads(Path(out).read_text()), None, took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help=f"run only these figures (repeatable or comma-separated): {', '.join(FIGURES)}")
    ap.add_argument("--json", default=str(ROOT / "bench_out" / "bench.json"), help="where the figures go")
    ap.add_argument("--quick", action="store_true", help="tiny sizes; for the smoke test only")
    ap.add_argument("--python", default="", help="interpreter with bpy (default: the 4.5 venv)")
    args = ap.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()] or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        ap.error(f"unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    python = args.python or str(venvs.ensure_venv(venvs.TARGETS["4.5"]))

    rows, errors, seconds = [], {}, {}
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        got, error, took = run_figure(python, name, args.quick)
        rows += got
        seconds[name] = round(took, 1)
        if error:
            errors[name] = error
    print(table(rows))
    for name, error in errors.items():
        print(f"ERROR {name}: {error}")
    report = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick, "python": python, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                          "load_avg_end": os.getloadavg()},
        "seconds": seconds, "rows": rows, "errors": errors,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"figures written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
