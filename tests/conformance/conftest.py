"""Conformance fixtures: the official SDKs (dev-only, tools/requirements/sdk.txt) against the sandbox.

Nothing here may leave this computer: every SDK has real hosts baked in (fal's backup domains,
Runware's schema registry), so a guard wraps socket connect and name resolution for the whole
folder. A non-loopback attempt is refused at once (the SDK sees a connection error) and recorded,
and the test that made it fails at teardown.
"""

from __future__ import annotations

import ipaddress
import os
import socket

import pytest

from tests.media_fixtures import make_test_video, make_tone_wav

# The SDKs are installed in the 4.5 (Python 3.11) and 5.2 (Python 3.13) venvs only
# (tools/requirements/sdk.txt); the 5.0 venv runs the Blender folders. Anywhere else a missing SDK
# is an import error, not a skip.
if os.environ.get("LIPSYNC_TEST_TARGET") == "5.0":
    collect_ignore_glob = ["test_*.py"]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
ATTEMPTS: list[str] = []


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or str(host).lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded_connect(original):
    def connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            ATTEMPTS.append(f"connect {address[0]}:{address[1]}")
            raise ConnectionRefusedError(f"conformance tests stay on loopback: refused {address[0]}")
        return original(self, address, *args)
    return connect


def _guarded_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            ATTEMPTS.append(f"resolve {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"conformance tests stay on loopback: refused {host}")
        return original(host, *args, **kwargs)
    return getaddrinfo


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """Installed for the whole folder; the per-test check below turns attempts into failures."""
    patches = [(socket.socket, "connect", _guarded_connect(socket.socket.connect)),
               (socket.socket, "connect_ex", _guarded_connect(socket.socket.connect_ex)),
               (socket, "getaddrinfo", _guarded_getaddrinfo(socket.getaddrinfo))]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, fn in patches:
        setattr(obj, name, fn)
    yield
    for obj, name, fn in saved:
        setattr(obj, name, fn)


@pytest.fixture(autouse=True)
def no_connection_left_loopback(loopback_only):
    ATTEMPTS.clear()
    yield
    assert not ATTEMPTS, f"a connection tried to leave loopback: {ATTEMPTS}"


@pytest.fixture
def loopback_attempts():
    """The guard's record, for the test that checks the guard itself."""
    return ATTEMPTS


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance_media")
    return {"video": str(make_test_video(root / "face.mp4", 1.0)),
            "audio": str(make_tone_wav(root / "line.wav", 0.8))}


@pytest.fixture(autouse=True)
def _fast_jobs(request):
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").configure(processing_seconds=0.05)
