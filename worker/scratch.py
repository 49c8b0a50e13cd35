"""Per-user scratch folders: the digest cache, the cut upload files, unsaved sessions' results.

Any thread, no bpy. Everything the add-on keeps outside the project lives under ONE folder of the
user running Blender, `<system temp>/vse_lipsync-<uid>/`, mode 0700 (issue #13). The system temp
folder is shared by every local user: a fixed name there (the old `vse_lipsync_hashes.json`
in it) lets another user create it first and poison the digest cache
(a planted digest makes a different file count as already lip-synced: the wrong take placed, at
no cost), or read the artist's cut media from a world-readable work folder. So the folder:
- is created 0700, and used only when `lstat` shows a real directory (not a symlink) owned by
  this user with no group/world bits: one pre-created by someone else, or left open, is refused
  and a fresh private folder (`mkdtemp`, 0700, random name) is used for this process instead;
- is in the temp folder, not `~/.cache`: the work files are large and short-lived, unsaved
  results belong to one session, and the OS cleans the temp folder; the digest cache is only a
  speed-up, so losing it at a reboot costs one more read of the footage.
On Windows (no uids, no POSIX modes) the temp folder is already per user (`%LOCALAPPDATA%\\Temp`).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import threading

log = logging.getLogger(__name__)

PREFIX = "vse_lipsync-"
_lock = threading.Lock()
_roots: dict[str, str] = {}            # system temp folder -> the checked root used in this process


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def problem(path: str) -> str | None:
    """Why `path` may not hold this user's private files, or None when it may."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "is not a plain folder"
    uid = _uid()
    if uid is None:
        return None
    if info.st_uid != uid:
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _make_private(path: str) -> str | None:
    """Create `path` 0700 if it is missing; why it cannot be used, or None."""
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)          # our own new folder: undo a umask that took the owner's bits
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot be created ({exc.strerror or exc})"
    return problem(path)


def _checked_root(base: str) -> str:
    uid = _uid()
    wanted = os.path.join(base, PREFIX + ("user" if uid is None else str(uid)))
    why = _make_private(wanted)
    if why is None:
        return wanted
    found = tempfile.mkdtemp(prefix=PREFIX, dir=base)   # 0700, a name nobody could guess
    log.warning("%s %s: using %s for this session", wanted, why, found)
    return found


def root(base: str | None = None) -> str:
    """This user's private folder under `base` (default: the system temp folder), created 0700
    and checked on first use, then remembered: comparing a path with it costs no syscall (the
    Jobs panel does, vse/folders.py). Write through `folder()`, which checks it again."""
    base = tempfile.gettempdir() if base is None else base
    with _lock:
        found = _roots.get(base)
        if found is None:
            found = _roots[base] = _checked_root(base)
        return found


def folder(*parts: str, base: str | None = None) -> str:
    """`root()/parts...`, the root checked again (a temp cleaner may have removed it, and someone
    else may then have made one of that name) and each level created 0700, refused like the
    root when it is not ours."""
    path = root(base)
    if _make_private(path) is not None:
        with _lock:
            _roots.pop(tempfile.gettempdir() if base is None else base, None)
        path = root(base)
    for part in parts:
        if not part or part in (".", "..") or os.sep in part or (os.altsep and os.altsep in part):
            raise ValueError(f"not a plain folder name: {part!r}")
        path = os.path.join(path, part)
        why = _make_private(path)
        if why is not None:
            raise OSError(f"{path} {why}")
    return path


def forget() -> None:
    """Tests: check the roots again on next use."""
    with _lock:
        _roots.clear()
