"""The Blender fixtures, shared by the conftests of tests/blender and tests/reliability.

Each conftest imports them (a conftest of one folder is not visible to a sibling folder). The
`addon` fixture shares the add-on when the other folder already enabled it in this session, so
both folders run in one pytest process; whichever enabled it disables it at session end, which
removes its handlers and timers.
"""

import importlib
import os
import sys

import bpy
import pytest

from addon_env import ADDON, REPO_MODULE, make_repo_dir


@pytest.fixture(scope="session")
def addon():
    prefs = bpy.context.preferences
    if ADDON in prefs.addons and ADDON in sys.modules:
        yield sys.modules[ADDON]      # enabled by the other folder's fixture, which disables it
        return
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


def addon_module(addon, name: str):
    """A submodule of the loaded add-on, e.g. addon_module(addon, "client.transport")."""
    return importlib.import_module(f"{addon.__name__}.{name}")
