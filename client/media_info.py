"""Media facts from file headers without ffmpeg: durations (MP4/MOV `mvhd`, WAV, MP3, rough) for
estimates and validation, and the first video track of an MP4/MOV for the upload pass-through check.

Only headers and small tables are read (a few KB), never the whole file. Unknown formats give None.
"""

from __future__ import annotations

import os
import struct
from fractions import Fraction
from typing import BinaryIO


def duration(path: str | os.PathLike) -> float | None:
    """Seconds of media in `path`, or None when the format is unknown or the header is broken."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            f.seek(0)
            if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                return _wav_duration(f)
            if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return _mp4_duration(f)
            if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
                return _mp3_duration(f)
    except (OSError, struct.error, ValueError, ZeroDivisionError):
        return None
    return None


def mp4_boxes(f: BinaryIO, start: int, stop: int):
    """Yield (kind, payload_start, box_end) for the ISO-BMFF boxes in [start, stop) of `f`.

    `mp4_video_info` below walks deeper into `moov` than the duration needs.
    """
    pos = start
    while pos + 8 <= stop:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", f.read(8))[0]
            header = 16
        elif size == 0:
            size = stop - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, stop)
        pos += size


def _mp4_duration(f: BinaryIO) -> float | None:
    end = os.fstat(f.fileno()).st_size
    for kind, body, box_end in mp4_boxes(f, 0, end):
        if kind == b"moov":
            for inner, inner_body, _ in mp4_boxes(f, body, box_end):
                if inner == b"mvhd":
                    return _mvhd(f, inner_body)
            return None
    return None


def _mvhd(f: BinaryIO, body: int) -> float | None:
    f.seek(body)
    version = f.read(4)[0]
    if version == 1:
        f.read(16)
        timescale, dur = struct.unpack(">IQ", f.read(12))
    else:
        f.read(8)
        timescale, dur = struct.unpack(">II", f.read(8))
    return dur / timescale if timescale else None


def _wav_duration(f: BinaryIO) -> float | None:
    size = os.fstat(f.fileno()).st_size
    f.seek(12)
    byte_rate = None
    while True:
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        cid, clen = struct.unpack("<4sI", hdr)
        if cid == b"fmt ":
            fmt = f.read(clen)
            byte_rate = struct.unpack("<I", fmt[8:12])[0]
            if clen % 2:
                f.read(1)
        elif cid == b"data":
            if not byte_rate:
                return None
            # streaming writers leave 0 / 0xFFFFFFFF: fall back to the bytes actually present
            available = size - f.tell()
            if clen == 0 or clen > available:
                clen = available
            return clen / byte_rate
        else:
            f.seek(clen + (clen % 2), 1)


_MP3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def _mp3_duration(f: BinaryIO) -> float | None:
    """Rough: first frame's bitrate applied to the whole file (exact for CBR, close for VBR)."""
    size = os.fstat(f.fileno()).st_size
    start = 0
    head = f.read(10)
    if head[:3] == b"ID3":
        tag = head[6:10]
        start = 10 + ((tag[0] << 21) | (tag[1] << 14) | (tag[2] << 7) | tag[3])
    f.seek(start)
    buf = f.read(4096)
    for i in range(len(buf) - 3):
        if buf[i] == 0xFF and buf[i + 1] & 0xE0 == 0xE0:
            index = buf[i + 2] >> 4
            if 0 < index < len(_MP3_BITRATES):
                kbps = _MP3_BITRATES[index]
                return (size - start - i) * 8 / (kbps * 1000)
    return None


# --- the first video track of an MP4/MOV (the upload pass-through check, worker/media.py) ---

def _child(f, start, stop, *path):
    for kind, body, end in mp4_boxes(f, start, stop):
        if kind == path[0]:
            return (body, end) if len(path) == 1 else _child(f, body, end, *path[1:])
    return None


