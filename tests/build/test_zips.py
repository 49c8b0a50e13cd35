"""The per-platform extension zips: present, valid for this Blender, exactly the right wheels."""

import subprocess
import sys
import tomllib
import zipfile

import pytest

from packaging_env import build

PLATFORMS = list(build.PLATFORMS)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_zip_validates_with_this_blenders_cli(zips, blender_ext, platform):
    cli, tags = blender_ext
    proc = subprocess.run([sys.executable, str(cli), "validate", "--valid-tags", str(tags), str(zips[platform])],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_zip_holds_only_its_platform_wheels_and_no_dev_files(zips, lock, platform):
    assert build.zip_problems(zips[platform], platform, lock) == []
    with zipfile.ZipFile(zips[platform]) as zf:
        names = zf.namelist()
        inner = tomllib.loads(zf.read("blender_manifest.toml").decode())
    wheels = sorted(n.removeprefix("wheels/") for n in names if n.endswith(".whl"))
    # blender_ext.py appends a [build.generated] table: what Blender reads for this platform.
    generated = inner["build"]["generated"]
    assert generated["platforms"] == [platform]
    assert sorted(w.removeprefix("./wheels/") for w in generated["wheels"]) == wheels
    core = [w for w in wheels if w.startswith("pydantic_core-")]
    assert sorted(w.split("-")[2] for w in core) == ["cp311", "cp313"], core
    assert len([w for w in wheels if w.startswith("imageio_ffmpeg-")]) == 1, wheels
    for top in ("tests/", "sandbox/", "tools/", ".venv/", "dist/", "build/", ".git/", ".ci/", ".pytest_cache/"):
        assert not [n for n in names if n.startswith(top)], top
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "__init__.py" in names and any(n.startswith("client/") for n in names)
