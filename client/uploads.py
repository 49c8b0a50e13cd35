"""Upload helpers: content hashes, the reuse cache and a progress-reporting file reader.

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
import threading
import time
from collections.abc import Callable
from pathlib import Path

CHUNK = 1024 * 1024
DEFAULT_TTL = 24 * 3600.0


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
