"""The benchmark command runs end to end (tools/bench.py; the benchmarks themselves are not tests).

One cheap figure at a tiny size: the 8 MB upload-memory figure against the sandbox in its own
process. It checks the plumbing (venv interpreter, figure script, table, JSON), not the numbers.
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
