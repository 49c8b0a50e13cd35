"""Bounded decoding of HTTP bodies: content encodings that cannot blow up, and a JSON depth check.

httpx decodes gzip/deflate/zstd by handing each network chunk whole to the decompressor, so a
64 KiB chunk of a gzip bomb becomes ~64 MB at once and a zstd frame of a few KB can become
gigabytes (issue #13: a 3 MB gzip answer expanding to 3 GB took the process down). The client
therefore reads raw bytes and decodes them here, at most `OUT_CHUNK` bytes per step, so the
caller can stop at its cap with no more than one step in memory.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator

OUT_CHUNK = 64 * 1024

#: what the client announces for API answers; media are asked for as "identity"
API_ENCODINGS = "gzip, deflate"


class UndecodableBody(Exception):
    """The body is compressed in a way this client does not decode, or the stream is corrupt."""


def decoded_chunks(raw: Iterable[bytes], encoding: str | None) -> Iterator[bytes]:
    """Decoded pieces of ≤ OUT_CHUNK bytes from raw body chunks sent with Content-Encoding `encoding`."""
    codings = [c.strip().lower() for c in (encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return _slices(raw)
    if len(codings) > 1:
        raise UndecodableBody(f"the body is encoded {len(codings)} times ({', '.join(codings)})")
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _zlib(raw, zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _deflate(raw)
    if coding == "zstd":
        return _zstd(raw)
    raise UndecodableBody(f"the body is encoded as {coding!r}, which this client does not decode")


def _slices(raw: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in raw:
        for start in range(0, len(chunk), OUT_CHUNK):
            yield chunk[start:start + OUT_CHUNK]


def _zlib(raw: Iterable[bytes], wbits: int, first: bytes = b"") -> Iterator[bytes]:
    decomp = zlib.decompressobj(wbits)

    def feed(data: bytes) -> Iterator[bytes]:
        nonlocal decomp
        while data:
            try:
                out = decomp.decompress(data, OUT_CHUNK)
            except zlib.error as exc:
                raise UndecodableBody(f"corrupt compressed body ({exc})") from None
            if out:
                yield out
            if decomp.eof:
                # concatenated gzip members (RFC 1952 §2.2) each start a new stream
                data = decomp.unused_data
                if data and wbits & 16:
                    decomp = zlib.decompressobj(wbits)
                    continue
                return
            data = decomp.unconsumed_tail

    yield from feed(first)
    for chunk in raw:
        yield from feed(chunk)
    if not decomp.eof:
        raise UndecodableBody("the compressed body ended early")


def _deflate(raw: Iterable[bytes]) -> Iterator[bytes]:
    """RFC 9110 "deflate" is zlib-wrapped; some servers send raw deflate (httpx accepts both)."""
    chunks = iter(raw)
    first = b""
    for chunk in chunks:
        if chunk:
            first = chunk
            break
    looks_zlib = len(first) >= 2 and (first[0] & 0x0F) == 8 and ((first[0] << 8) | first[1]) % 31 == 0
    return _zlib(chunks, zlib.MAX_WBITS if looks_zlib else -zlib.MAX_WBITS, first)


def _zstd_module():
    try:  # bundled with Blender, and a dependency of bpy from PyPI
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    return zstandard


class _IterReader:
    """A file-like `read(n)` over an iterator of byte chunks (what zstandard's stream_reader pulls)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return b""
        if size is None or size < 0:
            size = len(self._buf)
        out, self._buf = self._buf[:size], self._buf[size:]
        return out


def _zstd(raw: Iterable[bytes]) -> Iterator[bytes]:
    zstandard = _zstd_module()
    if zstandard is None:
        raise UndecodableBody("the body is zstd-compressed and no zstd decoder is available")
    # stream_reader pulls input as it needs it and returns at most OUT_CHUNK bytes per read
    reader = zstandard.ZstdDecompressor().stream_reader(_IterReader(raw), read_across_frames=True)
    while True:
        try:
            out = reader.read(OUT_CHUNK)
        except zstandard.ZstdError as exc:
            raise UndecodableBody(f"corrupt zstd body ({exc})") from None
        if not out:
            return
        yield out


# -- JSON depth -------------------------------------------------------------------------------

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"", b"")
_DELETE = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in `data` (strings skipped); 0 for a scalar or non-JSON."""
    if data.lstrip()[:1] not in (b"{", b"["):
        return 0
    if data.count(b"[") + data.count(b"{") <= 1:
        return 1
    brackets = _STRING.sub(b"", data).translate(_BRACKETS, _DELETE)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest
