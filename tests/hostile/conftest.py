"""Hostile-server tests (issue #13): the client against a misbehaving gateway in front of the sandbox.

bpy-free: only the client, the sandbox and tests/hostile/proxy.py. The figures the issue asks for
(paid POSTs per fault, deadline overshoot, cancel latency, peak RSS under bombs, keys found) are
recorded by the tests into `FIGURES` and printed at the end of the run.
"""

from __future__ import annotations

import pytest

from client.uploads import DEFAULT_CACHE
from tests.hostile.kit import FIGURES, LEAK_KEY
from tests.hostile.proxy import HostileProxy
from tests.media_fixtures import make_test_video, make_tone_wav


@pytest.fixture(scope="session")
def hostile_sandbox():
    """A sandbox of its own, whose key is distinctive enough to search for in every output."""
    from sandbox import Sandbox

    sb = Sandbox(port=0, queue_seconds=0.0, processing_seconds=0.05, keys=(LEAK_KEY,))
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def hostile_proxy(hostile_sandbox):
    proxy = HostileProxy(hostile_sandbox.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def hostile(hostile_sandbox, hostile_proxy):
    """The proxy with no rules and an empty log, in front of a reset sandbox."""
    hostile_sandbox.reset()
    hostile_sandbox.configure(processing_seconds=0.05)
    hostile_proxy.reset()
    hostile_proxy.sandbox = hostile_sandbox
    yield hostile_proxy
    hostile_proxy.reset()
    hostile_sandbox.wait_idle(5.0)


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_media")
    return {"video": make_test_video(root / "face.mp4", 1.0), "audio": make_tone_wav(root / "line.wav", 0.8)}


@pytest.fixture(autouse=True)
def _fresh_upload_cache():
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("hostile-server figures (issue #13)")
    for name in sorted(FIGURES):
        tr.write_line(f"{name}: {FIGURES[name][1]}")
