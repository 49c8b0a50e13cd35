"""Run the whole test suite: `python3 tools/test.py [--target 4.5] [-- pytest args]`.

Builds (once) one venv per Blender target from tools/requirements, builds the extension zips the
packaging tests install, runs the linter (ruff, config in pyproject.toml), then pytest per target:
- the Blender folders (real bpy) on every target: 4.5 and 5.0 on Python 3.11, 5.2 on 3.13;
- the folders that need no bpy (client, sandbox, worker, ...) once per Python version, on the
  first selected target of that version: running them again under another bpy proves nothing.
Fails when the linter fails, when any target fails, when a target collected no tests (pytest
exit 5 must not pass silently), and when a folder under tests/ holding test files is in neither
list below (so a new folder cannot be forgotten). A folder that collects nothing fails the
pytest run itself (tests/fixtures/guard.py).
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
# test folders that need real bpy, run on every Blender target
BLENDER_FOLDERS = ("blender", "reliability", "packaging")
# test folders that need no bpy, run once per Python version
PLAIN_FOLDERS = ("structure", "client", "hostile", "sandbox", "conformance", "worker", "bench")


def _summary_line(output: str) -> str:
    """pytest's closing line ('== 12 passed, 1 skipped in 3.2s =='), for the final table."""
    for line in reversed(output.splitlines()):
        line = line.strip("= ").strip()   # with -q pytest prints it without the '=' rulers
        if re.match(r"\d+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed)\b", line) \
                or line.startswith("no tests ran"):
            return line
    return "(no pytest summary line)"


def unclassified_folders() -> list[str]:
    """Folders under tests/ that hold test_*.py files but are in neither folder list."""
    known = {ROOT / "tests" / name for name in BLENDER_FOLDERS + PLAIN_FOLDERS}
    found = {p.parent for p in (ROOT / "tests").rglob("test_*.py") if "__pycache__" not in p.parts}
    return sorted(str(f.relative_to(ROOT)) for f in found if not any(f == k or k in f.parents for k in known))


def folders_for(target: venvs.Target, plain: bool) -> list[str]:
    names = BLENDER_FOLDERS + (PLAIN_FOLDERS if plain else ())
    return [f"tests/{name}" for name in names if (ROOT / "tests" / name).is_dir()]


def run_target(target: venvs.Target, pytest_args: list[str]) -> tuple[int, str, float]:
    python = venvs.ensure_venv(target)
    env = dict(os.environ)
    env["LIPSYNC_TEST_TARGET"] = target.name
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    cmd = [str(python), "-m", "pytest", "-q", "-rfEs", *pytest_args]
    print(f"\n=== Blender {target.name} (Python {target.python}): {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    return code, _summary_line("".join(lines)), time.monotonic() - started


def lint(target: venvs.Target) -> int:
    """ruff over the whole tree (pyproject.toml says which rules); 0 when clean."""
    python = venvs.ensure_venv(target)
    print("\n=== Lint: ruff check", flush=True)
    return subprocess.run([str(python), "-m", "ruff", "check", "."], cwd=ROOT).returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", choices=sorted(venvs.TARGETS),
                        help="Blender target to test (repeatable); default: all")
    parser.add_argument("--no-build", action="store_true", help="skip building the extension zips")
    parser.add_argument("--no-lint", action="store_true", help="skip ruff")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --); default: the folders above")
    args = parser.parse_args(argv)

    stray = unclassified_folders()
    if stray:
        print(f"error: test folder(s) {', '.join(stray)} are in neither BLENDER_FOLDERS nor PLAIN_FOLDERS "
              "of tools/test.py, so they would never run", file=sys.stderr)
        return 1
    targets = venvs.selected_targets(args.target)
    if not args.no_build:
        import build  # late: tools/build.py is heavy to import and not needed with --no-build
        build.main(["zips"])
    else:
        os.environ["LIPSYNC_NO_BUILD"] = "1"   # tests/packaging skip (not fail) on missing zips

    results = []
    lint_code = 0 if args.no_lint else lint(targets[0])
    seen_pythons = set()
    for target in targets:
        plain = target.python not in seen_pythons
        seen_pythons.add(target.python)
        code, summary, seconds = run_target(target, args.pytest_args or folders_for(target, plain))
        results.append((target, code, summary, seconds))

    print("\n=== Summary")
    failed = lint_code != 0
    if not args.no_lint:
        print(f"Lint: {'ok' if lint_code == 0 else f'FAILED (ruff exit {lint_code})'}")
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
