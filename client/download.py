"""Download a result: streamed to a temp file beside the target, size-capped, renamed into place.

Output URLs are signed/public and never receive the API key (providers.md §6.12: do not rewrite
them), so they are fetched as given, after the https-or-loopback check, following at most a
few redirects that pass the same check.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import httpx

from .errors import Cancelled, DownloadError
from .testhooks import crash_point
from .transport import Http, check_url, redact_url

log = logging.getLogger(__name__)

MAX_BYTES = 4 * 1024 ** 3
MAX_REDIRECTS = 5
ATTEMPTS = 3
# a result is a video: an error page or a JSON body under a 200 must never become the output
NOT_MEDIA_TYPES = ("application/json", "text/", "application/xml", "application/problem")
ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid")
EBML_MAGIC = b"\x1a\x45\xdf\xa3"   # WebM / Matroska
_DISK_FULL = {n for n in (getattr(errno, name, None) for name in ("ENOSPC", "EDQUOT", "EFBIG")) if n}


def extension_of(url: str, default: str = ".mp4") -> str:
    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    return suffix if suffix in (".mp4", ".mov", ".webm", ".mkv", ".m4v") else default


def download(http: Http, url: str, dest: str | os.PathLike, *, max_bytes: int = MAX_BYTES,
             progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Fetch `url` into `dest` atomically; retries transient failures (a GET is always safe)."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the output folder {dest.parent}: {exc.strerror or exc}",
                            http.provider) from None
    _remove_stale_parts(dest)
    last: DownloadError | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            http.wait(http.backoff(attempt - 1))
        try:
            return _once(http, url, dest, max_bytes, progress)
        except _Transient as exc:
            last = DownloadError(str(exc), http.provider)
            log.debug("download %s failed (%s), attempt %d", redact_url(url), exc, attempt + 1)
    assert last is not None
    raise last


class _Transient(Exception):
    pass


def _remove_stale_parts(dest: Path) -> None:
    """Temp files of an earlier attempt at the same output (a crash mid-download) are garbage."""
    for stale in glob.glob(glob.escape(str(dest)) + ".*.part"):
        try:
            os.unlink(stale)
        except OSError:
            pass


def looks_like_video(head: bytes) -> bool:
    """MP4/MOV (an ISO-BMFF box at offset 0) or WebM/Matroska (EBML magic)."""
    return head[4:8] in ISO_BMFF_BOXES or head.startswith(EBML_MAGIC)


def _once(http: Http, url: str, dest: Path, max_bytes: int, progress) -> Path:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, "output URL", http.provider)
        try:
            with http.client.stream("GET", current) as response:
                if response.is_redirect:
                    current = urllib.parse.urljoin(current, response.headers.get("location", ""))
                    continue
                status = response.status_code
                if status in (401, 403, 404, 410):
                    raise DownloadError(
                        f"the output link answered HTTP {status}: it has expired or was removed "
                        "(result links are kept for a limited time)", http.provider, status=status)
                if status >= 500 or status in (408, 429):
                    raise _Transient(f"the output link answered HTTP {status}")
                if status >= 400:
                    raise DownloadError(f"the output link answered HTTP {status}", http.provider, status=status)
                return _save(http, response, dest, max_bytes, progress)
        except httpx.TransportError as exc:
            raise _Transient(f"connection problem while downloading ({type(exc).__name__})") from None
    raise DownloadError("too many redirects on the output link", http.provider)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, not from worker threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _save(http: Http, response: httpx.Response, dest: Path, max_bytes: int, progress) -> Path:
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype.startswith(NOT_MEDIA_TYPES):
        raise _Transient(f"the output link answered with {ctype or 'no content type'}, not a video")
    total = response.headers.get("content-length")
    total_n = int(total) if total and total.isdigit() else None
    if total_n is not None and total_n > max_bytes:
        raise DownloadError(f"the result is {total_n} bytes, over the {max_bytes}-byte limit", http.provider)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    received = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes(1024 * 1024):
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadError(f"the result exceeds the {max_bytes}-byte limit", http.provider)
                if len(head) < 12:
                    head += chunk[:12]
                out.write(chunk)
                if progress:
                    progress(received, total_n)
                if http.cancel is not None and http.cancel.is_set():
                    raise Cancelled("cancelled by the user", http.provider)
                crash_point("downloading")
            out.flush()
            os.fsync(out.fileno())
        if total_n is not None and received != total_n:
            raise _Transient(f"the download was cut short ({received} of {total_n} bytes)")
        if received == 0:
            raise _Transient("the output file was empty")
        if not looks_like_video(head):
            raise _Transient("the output link did not answer with a video file")
        # mkstemp creates the file 0600; a take on shared storage must be readable like any other
        # file the artist writes, so apply the process umask as a plain open() would have.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, dest)
        return dest
    except OSError as exc:
        _unlink(tmp)
        if exc.errno in _DISK_FULL:
            raise DownloadError(f"the disk is full: the result could not be saved to {dest.parent} "
                                "(free some space, then Re-attach to download it again without paying twice)",
                                http.provider) from None
        raise DownloadError(f"the result could not be saved to {dest}: {exc.strerror or exc}",
                            http.provider) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
