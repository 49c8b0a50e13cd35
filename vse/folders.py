"""Result folders: `//lipsync/` beside the saved .blend, a temp folder until the file is saved.

The temp folder is per Blender session. On save (the save_pre handler, vse/handlers.py, which
receives the target path before the file is written) every result still in it is moved into
`<blend dir>/lipsync/` and the take strips and job records are pointed at the new place with
relative paths, so the .blend that is written already refers to `//lipsync/...` (a save_post
fix-up would leave the file on disk stale).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid

import bpy

from ..client.errors import InputError
from . import compat, records

log = logging.getLogger(__name__)

FOLDER = "lipsync"
_SESSION_TEMP = os.path.join(tempfile.gettempdir(), "vse_lipsync_unsaved", uuid.uuid4().hex[:12])


def temp_root() -> str:
    return _SESSION_TEMP


def results_dir(blend_path: str | None = None) -> str:
    """Absolute folder for new results: beside the .blend when saved, else the session temp."""
    blend_path = bpy.data.filepath if blend_path is None else blend_path
    if blend_path:
        return os.path.join(os.path.dirname(os.path.abspath(blend_path)), FOLDER)
    return _SESSION_TEMP


def recorded_out_dir() -> str:
    """The results folder as a new job record stores it: `//lipsync` once the .blend is saved."""
    out_dir = results_dir()
    return blend_relative(out_dir, bpy.data.filepath) if bpy.data.filepath else out_dir


def check_results_dir(blend_path: str | None = None) -> str:
    """Create the results folder now, or raise the client's InputError saying why it cannot be."""
    path = results_dir(blend_path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f'The results folder "{path}" is a file, not a folder: rename or remove it')
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise InputError(f'Cannot create the results folder "{path}": {exc.strerror or exc}') from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f'The results folder "{path}" is not writable')
    return path


def trusted_out_dir(recorded: str) -> str:
    """The folder a job record may download its result into.

    Records come from a .blend, and a .blend may come from someone else: a tampered `out_dir`
    must not make Re-attach write files anywhere on disk. Only `//lipsync` beside the open .blend
    (what every record holds once saved) or our own temp area for unsaved files is honoured;
    anything else is replaced by the current results folder.
    """
    current = results_dir()
    path = bpy.path.abspath(recorded) if recorded else current
    if os.path.abspath(path) == os.path.abspath(current) or _in_temp(path):
        return path
    log.warning("Job record names output folder %r; using %r instead", recorded, current)
    return current


def work_dir(job_id: str) -> str:
    """Scratch folder for a job's cut upload files (never saved with the project)."""
    return os.path.join(tempfile.gettempdir(), "vse_lipsync_work", job_id)


def blend_relative(path: str, blend_path: str) -> str:
    """`//`-relative path of `path` for a .blend at `blend_path` (bpy.path.relpath needs the
    .blend to be saved already, which save_pre is not)."""
    if not blend_path:
        return path
    rel = os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(blend_path)))
    return "//" + rel.replace(os.sep, "/")


def _inside(path: str, folder: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(folder) + os.sep)


def _in_temp(path: str) -> bool:
    root = os.path.join(tempfile.gettempdir(), "vse_lipsync_unsaved")
    return os.path.abspath(path).startswith(root + os.sep)


def move_results(blend_path: str) -> int:
    """Move results from the temp folder beside `blend_path`; returns how many files moved."""
    target_dir = results_dir(blend_path)
    moved = {}
    for scene in bpy.data.scenes:
        for rna in scene.lipsync.jobs:
            if rna.out_dir and _in_temp(bpy.path.abspath(rna.out_dir)):
                rna.out_dir = blend_relative(target_dir, blend_path)
        sed = scene.sequence_editor
        if sed is None:
            continue
        for strip in compat.strips_all(sed):
            if compat.strip_type(strip) != "MOVIE" or not strip.lipsync.is_take:
                continue
            old = bpy.path.abspath(strip.filepath)
            if not _in_temp(old):
                if not strip.filepath.startswith("//") and _inside(old, os.path.dirname(os.path.abspath(blend_path))):
                    strip.filepath = blend_relative(old, blend_path)   # placed absolute, saved relative
                continue
            new = moved.get(old) or os.path.join(target_dir, os.path.basename(old))
            if old not in moved and os.path.exists(old):
                os.makedirs(target_dir, exist_ok=True)
                shutil.move(old, new)
                moved[old] = new
            strip.filepath = blend_relative(new, blend_path)
    _fix_outputs(moved, blend_path)
    return len(moved)


def _fix_outputs(moved: dict, blend_path: str) -> None:
    if not moved:
        return
    for _scene, job in records.everywhere():
        try:
            outputs = job.outputs
        except records.RecordError:
            continue   # a damaged record keeps what it has; saving the artist's file goes on
        changed = [blend_relative(moved[o], blend_path) if o in moved else o for o in outputs]
        if changed != outputs:
            job.outputs = changed
