"""The benchmark command runs end to end (tools/bench.py; the benchmarks themselves are not tests).

Every figure at its tiny `--quick` size (about 30 s in all), each in its own process against the
sandbox. It checks the plumbing (venv interpreter, figure scripts, table, JSON) and that no figure
script is broken, not the numbers: two once stopped running unnoticed (identical shots joined one
job, so the tick figure never got its jobs in flight; the CLI figure resumed a job the sandbox had
forgotten).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_only_memory_quick(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), "--only", "memory", "--quick",
                           "--python", sys.executable, "--json", str(out)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| figure" in proc.stdout and "peak extra RSS" in proc.stdout
    report = json.loads(out.read_text())
    [row] = report["rows"]
    assert row["name"] == "memory" and row["unit"] == "MB" and row["ours"] >= 0
    assert not report["errors"] and report["quick"] is True


def test_every_figure_runs_at_its_quick_size(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "bench.py"), "--quick",
                           "--python", sys.executable, "--json", str(out)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    names = {row["name"] for row in report["rows"]}
    # one row of each figure script (tools/bench.py FIGURES)
    assert {"tick_p99", "prep", "batch", "cli", "enable", "memory", "scale_edit_all", "scale_submit",
            "scale_tick_p99", "scale_draw", "scale_load_total", "scale_cancel"} <= names, sorted(names)
