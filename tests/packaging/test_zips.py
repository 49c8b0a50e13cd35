"""The per-platform extension zips: present, valid for this Blender, exactly the right wheels."""

import subprocess
import sys
import tomllib
import zipfile

import pytest

from tests.packaging.packaging_env import build

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
    assert len([w for w in wheels if w.startswith("imageio_ffmpeg-")]) == 1, wheels
    # an allow-list, not a deny-list: a new dev folder (a linter's cache, docs) must not ship unnoticed
    shipped_folders = ("client/", "worker/", "vse/", "operators/", "panels/", "wheels/")
    top_files = {"blender_manifest.toml", "README.md", "__init__.py", "preferences.py", "props.py"}
    stray = [n for n in names
             if not (n in top_files or (n.startswith(shipped_folders) and n.endswith((".py", ".whl"))))]
    assert stray == []
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "__init__.py" in names and all(any(n.startswith(f) for n in names) for f in shipped_folders)


# What Blender's own wheel filter (run when it installs or enables an extension) reports as the
# platform on each OS: `sysconfig.get_platform()` of Blender's bundled Python.
SYSCONFIG_PLATFORM = {"linux-x64": "linux-x86_64", "windows-x64": "win-amd64",
                      "macos-arm64": "macosx-11.0-arm64", "macos-x64": "macosx-10.15-x86_64"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_blender_on_that_platform_picks_one_wheel_per_package(zips, platform, monkeypatch):
    # This target's Python (3.11 for 4.5/5.0, 3.13 for 5.2) on each OS: Blender must select every
    # pure wheel plus exactly the one imageio-ffmpeg of the zip (no compiled per-Python wheels since
    # the client dropped pydantic; tools/build.py still locks them per Python if one comes back).
    import sysconfig

    import bpy  # noqa: F401  (makes the bundled bl_pkg importable)
    from bl_pkg.bl_extension_ops import _extensions_wheel_filter_for_this_system

    with zipfile.ZipFile(zips[platform]) as zf:
        wheels = tomllib.loads(zf.read("blender_manifest.toml").decode())["build"]["generated"]["wheels"]
    monkeypatch.setattr(sysconfig, "get_platform", lambda: SYSCONFIG_PLATFORM[platform])
    picked = sorted(w.rsplit("/", 1)[-1] for w in _extensions_wheel_filter_for_this_system(wheels))
    pure = sorted(w.rsplit("/", 1)[-1] for w in wheels if w.endswith("-none-any.whl"))
    ffmpeg = [w for w in picked if w.startswith("imageio_ffmpeg-")]
    assert len(ffmpeg) == 1, picked
    assert sorted(set(picked) - set(ffmpeg)) == pure
