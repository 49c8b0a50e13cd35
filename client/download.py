"""Download a result: streamed to a temp file beside the target, size-capped, renamed into place.

Output URLs are signed/public and never receive the API key (providers.md §6.12: do not rewrite
them), so they are fetched as given, after the https-or-loopback check, following at most a
few redirects that pass the same check.

Media are asked for with `Accept-Encoding: identity`. A server that compresses anyway is decoded
here within the cap, which counts decoded bytes (what lands on disk), while Content-Length is
checked against the bytes on the wire (issue #13: a gzip-encoded result always failed as "cut
short" and 200 KB on the wire could become 200 MB on disk). The transfer has a deadline that
grows with the bytes received (Limits.min_rate), so a server trickling a byte a second is cut off,
and a cancel aborts the transfer at once (the transport's watchdog).

The temp file carries a tag of the job (`tag`), so a crash leftover of the same job is removed and
another job's download in the same folder is never touched.
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

from .decoding import UndecodableBody
from .errors import DownloadError
from .testhooks import crash_point
from .transport import Exchange, Http, Interrupted, NotConnected, check_url, redact_url

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
             progress: Callable[[int, int | None], None] | None = None, tag: str = "") -> Path:
    """Fetch `url` into exactly `dest`, atomically; retries transient failures (a GET is always safe).

    Nothing but `dest` and this job's own temp file (named with `tag`) is written or removed."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the output folder {dest.parent}: {exc.strerror or exc}",
                            http.provider) from None
    _remove_stale_parts(dest, tag)
    last: DownloadError | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            http.wait(http.backoff(attempt - 1))
        try:
            return _once(http, url, dest, max_bytes, progress, tag)
        except _Transient as exc:
            last = DownloadError(str(exc), http.provider)
            log.debug("download %s failed (%s), attempt %d", redact_url(url), exc, attempt + 1)
    assert last is not None
    raise last


class _Transient(Exception):
    pass


def _part_prefix(dest: Path, tag: str) -> str:
    return f"{dest.name}.{tag}." if tag else f"{dest.name}."


def _remove_stale_parts(dest: Path, tag: str) -> None:
    """This job's temp files of an earlier attempt (a crash mid-download) are garbage; without a
    tag nothing is removed, since the parts could be another job's download in progress."""
    if not tag:
        return
    for stale in glob.glob(glob.escape(str(dest.parent / _part_prefix(dest, tag))) + "*.part"):
        try:
            os.unlink(stale)
        except OSError:
            pass


def looks_like_video(head: bytes) -> bool:
    """MP4/MOV (an ISO-BMFF box at offset 0) or WebM/Matroska (EBML magic)."""
    return head[4:8] in ISO_BMFF_BOXES or head.startswith(EBML_MAGIC)


def _once(http: Http, url: str, dest: Path, max_bytes: int, progress, tag: str) -> Path:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, "output URL", http.provider)
        try:
            with http.open("GET", current, seconds=http.budget(),
                           headers={"Accept-Encoding": "identity"}) as ex:
                response = ex.response
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
                return _save(http, ex, dest, max_bytes, progress, tag)
        except (NotConnected, Interrupted) as exc:
            raise _Transient(f"connection problem while downloading ({exc})") from None
    raise DownloadError("too many redirects on the output link", http.provider)


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, not from worker threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _save(http: Http, ex: Exchange, dest: Path, max_bytes: int, progress, tag: str) -> Path:
    response = ex.response
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype.startswith(NOT_MEDIA_TYPES):
        raise _Transient(f"the output link answered with {ctype or 'no content type'}, not a video")
    encoding = (response.headers.get("content-encoding") or "identity").strip().lower()
    length = response.headers.get("content-length", "").strip()
    wire_total = int(length) if length.isdigit() else None
    if wire_total is not None and wire_total > max_bytes:
        raise DownloadError(f"the result is {wire_total} bytes, over the {max_bytes}-byte limit", http.provider)
    # progress is in bytes of the result: known ahead only when the wire carries it as is
    total_n = wire_total if encoding == "identity" else None
    limits = http.limits
    fd, tmp = tempfile.mkstemp(prefix=_part_prefix(dest, tag), suffix=".part", dir=dest.parent)
    received = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in ex.chunks():
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(f"the result exceeds the {max_bytes}-byte limit", http.provider)
                    if len(head) < 12:
                        head += chunk[:12]
                    out.write(chunk)
                    # the transfer earns time as bytes arrive: only a crawl is cut off
                    ex.watch.extend(limits.request_seconds + ex.raw_bytes / limits.min_rate)
                    if progress:
                        progress(received, total_n)
                    crash_point("downloading")
            except UndecodableBody as exc:
                raise _Transient(f"the result could not be decoded ({exc})") from None
            out.flush()
            os.fsync(out.fileno())
        if wire_total is not None and ex.raw_bytes != wire_total:
            raise _Transient(f"the download was cut short ({ex.raw_bytes} of {wire_total} bytes)")
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
