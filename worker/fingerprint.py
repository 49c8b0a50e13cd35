"""Content fingerprints: the cache key of a job, and the file digests it is made of.

A job's fingerprint is a sha256 over what decides the provider's output, never file names:
- the CONTENT of the source movie and of every dialogue file (sha256 of the bytes),
- the exact range sent: first source frame, frame count, stream, scene rate (handles included),
- every dialogue part: file start, duration, offset in the upload, volume,
- provider, model, the normalized options, segments on/off and per-segment overrides.
A renamed or moved copy of a file hits; a re-encoded or edited file misses.

Hashing is WORKER work (a source movie may be GBs): `fingerprint()` runs in the job's worker
before any media is cut. File digests are cached by (path, size, mtime) in this process and in a
small JSON file in this user's private folder (worker/scratch.py: a shared file in the system temp
folder could be written by another local user, issue #13), so a second job on the same footage
(or a reopen in the same Blender session) does not read it again. The main thread only stats
files (`known_digest`, `fingerprint_if_hashed`) and compares strings (vse/reuse.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from . import scratch

_lock = threading.Lock()
_digests: dict[tuple[str, int, int], str] = {}
_loaded = False
STORE_NAME = "hashes.json"


def store_path() -> str:
    """The digest store: in this user's 0700 folder, checked each time (not at import)."""
    return os.path.join(scratch.folder(), STORE_NAME)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        with open(store_path(), encoding="utf-8") as handle:
            for row in json.load(handle):
                if isinstance(row[0], str) and isinstance(row[3], str) and len(row[3]) == 64:
                    _digests[(row[0], int(row[1]), int(row[2]))] = row[3]
    except (OSError, ValueError, TypeError, IndexError):
        pass


def _save() -> None:
    try:
        store = store_path()
        tmp = store + f".{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump([[*key, value] for key, value in list(_digests.items())[-2000:]], handle)
        os.replace(tmp, store)
    except OSError:
        pass


def file_digest(path: str) -> str:
    """sha256 of the file's bytes, cached by (path, size, mtime). WORKER THREAD."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        _load()
        known = _digests.get(key)
    if known:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _digests[key] = value
        _save()
    return value


def known_digest(path: str) -> str | None:
    """The cached digest of `path` if its (size, mtime) is unchanged, else None. A stat, never a
    read of the media: safe on the main thread (the first call of a session also loads the small
    digest store, at most 2000 rows)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    with _lock:
        _load()
        return _digests.get((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))


def fingerprint_if_hashed(strip_job, **kw) -> str | None:
    """`fingerprint()` when every file of the job was hashed before (MAIN THREAD safe: only
    stats), else None. The estimate uses it to show cache hits as free before submitting."""
    paths = [strip_job.video.path] + [p.path for p in strip_job.audio]
    if any(known_digest(p) is None for p in paths):
        return None
    return fingerprint(strip_job, **kw)


def fingerprint(strip_job, *, provider: str, model: str, options: dict, use_segments: bool,
                overrides: dict) -> str:
    """The cache key of a job (see module doc). WORKER THREAD: reads the media files."""
    video = strip_job.video
    rate = strip_job.scene_rate
    # with the playback rate the same first frame and count can upload other frames (worker/framemap.py)
    shown = None if video.one_to_one else hashlib.sha256(repr(video.source_frames()).encode()).hexdigest()
    data = {
        "provider": provider, "model": model, "options": options, "segments": bool(use_segments),
        "overrides": {str(k): v for k, v in (overrides or {}).items()},
        "video": [file_digest(video.path), video.first_frame, video.frames, video.stream_index,
                  f"{rate.numerator}/{rate.denominator}"] + ([shown] if shown else []),
        "audio": [[file_digest(p.path), round(p.file_start, 6), round(p.duration, 6), round(p.video_offset, 6),
                   round(p.volume, 4)] + ([[[round(t, 6), round(g, 4)] for t, g in p.gain]] if p.gain else [])
                  for p in strip_job.audio],
    }
    if strip_job.text:   # spoken lines (issue 17): the words, the voice and its settings decide the output
        data["text"] = [[t.text, t.voice, round(t.video_offset, 6), round(t.duration, 6), t.stability,
                         t.similarity_boost] for t in strip_job.text]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
