"""Install the linux zip into a bare Blender (no httpx/imageio-ffmpeg in its venv).

`package_install_files` into a fresh BLENDER_USER_RESOURCES, enable, import the dependencies
(they can only come from the zip's wheels), run the bundled ffmpeg through the add-on's lookup,
disable, uninstall. Each test target uses the bare venv of its own bpy (tools/venvs.py
BARE_TARGETS): 4.5 and 5.0 prove the cp311 wheels, 5.2 the cp313 ones.
"""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from tests.packaging.packaging_env import ROOT, venvs

PROBE = ROOT / "tests" / "packaging" / "install_probe.py"


def _target_name() -> str:
    name = os.environ.get("LIPSYNC_TEST_TARGET")
    if name:
        return name
    return "5.2" if sys.version_info[:2] == (3, 13) else "4.5"


@contextlib.contextmanager
def _venv_lock(name):
    venvs.VENVS.mkdir(exist_ok=True)
    with open(venvs.VENVS / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)   # two test runs must not build the same venv at once
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def bare_python():
    target = venvs.BARE_TARGETS[_target_name()]
    with _venv_lock(f"bare-{target.name}"):
        return venvs.ensure_venv(target, log=lambda msg: print(msg, flush=True))


def test_linux_zip_installs_and_runs_from_bundled_wheels(zips, bare_python, tmp_path):
    user = tmp_path / "blender_user"
    user.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LIPSYNC_FFMPEG", "IMAGEIO_"))}
    env["BLENDER_USER_RESOURCES"] = str(user)
    started = time.monotonic()
    proc = subprocess.run([str(bare_python), str(PROBE), str(zips["linux-x64"])], capture_output=True,
                          text=True, env=env, cwd=tempfile.gettempdir(), timeout=300)
    seconds = time.monotonic() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"probe failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1].removeprefix("RESULT "))
    print(f"install probe: bpy {result['bpy']} / Python {result['python']}: install "
          f"{result['install_seconds']:.2f}s, whole probe {seconds:.1f}s")

    site = result["site_packages"]
    assert site.startswith(str(user)) and f"python{result['python']}" in site
    for module, path in result["files"].items():
        assert path.startswith(site + os.sep), (module, path)
    assert result["versions"] == {"httpx": "0.28.1", "imageio_ffmpeg": "0.8.1"}
    assert result["ffmpeg"].startswith(site + os.sep) and result["ffmpeg_version"].startswith("ffmpeg version")
    assert result["client_round_trip"] is True and result["httpx_from"].startswith(site + os.sep)
    # Uninstalling removed the package and the unpacked wheels with it; Blender leaves only the
    # bytecode cache of single-module wheels (typing_extensions.py ...) behind.
    assert [name for name in result["left_in_site_packages"] if name != "__pycache__"] == []
