"""Media durations without ffmpeg, for cost estimates: MP4/MOV `mvhd`, WAV header, MP3 (rough).

Only headers are read (a few KB), never the whole file. Unknown formats give None.
"""

from __future__ import annotations

import os
import struct
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

    Also used by the Blender layer's pass-through check (operators/media.py), which walks
    deeper into `moov` than the duration needs.
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
