"""Fixtures for the packaging tests: the build (tools/build.py), the built zips, this bpy's CLI.

`zips` runs `build.main(["zips"])` (a no-op when nothing changed; tools/test.py has already run
it) unless the build was skipped on purpose (`tools/test.py --no-build` or LIPSYNC_NO_BUILD=1);
only then may a missing zip skip a test, otherwise it fails.
"""

import importlib.util
import pathlib

import pytest

from tests.packaging.packaging_env import ROOT, SKIP_REASON, build, build_skipped


@pytest.fixture(scope="session")
def bpy_scripts() -> pathlib.Path:
    """<site-packages>/bpy/<version>/scripts of the bpy running these tests (without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    assert spec is not None and spec.submodule_search_locations, "bpy is not installed in this venv"
    bpy_dir = pathlib.Path(list(spec.submodule_search_locations)[0])
    found = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    assert len(found) == 1, found
    return found[0].parents[3]


@pytest.fixture(scope="session")
def blender_ext(bpy_scripts):
    """(blender_ext.py, tags.py) shipped with this target's bpy."""
    return (bpy_scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py",
            bpy_scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py")


@pytest.fixture(scope="session")
def blender_ext_module(blender_ext):
    return build.blender_ext_module(blender_ext[0])


@pytest.fixture(scope="session")
def lock():
    return build.read_lock()


@pytest.fixture(scope="session")
def zips() -> dict:
    """{blender platform: built zip path}."""
    if not build_skipped():
        try:
            build.main(["zips"])
        except SystemExit as exc:   # BuildError carries the message
            pytest.fail(f"tools/build.py zips failed: {exc.code}")
    paths = dict(zip(build.PLATFORMS, build.expected_zips()))
    missing = [str(p.relative_to(ROOT)) for p in paths.values() if not p.is_file()]
    if missing:
        if build_skipped():
            pytest.skip(f"{SKIP_REASON}; missing {', '.join(missing)}")
        pytest.fail(f"missing {', '.join(missing)} after tools/build.py zips")
    return paths
