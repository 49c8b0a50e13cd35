"""Upload helpers: the media check, content hashes, the reuse cache and a progress-reporting reader.

`check_local_media` refuses a file that cannot be what it claims (unreadable, empty, truncated,
not media) before anything is uploaded or paid for (issue #13: a zero-byte or text file given
as the video was uploaded and submitted). It reads headers and box/chunk sizes, never the whole
file.

The cache maps (provider, host, key fingerprint, sha256) to the provider's ref for that content
(URL, asset id, media UUID), so retrying a job or lip-syncing the same take twice never
uploads the same bytes again. Entries expire well before the providers drop their files
(WaveSpeed keeps uploads 7 days, EvoLink 72 h: docs/providers.md §3.5, §4.5).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .errors import InputError, contains_secret
from .media_info import duration

CHUNK = 1024 * 1024
DEFAULT_TTL = 24 * 3600.0


MAX_REF_CHARS = 4096


def ref_problem(ref) -> str | None:
    """Why an upload answer's ref (URL, asset or media id) cannot be sent in a submit, or None."""
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_CHARS:
        return "no usable reference"
    if any(c.isspace() or ord(c) < 32 for c in ref):
        return "a reference with spaces or control characters"
    if contains_secret(ref):
        return "a reference that contains the API key"
    return None


VIDEO_FORMATS = "MP4, MOV, WebM, MKV or AVI"
AUDIO_FORMATS = "WAV, MP3, OGG, FLAC or M4A/MP4"
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid")
_EBML = b"\x1a\x45\xdf\xa3"


def check_local_media(path: str, kind: str, name: str, provider: str | None = None) -> None:
    """InputError unless `path` is a readable, non-empty, whole file of `kind` ("video"/"audio")."""
    label = f"the {name} file {os.path.basename(path)}"
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            problem = _media_problem(f, head, size, kind)
    except FileNotFoundError:
        raise InputError(f"{name} file not found: {path}", provider) from None
    except IsADirectoryError:
        raise InputError(f"{label} is a folder, not a file", provider) from None
    except OSError as exc:
        raise InputError(f"{label} cannot be read: {exc.strerror or exc}", provider) from None
    if problem:
        raise InputError(f"{label} {problem}; nothing was uploaded", provider)


def _media_problem(f, head: bytes, size: int, kind: str) -> str | None:
    if size == 0:
        return "is empty"
    formats = VIDEO_FORMATS if kind == "video" else AUDIO_FORMATS
    if head[4:8] in _ISO_BOXES:
        return _iso_problem(f, size)
    if head.startswith(_EBML):
        return None if size > 64 else "is truncated"
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"WAVE"):
        if (head[8:12] == b"WAVE") != (kind == "audio"):
            return f"is not a {kind} file ({formats} expected)"
        return _wav_problem(path_duration(f)) if head[8:12] == b"WAVE" else None
    if kind == "audio":
        if head[:4] in (b"OggS", b"fLaC"):
            return None
        if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
            return None if path_duration(f) else "is not a readable MP3 file"
    return f"is not a {kind} file ({formats} expected)"


def path_duration(f) -> float | None:
    return duration(f.name)


def _wav_problem(seconds: float | None) -> str | None:
    return None if seconds and seconds > 0 else "holds no audio samples (truncated or empty WAV)"


def _iso_problem(f, size: int) -> str | None:
    """ISO-BMFF (MP4/MOV/M4A): top-level boxes must fit in the file and include a `moov` with a duration
    (a few stray bytes after the last box are tolerated: some writers pad)."""
    pos, seen_moov = 0, False
    while pos + 8 <= size:
        f.seek(pos)
        box_size, box = struct.unpack(">I4s", f.read(8))
        header = 8
        if box_size == 1:
            raw = f.read(8)
            if len(raw) < 8:
                return "is truncated"
            box_size, header = struct.unpack(">Q", raw)[0], 16
        elif box_size == 0:
            box_size = size - pos  # the last box runs to the end of the file
        if box_size < header:
            return "is damaged (a box of impossible size)"
        if pos + box_size > size:
            return f"is truncated ({size} bytes, the {box.decode('latin-1')!r} box needs {pos + box_size})"
        seen_moov = seen_moov or box == b"moov"
        pos += box_size
    if not seen_moov:
        return "has no movie header (moov box): it is truncated or still being written"
    seconds = path_duration(f)
    return None if seconds and seconds > 0 else "has no duration in its movie header"


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def key_fingerprint(api_key: str) -> str:
    """Uploads belong to an account; a short one-way fingerprint keeps accounts apart."""
    return hashlib.sha256(("vse-lipsync:" + api_key).encode()).hexdigest()[:12]


class UploadCache:
    """Thread-safe; persisted as JSON when `path` is given (e.g. a Blender user cache file)."""

    def __init__(self, path: str | os.PathLike | None = None, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path else None
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = {}
        if self.path and self.path.exists():
            try:
                self._entries = json.loads(self.path.read_text("utf-8"))
            except (OSError, ValueError):
                self._entries = {}

    @staticmethod
    def _key(provider: str, host: str, fingerprint: str, sha256: str) -> str:
        return f"{provider}|{host}|{fingerprint}|{sha256}"

    def get(self, provider: str, host: str, fingerprint: str, sha256: str) -> str | None:
        with self._lock:
            entry = self._entries.get(self._key(provider, host, fingerprint, sha256))
            if entry and self.clock() - entry["at"] < self.ttl:
                return entry["ref"]
        return None

    def put(self, provider: str, host: str, fingerprint: str, sha256: str, ref: str) -> None:
        with self._lock:
            self._entries[self._key(provider, host, fingerprint, sha256)] = {"ref": ref, "at": self.clock()}
            if self.path:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self._entries), "utf-8")
                os.replace(tmp, self.path)

    def forget(self, provider: str, host: str, fingerprint: str, sha256: str) -> None:
        with self._lock:
            self._entries.pop(self._key(provider, host, fingerprint, sha256), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: the process-wide cache used when the caller passes none
DEFAULT_CACHE = UploadCache()


class ProgressReader(io.RawIOBase):
    """A read-only file that reports bytes read; httpx streams it without loading it whole."""

    def __init__(self, path: str | os.PathLike, progress: Callable[[int, int], None]) -> None:
        super().__init__()
        self._f = open(path, "rb")
        self.total = os.fstat(self._f.fileno()).st_size
        self.sent = 0
        self._progress = progress
        self.name = os.path.basename(path)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._f.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        pos = self._f.seek(offset, whence)
        self.sent = pos
        return pos

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        if data:
            self.sent += len(data)
            self._progress(self.sent, self.total)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self):
        while True:
            block = self.read(64 * 1024)
            if not block:
                return
            yield block

    def close(self) -> None:
        self._f.close()
        super().close()
