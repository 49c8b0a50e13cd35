"""How tests load the add-on from the source tree, in this process or in a fresh one.

A local extension repo whose folder holds a `vse_lipsync` symlink to the repo root, then
`addon_enable("bl_ext.<repo>.vse_lipsync")` (reference/blender.md §6). Subprocess tests (save and
reload in a fresh Blender, crash and resume) run `LOAD_ADDON` first so they see the add-on the
same way.
"""

import pathlib
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPO_MODULE = "lipsync_dev"
ADDON = f"bl_ext.{REPO_MODULE}.vse_lipsync"


def make_repo_dir():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="lipsync_repo_"))
    (folder / "vse_lipsync").symlink_to(ROOT, target_is_directory=True)
    return folder


# Python source for a fresh interpreter: `exec(LOAD_ADDON)` leaves `addon` (the module) defined.
LOAD_ADDON = f"""
import os, pathlib, sys, tempfile
if "BLENDER_USER_RESOURCES" not in os.environ:  # normally inherited from the test process
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="lipsync_bl_user_")
import bpy
_repo = pathlib.Path(tempfile.mkdtemp(prefix="lipsync_repo_"))
(_repo / "vse_lipsync").symlink_to({str(ROOT)!r}, target_is_directory=True)
bpy.context.preferences.extensions.repos.new(name={REPO_MODULE!r}, module={REPO_MODULE!r},
                                             custom_directory=str(_repo), source="USER")
assert bpy.ops.preferences.addon_enable(module={ADDON!r}) == {{"FINISHED"}}
addon = sys.modules[{ADDON!r}]
"""