def mp4_video_info(path: str) -> dict | None:
    """First video track of an MP4/MOV: codec, profile, size, rate, frames, cfr, rotation.

    Reads only box headers and a few small tables (milliseconds even for large files, since
    ``mdat`` is skipped with a seek). None when the file is not ISO-BMFF or has no video track.
    """
    try:
        with open(path, "rb") as f:
            end = os.fstat(f.fileno()).st_size
            moov = _child(f, 0, end, b"moov")
            if moov is None:
                return None
            for kind, body, stop in mp4_boxes(f, *moov):
                if kind != b"trak":
                    continue
                hdlr = _child(f, body, stop, b"mdia", b"hdlr")
                f.seek(hdlr[0] + 8)
                if f.read(4) != b"vide":
                    continue
                return _track_info(f, body, stop)
    except (OSError, struct.error, TypeError, ValueError, ZeroDivisionError):
        return None
    return None


def _track_info(f, body, stop) -> dict:
    info = {}
    tkhd = _child(f, body, stop, b"tkhd")
    f.seek(tkhd[0])
    version = f.read(1)[0]
    f.seek(tkhd[0] + (40 if version == 0 else 52))
    a, b, _u, c, d = struct.unpack(">iiiii", f.read(20))
    info["rotated"] = (a, b, c, d) != (0x10000, 0, 0, 0x10000)
    edits = _child(f, body, stop, b"edts", b"elst")
    info["delayed"] = False
    if edits:
        f.seek(edits[0])
        version = f.read(4)[0]
        count = struct.unpack(">I", f.read(4))[0]
        for _ in range(count):
            fmt = ">Qq" if version == 1 else ">Ii"
            _dur, media_time = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
            f.read(4)
            if media_time == -1 or count > 1:
                info["delayed"] = True
    mdhd = _child(f, body, stop, b"mdia", b"mdhd")
    f.seek(mdhd[0])
    version = f.read(4)[0]
    f.seek(mdhd[0] + (12 if version == 0 else 20))
    timescale = struct.unpack(">I", f.read(4))[0]
    stbl = _child(f, body, stop, b"mdia", b"minf", b"stbl")
    stts = _child(f, *stbl, b"stts")
    f.seek(stts[0] + 4)
    count = struct.unpack(">I", f.read(4))[0]
    entries = [struct.unpack(">II", f.read(8)) for _ in range(min(count, 100000))]
    deltas = {delta for _n, delta in entries}
    info["frames"] = sum(n for n, _delta in entries)
    info["cfr"] = len(deltas) == 1
    info["rate"] = Fraction(timescale, entries[0][1]) if info["cfr"] else None
    stsd = _child(f, *stbl, b"stsd")
    f.seek(stsd[0] + 8)
    size, codec = struct.unpack(">I4s", f.read(8))
    entry = stsd[0] + 8
    f.seek(entry + 32)
    info["codec"] = codec.decode("latin-1")
    info["width"], info["height"] = struct.unpack(">HH", f.read(4))
    info["profile"] = None
    info["chroma_ok"] = True
    avcc = _child(f, entry + 86, entry + size, b"avcC")
    if avcc:
        f.seek(avcc[0])
        raw = f.read(min(avcc[1] - avcc[0], 4096))
        info["profile"] = raw[1]
        info["chroma_ok"] = _avcc_is_420_8bit(raw)
    return info


def _avcc_is_420_8bit(raw: bytes) -> bool:
    """High-profile avcC may end with chroma_format and bit depths (ISO 14496-15 §5.3.3.1.2)."""
    pos, count = 6, raw[5] & 0x1F
    for _ in range(count):
        pos += 2 + struct.unpack(">H", raw[pos:pos + 2])[0]
    count = raw[pos]
    pos += 1
    for _ in range(count):
        pos += 2 + struct.unpack(">H", raw[pos:pos + 2])[0]
    if raw[1] in (100, 110, 122, 144) and len(raw) >= pos + 3:
        return raw[pos] & 3 == 1 and raw[pos + 1] & 7 == 0 and raw[pos + 2] & 7 == 0
    return True
