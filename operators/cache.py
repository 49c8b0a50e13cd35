"""Result cache: the same inputs as a finished job reuse its take, at no cost (peers.md §8 #4).

A job's fingerprint is a sha256 over what decides the provider's output, never file names:
- the CONTENT of the source movie and of every dialogue file (sha256 of the bytes),
- the exact range sent: first source frame, frame count, stream, scene rate (handles included),
- every dialogue part: file start, duration, offset in the upload, volume,
- provider, model, the normalized options, segments on/off and per-segment overrides.
A renamed or moved copy of a file hits; a re-encoded or edited file misses.

Hashing is WORKER work (a source movie may be GBs): `fingerprint()` runs in the job's worker
before any media is cut. File digests are cached by (path, size, mtime) in this process and in a
small JSON file beside the session's results, so a second job on the same footage (or a reopen
in the same Blender session) does not read it again. The main thread only compares strings:
`start()` hands the worker the fingerprints of the finished jobs whose result files still exist,
and the worker answers `CacheHit` instead of preparing, uploading or submitting anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import threading

_lock = threading.Lock()
_digests: dict[tuple[str, int, int], str] = {}
_loaded = False
STORE = os.path.join(tempfile.gettempdir(), "vse_lipsync_hashes.json")


@dataclasses.dataclass(frozen=True)
class Fingerprinted:
    """Worker -> main thread: the job's fingerprint (saved on the record for later hits)."""
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class CacheHit:
    """Worker -> main thread: `source_job` already produced this result; nothing was sent."""
    source_job: str
    fingerprint: str


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        with open(STORE, encoding="utf-8") as handle:
            for row in json.load(handle):
                _digests[(row[0], int(row[1]), int(row[2]))] = row[3]
    except (OSError, ValueError, TypeError, IndexError):
        pass


def _save() -> None:
    try:
        tmp = STORE + f".{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump([[*key, value] for key, value in list(_digests.items())[-2000:]], handle)
        os.replace(tmp, STORE)
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
    data = {
        "provider": provider, "model": model, "options": options, "segments": bool(use_segments),
        "overrides": {str(k): v for k, v in (overrides or {}).items()},
        "video": [file_digest(video.path), video.first_frame, video.frames, video.stream_index,
                  f"{rate.numerator}/{rate.denominator}"],
        "audio": [[file_digest(p.path), round(p.file_start, 6), round(p.duration, 6), round(p.video_offset, 6),
                   round(p.volume, 4)] for p in strip_job.audio],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def known_results(scenes) -> dict[str, str]:
    """fingerprint -> job id of finished jobs whose result files are still there. MAIN THREAD."""
    import bpy
    found = {}
    for scene in scenes:
        for rec in scene.lipsync.jobs:
            if rec.status != "COMPLETED" or not rec.fingerprint or rec.fingerprint in found:
                continue
            outputs = json.loads(rec.outputs_json or "[]")
            if outputs and all(os.path.isfile(bpy.path.abspath(o)) for o in outputs):
                found[rec.fingerprint] = rec.job_id
    return found


def reuse(scene, rec, source_rec) -> list[str]:
    """Apply a cache hit on the main thread: re-activate the source's take when it is a take of
    the same strip, else place the cached result files as new takes. Returns take names."""
    import bpy
    from . import takes

    # a piece of a split job (ranges.py) always gets its own take: re-activating an old piece
    # would mute the other pieces placed with it
    same_strip = source_rec.source_strip == rec.source_strip and not rec.group and not source_rec.group
    existing = [takes.find_take(scene, name, rec.source_strip) for name in json.loads(source_rec.takes_json or "[]")]
    existing = [t for t in existing if t is not None]
    if same_strip and existing:
        takes.select_take(scene, rec.source_strip, existing[0].name)
        return [t.name for t in existing]
    outputs = [bpy.path.abspath(o) for o in json.loads(source_rec.outputs_json or "[]")]
    return takes.place_outputs(scene, rec, outputs)
