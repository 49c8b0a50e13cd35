"""Which source frame a movie strip shows at each timeline frame: Blender's own arithmetic, in float32.

Pure functions over a frozen `FrameMap` (no bpy): vse/playback.py reads the strip's RNA into one
on the main thread, worker/media.py turns it into the list of source frames to upload (one per
timeline frame), and worker/ranges.py uses it for pieces and handles. The rule and where it was
measured are in docs/architecture.md ("Frames and seconds") and docs/blender.md §2:

    factor  = f32(media_fps) / (f32(fps) / f32(fps_base))   with automatic playback rate, else 1
    index   = clamp(f32(max(f - content_start, 0)) * factor, 0, n_src - 1)
    shown   = floor(index + 0.5) + trim_start                                   (ROUND: 4.5)
    FORWARD (5.0+, raw cache on): frames whose int(index) is the same show the frame of the FIRST
            of them rendered from the left handle on (the cache is keyed by int(index)); this only
            differs from ROUND for clips slower than the scene

Every step is rounded to float32 as Blender's C code does (`_f32` after each operation: one
double operation rounded once to float32 is the correctly rounded float32 result). Example: a
25 fps clip in a 24 fps scene with the rate flag has factor f32(25/24) = 1.0416666269302368;
timeline frame content_start + 12 has index 12.499999523 (exact 12.5) and shows source frame 12,
not 13.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import struct

ROUND = "round"
FORWARD = "forward"

_F32 = struct.Struct("f")


def _f32(value: float) -> float:
    return _F32.unpack(_F32.pack(value))[0]


@dataclasses.dataclass(frozen=True)
class FrameMap:
    """A movie strip's timing as Blender uses it to pick source frames.

    content_start  timeline frame of the first content frame (float; 4.x `frame_start`)
    trim_start     source frames hidden at the head (`content_trim_start`, 4.x `animation_offset_start`)
    trim_end       source frames hidden at the tail (`content_trim_end`)
    n_src          content length in source frames (the file's frames minus both trims): the clamp
    n_src_max      the largest n_src Blender's content length allows (> n_src only for clips with
                   the rate flag that are faster than the scene: several file lengths give the same
                   timeline length; the worker settles it from the file, `settle_length`)
    factor         source frames per timeline frame, float32 (1.0 without the rate flag)
    rule           ROUND or FORWARD (see module doc)
    left, right    the strip's visible range [left, right) (clipped by its metas): Blender shows
                   `shown` there; outside it only hidden handles are cut, from `extended`
    """

    content_start: float
    trim_start: int
    n_src: int
    trim_end: int = 0
    factor: float = 1.0
    rule: str = ROUND
    left: int = 0
    right: int = 0
    n_src_max: int = 0

    @property
    def plain(self) -> bool:
        """One source frame per timeline frame (no rate flag, or the same rate)."""
        return self.factor == 1.0

    @property
    def file_frames(self) -> int:
        """The file's frames as Blender counts them (content plus both trims)."""
        return self.n_src + self.trim_start + self.trim_end


def factor32(media_fps: float, fps: int, fps_base: float) -> float:
    """Blender's playback-rate factor of a strip WITH the rate flag (1.0 when the rate is unknown).

    >>> factor32(25.0, 24, 1.0)
    1.0416666269302368
    """
    if media_fps <= 0:
        return 1.0
    scene = _f32(_f32(float(fps)) / _f32(fps_base))
    return _f32(_f32(media_fps) / scene)


def content_length(n_src: int, factor: float) -> int:
    """Blender's timeline length of `n_src` source frames: int(f32(n_src) / factor)."""
    return int(_f32(_f32(float(n_src)) / factor))


def lengths_for(duration: int, factor: float) -> tuple[int, int]:
    """(smallest, largest) n_src whose content length is `duration` frames; (duration, duration)
    without the flag. Example: 144 timeline frames of a 25 fps clip in 24 fps are 150 source frames;
    60 frames of a 50 fps clip in 24 fps may be 125, 126 or 127 (length int(n / 2.0833)) -> (125, 127)."""
    if factor == 1.0:
        return duration, duration
    guess = int(duration * factor)
    found = [n for n in range(max(1, guess - 3), guess + int(math.ceil(factor)) + 4)
             if content_length(n, factor) == duration]
    if not found:  # not a length Blender would give: the nearest count is the best guess
        return max(1, round(duration * factor)), max(1, round(duration * factor))
    return found[0], found[-1]


