"""Fixtures of the reliability suite (issue #6): the add-on in real bpy, sandbox faults, helpers.

The Blender fixtures are the ones of tests/blender/conftest.py, re-declared here (a conftest of
another folder is not visible to this one). `addon` shares the add-on when tests/blender already
enabled it in this session, so the two folders can run in one pytest process.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

_BLENDER_TESTS = str(pathlib.Path(__file__).resolve().parents[1] / "blender")
if _BLENDER_TESTS not in sys.path:
    sys.path.insert(0, _BLENDER_TESTS)

import bpy  # noqa: E402

from addon_env import ADDON, REPO_MODULE, make_repo_dir  # noqa: E402


@pytest.fixture(scope="session")
def addon():
    prefs = bpy.context.preferences
    if ADDON in prefs.addons and ADDON in sys.modules:
        yield sys.modules[ADDON]      # enabled by tests/blender's fixture, which also disables it
        return
    repo = prefs.extensions.repos.new(name=REPO_MODULE, module=REPO_MODULE,
                                      custom_directory=str(make_repo_dir()), source="USER")
    assert bpy.ops.preferences.addon_enable(module=ADDON) == {"FINISHED"}
    yield sys.modules[ADDON]
    bpy.ops.preferences.addon_disable(module=ADDON)   # drops handlers: 4.5 hangs at exit otherwise
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
    import importlib
    return importlib.import_module(f"{addon.__name__}.{name}")
