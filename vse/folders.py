"""Result folders: `//lipsync/` beside the saved .blend, a temp folder until the file is saved.

The temp folder is per Blender session, inside this user's private scratch folder (0700,
worker/scratch.py), as are the jobs' work folders: another local user can neither read the cut
media and unsaved results nor plant files there (issue #13). On save (the save_pre handler, vse/handlers.py, which
receives the target path before the file is written) every result still in it is moved into
`<blend dir>/lipsync/` and the take strips and job records are pointed at the new place with
relative paths, so the .blend that is written already refers to `//lipsync/...` (a save_post
fix-up would leave the file on disk stale).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid

import bpy

from ..client.errors import InputError
from ..worker import scratch
from . import compat, records

log = logging.getLogger(__name__)

FOLDER = "lipsync"
UNSAVED = "unsaved"                       # under the scratch root, one folder per session: results of unsaved files
WORK = "work"                             # under the scratch root, one folder per job id: cut upload files
_SESSION = uuid.uuid4().hex[:12]


def temp_root() -> str:
    """This session's folder for the results of an unsaved file (created 0700 when first asked:
    not at import, registering does no I/O)."""
    return scratch.folder(UNSAVED, _SESSION)


def results_dir(blend_path: str | None = None) -> str:
    """Absolute folder for new results: beside the .blend when saved, else the session temp."""
    blend_path = bpy.data.filepath if blend_path is None else blend_path
    if blend_path:
        return os.path.join(os.path.dirname(os.path.abspath(blend_path)), FOLDER)
    return temp_root()


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


def is_trusted_out_dir(recorded: str) -> bool:
    """Records come from a .blend, and a .blend may come from someone else: only `//lipsync`
    beside the open .blend (what every record holds once saved), an empty folder (= that one) or
    our own temp area for unsaved files may be written to. Compares paths only (no I/O: the Jobs
    panel asks, vse/recordcheck.py)."""
    if not recorded:
        return True
    path = os.path.abspath(bpy.path.abspath(recorded))
    if _in_temp(path):
        return True
    return bool(bpy.data.filepath) and path == os.path.abspath(results_dir())


def trusted_out_dir(recorded: str) -> str:
    """The folder a job record may download its result into: the recorded one when it is
    trusted (is_trusted_out_dir), else the current results folder. A tampered `out_dir` must not
    make Re-attach write files anywhere on disk."""
    current = results_dir()
    if is_trusted_out_dir(recorded):
        return bpy.path.abspath(recorded) if recorded else current
    log.warning("Job record names output folder %r; using %r instead", recorded, current)
    return current


def work_dir(job_id: str) -> str:
    """Scratch folder for a job's cut upload files (never saved with the project), inside the
    0700 `work` folder; the worker creates it 0700 when it cuts (worker/media.py), so starting
    1,000 jobs costs no mkdir each on the main thread. `job_id` comes from a record: records are
    checked before they are used (vse/recordcheck.py), and a name that is not plain is refused."""
    if not job_id or job_id in (".", "..") or "/" in job_id or os.sep in job_id:
        raise InputError(f"not a job id: {job_id[:40]!r}")
    return os.path.join(scratch.folder(WORK), job_id)


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
    root = os.path.join(scratch.root(), UNSAVED)
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
