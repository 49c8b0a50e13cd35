"""Shared fixtures for every test folder.

BLENDER_USER_RESOURCES must point at a scratch folder before anything imports bpy: bpy writes
its user config and extension folders there on import (docs/blender.md §1).
"""

import atexit
import os
import shutil
import sys
import tempfile

if "BLENDER_USER_RESOURCES" not in os.environ:
    # Enabling the add-on unpacks its wheels here (~180 MB); subprocess tests inherit the folder,
    # so it is unpacked once per run, and removed at exit so runs don't fill /tmp.
    _user_resources = tempfile.mkdtemp(prefix="lipsync_bl_user_")
    os.environ["BLENDER_USER_RESOURCES"] = _user_resources
    atexit.register(shutil.rmtree, _user_resources, ignore_errors=True)

# Fixtures live in plugins (tests/fixtures/), so every folder sees the same ones.
pytest_plugins = ("tests.fixtures.sandbox", "tests.fixtures.addon", "tests.fixtures.guard")

import pytest  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    session.config.lipsync_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave a process that imported bpy with os._exit, after pytest has reported everything.

    bpy 4.5 can hang forever in its own C++ static destructors at exit once Blender's worker
    threads exist (seen after renders and movie decoding: the main thread waits in
    GlobalState::~GlobalState -> pthread_cond_destroy with ~30 idle `thread_worker` threads).
    docs/blender.md §4: os._exit was measured clean on every version. Our own add-on state
    is already torn down by then (the `addon` fixture disables it; a test checks no timer stays).
    """
    if "bpy" not in sys.modules or not hasattr(config, "lipsync_exitstatus"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if "_user_resources" in globals():
        shutil.rmtree(_user_resources, ignore_errors=True)
    os._exit(config.lipsync_exitstatus)