def index(fmap: FrameMap, frame: int) -> float:
    """Blender's frame index (float32, clamped to the content) at timeline frame `frame`."""
    offset = max(_f32(float(frame) - fmap.content_start), 0.0)
    value = _f32(offset * fmap.factor) if fmap.factor != 1.0 else offset
    return min(value, float(fmap.n_src - 1))


def _round(value: float) -> int:
    return int(math.floor(_f32(value + 0.5)))


def _cache_origin(fmap: FrameMap, frame: int) -> float:
    """FORWARD: the index of the first frame from `left` on whose int(index) equals `frame`'s."""
    key, first = int(index(fmap, frame)), frame
    while first > fmap.left and int(index(fmap, first - 1)) == key:
        first -= 1
    return index(fmap, first)


def shown(fmap: FrameMap, frame: int) -> int:
    """The source frame (0-based, in the file) Blender shows at visible timeline frame `frame`."""
    value = _cache_origin(fmap, frame) if fmap.rule == FORWARD else index(fmap, frame)
    return _round(value) + fmap.trim_start


def extended(fmap: FrameMap, frame: int) -> int:
    """The source frame the strip would show at `frame` were its content not clamped: where
    handles (pre-roll and tail, worker/ranges.py) come from, beyond what Blender shows."""
    value = _f32(_f32(float(frame) - fmap.content_start) * fmap.factor)
    return _round(value) + fmap.trim_start


@functools.lru_cache(maxsize=64)
def source_frames(fmap: FrameMap, first: int, count: int) -> tuple[int, ...]:
    """Source frame of each of `count` upload frames from timeline frame `first`: what Blender
    shows inside [left, right), `extended` outside it (the hidden handles). Cached: a worker asks
    for the same list to choose the cut, to make it and to fingerprint it (~3 us a frame)."""
    left, right = fmap.left, fmap.right
    frames = []
    cache_key, cache_value = None, 0.0
    for frame in range(first, first + count):
        if not left <= frame < right:
            frames.append(extended(fmap, frame))
            continue
        value = index(fmap, frame)
        if fmap.rule == FORWARD:
            # the walk of `shown`, done once: each new int(index) keeps its first frame's index
            key = int(value)
            if cache_key is None:
                cache_key, cache_value = key, _cache_origin(fmap, frame)
            elif key != cache_key:
                cache_key, cache_value = key, value
            value = cache_value
        frames.append(_round(value) + fmap.trim_start)
    return tuple(frames)


def handle_frames(fmap: FrameMap, start: int, end: int, handles: int) -> tuple[int, int]:
    """(pre-roll, tail) timeline frames, each at most `handles`, that the media has around
    [start, end): none where Blender holds a frame (a handle dragged past the content), and
    only frames that exist in the file (the trimmed-off ones count: they are real footage).

    Example: 25 fps clip with the rate flag in a 24 fps scene (factor 1.0417), content at 11,
    no trims, range 11..50, handles 8: no pre-roll (frame 10 would be source frame -1); the tail
    frames 50..57 show source frames 41..49 (file of 150 frames) -> (0, 8).
    """
    if handles <= 0:
        return 0, 0
    pre = 0
    if start >= fmap.content_start:
        while pre < handles and extended(fmap, start - pre - 1) >= 0:
            pre += 1
    post = 0
    last = fmap.trim_start + fmap.n_src - 1
    if extended(fmap, end - 1) <= last:
        while post < handles and extended(fmap, end + post) <= fmap.file_frames - 1:
            post += 1
    return pre, post


def settle_length(fmap: FrameMap, file_frames: int | None) -> FrameMap:
    """`fmap` with n_src fixed from the file's own frame count when Blender's length left it open."""
    if fmap.n_src_max <= fmap.n_src or not file_frames:
        return fmap
    content = file_frames - fmap.trim_start - fmap.trim_end
    return dataclasses.replace(fmap, n_src=min(max(content, fmap.n_src), fmap.n_src_max))
