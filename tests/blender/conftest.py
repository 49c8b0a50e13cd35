"""Load the add-on into real bpy as an extension from the source tree.

Recipe from reference/blender.md §6 and "Recommended test strategy": a local extension repo
whose folder holds a `vse_lipsync` symlink to the repo root, then `addon_enable`. Tests reset
data with `read_homefile(use_empty=True)` (read_factory_settings would drop the repo and
disable the add-on) and the add-on is disabled at session end, which removes timers and modal
handlers (4.5 hangs at exit otherwise).
"""

import os
import sys

import bpy
import pytest

from addon_env import ADDON, REPO_MODULE, make_repo_dir


@pytest.fixture(scope="session")
def addon():
    prefs = bpy.context.preferences
    repo = prefs.extensions.repos.new(name=REPO_MODULE, module=REPO_MODULE,
                                      custom_directory=str(make_repo_dir()), source="USER")
    assert bpy.ops.preferences.addon_enable(module=ADDON) == {"FINISHED"}
    yield sys.modules[ADDON]
    bpy.ops.preferences.addon_disable(module=ADDON)
    prefs.extensions.repos.remove(repo)


@pytest.fixture
def addon_prefs(addon):
    prefs = bpy.context.preferences.addons[ADDON].preferences
    saved = {k: getattr(prefs, k) for k in prefs.bl_rna.properties.keys() if k != "rna_type"}
    yield prefs
    for key, value in saved.items():
        try:
            setattr(prefs, key, value)
        except (AttributeError, TypeError):
            pass


@pytest.fixture
def online():
    """Online access on (bpy from PyPI starts with it off), restored afterwards."""
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = True
    yield
    system.use_online_access = before


@pytest.fixture
def scene(addon):
    bpy.ops.wm.read_homefile(use_empty=True)
    return bpy.context.scene


@pytest.fixture
def clean_env(monkeypatch):
    """No provider keys or base URLs inherited from the developer's shell."""
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name == "FAL_KEY" or name.startswith("LIPSYNC_"):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch
