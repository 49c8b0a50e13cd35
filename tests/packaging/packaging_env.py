"""Paths and the imported tools/build.py for the packaging tests (shared by conftest and tests)."""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build  # noqa: E402,F401
import venvs  # noqa: E402,F401

SKIP_REASON = ("extension zips not built: the build was skipped on purpose "
               "(tools/test.py --no-build / LIPSYNC_NO_BUILD=1)")


def build_skipped() -> bool:
    return os.environ.get("LIPSYNC_NO_BUILD", "") not in ("", "0")
