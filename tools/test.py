"""Run the whole test suite on every Blender target: `python3 tools/test.py [--target 4.5] [-- pytest args]`.

Builds (once) one venv per target from tools/requirements, builds the extension zips the
packaging tests install, then runs pytest in each venv. Fails when any target fails, and when a
target collected no tests (pytest exit 5 must not pass silently).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import venvs  # noqa: E402

ROOT = venvs.ROOT


def _summary_line(output: str) -> str:
    """pytest's closing line ('== 12 passed, 1 skipped in 3.2s =='), for the final table."""
    for line in reversed(output.splitlines()):
        line = line.strip("= ").strip()   # with -q pytest prints it without the '=' rulers
        if re.match(r"\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b", line) \
                or line.startswith("no tests ran"):
            return line
    return "(no pytest summary line)"


def run_target(target: venvs.Target, pytest_args: list[str]) -> tuple[int, str, float]:
    python = venvs.ensure_venv(target)
    env = dict(os.environ)
    env["LIPSYNC_TEST_TARGET"] = target.name
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    cmd = [str(python), "-m", "pytest", "-q", "-rfEs", *(pytest_args or ["tests"])]
    print(f"\n=== Blender {target.name} (Python {target.python}): {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    return code, _summary_line("".join(lines)), time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", choices=sorted(venvs.TARGETS),
                        help="Blender target to test (repeatable); default: all")
    parser.add_argument("--no-build", action="store_true", help="skip building the extension zips")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --), default: tests")
    args = parser.parse_args(argv)

    targets = venvs.selected_targets(args.target)
    if not args.no_build:
        import build
        build.main(["zips"])
    else:
        os.environ["LIPSYNC_NO_BUILD"] = "1"   # tests/build skip (not fail) on missing zips

    results = []
    for target in targets:
        code, summary, seconds = run_target(target, args.pytest_args)
        results.append((target, code, summary, seconds))

    print("\n=== Summary")
    failed = False
    for target, code, summary, seconds in results:
        verdict = "ok" if code == 0 else ("NO TESTS RAN" if code == 5 else f"FAILED (exit {code})")
        failed |= code != 0
        print(f"Blender {target.name}: {summary} [{seconds:.0f}s] {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except venvs.MissingInterpreter as exc:
        print(exc.code, file=sys.stderr)
        sys.exit(2)
