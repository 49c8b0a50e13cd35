"""How a movie strip plays its source frames: Blender's automatic playback rate, read from the strip.

MAIN THREAD. `frame_map(scene, strip, visible)` reads a strip's timing into a worker/framemap.py
FrameMap (the arithmetic lives there, bpy-free). No file is opened here.

Add > Movie and drag-and-drop set the strip's automatic playback rate (`movie_strip_add(...,
adjust_playback_rate=True)`); `strips.new_movie` does not. The flag (DNA `SEQ_AUTO_PLAYBACK_RATE`,
bit 17 of `Strip.flag`) is not in RNA on 4.5-5.2, and only its content length shows it. How it is
read, and why this way, is docs/blender.md §2 ("The automatic playback rate"):

- `auto_rate` reads the bit through `as_pointer()`. The flag word's offset in the struct is found
  once per process on a throw-away strip in a throw-away scene, by toggling `mute` (bit 5) and
  `use_flip_x` (bit 11): the one word that follows both is `Strip.flag` (96 bytes on 4.5/5.0, 80 on
  5.2, measured). Every read checks the word against the strip's own RNA flags (mute, flips,
  reverse, lock) before it trusts bit 17. About 0.2 ms once, then ~5 us a strip.
- When that cannot be trusted, `auto_rate_by_scene_copy` asks Blender: a copy of the scene at
  another frame rate changes the content length of exactly the strips with the flag. Exact, but
  about 4 ms a strip and more with the scene's size (the user's scene is only read).
"""

from __future__ import annotations

import ctypes

import bpy

from ..client.errors import InputError
from ..worker import framemap
from . import compat

AUTO_PLAYBACK_RATE = 1 << 17     # SEQ_AUTO_PLAYBACK_RATE
# Strip.flag bits with an RNA twin, checked on every read: SEQ_MUTE, SEQ_REVERSE_FRAMES,
# SEQ_FLIPX, SEQ_FLIPY, SEQ_LOCK (DNA_sequence_types.h, the same on 4.5-5.2)
_TWINS = ((1 << 5, "mute"), (1 << 7, "use_reverse_frames"), (1 << 11, "use_flip_x"),
          (1 << 12, "use_flip_y"), (1 << 14, "lock"))
_SCAN_WORDS = 64                 # the flag sits in the first 256 bytes of the struct
_offset: list = []               # [byte offset of Strip.flag] once found in this process


def _new_color_strip(sed):
    strips = compat.strips(sed)
    return compat.new_effect(strips, "flag probe", "COLOR", 1, 1, 10)


def _words(strip) -> list[int]:
    return (ctypes.c_uint32 * _SCAN_WORDS).from_address(strip.as_pointer())[:]


def _calibrate() -> int | None:
    """Byte offset of Strip.flag, found on a throw-away strip (never on the artist's strips)."""
    scene = bpy.data.scenes.new("lipsync flag probe")
    try:
        strip = _new_color_strip(scene.sequence_editor_create())
        strip.mute = strip.use_flip_x = False
        plain = _words(strip)
        strip.mute = True
        muted = _words(strip)
        strip.mute, strip.use_flip_x = False, True
        flipped = _words(strip)
    finally:
        bpy.data.scenes.remove(scene)
    hits = [i for i in range(_SCAN_WORDS)
            if muted[i] ^ plain[i] == 1 << 5 and flipped[i] ^ plain[i] == 1 << 11]
    return hits[0] * 4 if len(hits) == 1 else None


def flag_word(strip) -> int | None:
    """`Strip.flag` of `strip`, or None when it cannot be located or does not match the strip's RNA."""
    if not _offset:
        try:
            found = _calibrate()
        except (RuntimeError, AttributeError, TypeError):   # data not writable here (e.g. a draw)
            return None
        if found is None:
            return None
        _offset.append(found)
    word = ctypes.c_uint32.from_address(strip.as_pointer() + _offset[0]).value
    for bit, prop in _TWINS:
        if bool(word & bit) != bool(getattr(strip, prop, False)):
            return None
    return word


def set_auto_rate(strip) -> bool:
    """Give movie strip `strip` the automatic playback rate bit (a copy of a strip that has it);
    True when the flag word was found and now holds the bit (read back through flag_word)."""
    word = flag_word(strip)
    if word is None:
        return False
    ctypes.c_uint32.from_address(strip.as_pointer() + _offset[0]).value = word | AUTO_PLAYBACK_RATE
    after = flag_word(strip)
    return after is not None and bool(after & AUTO_PLAYBACK_RATE)


def auto_rate_by_scene_copy(scene, names) -> dict[str, bool]:
    """{strip name: has the flag} for movie strips `names`, asked of Blender (see module doc)."""
    copy = scene.copy()
    try:
        found = compat.strips_all(copy.sequence_editor)
        before = {n: compat.get_timing(found[n], "frame_duration") for n in names if n in found}
        copy.render.fps_base = copy.render.fps_base * 2
        return {n: compat.get_timing(found[n], "frame_duration") != d for n, d in before.items()}
    finally:
        bpy.data.scenes.remove(copy)


def auto_rate(scene, strip) -> bool:
    """True when Blender plays `strip` at its own rate (the automatic playback rate flag)."""
    word = flag_word(strip)
    if word is not None:
        return bool(word & AUTO_PLAYBACK_RATE)
    try:
        return auto_rate_by_scene_copy(scene, [strip.name])[strip.name]
    except (RuntimeError, AttributeError, KeyError):
        raise InputError(f'Cannot tell whether Blender plays movie strip "{strip.name}" at its own frame rate '
                         "here; submit again from the sequencer") from None


def rule(scene) -> str:
    """Blender 5.0+ keeps frames in a raw cache keyed by int(index) (docs/blender.md §2)."""
    if bpy.app.version >= (5, 0, 0) and getattr(scene.sequence_editor, "use_cache_raw", True):
        return framemap.FORWARD
    return framemap.ROUND


def frame_map(scene, strip, visible: tuple[int, int]) -> framemap.FrameMap:
    """The FrameMap of movie strip `strip`, visible on `visible` (clipped by its metas)."""
    trim_start = int(compat.get_timing(strip, "animation_offset_start"))
    trim_end = int(compat.get_timing(strip, "animation_offset_end"))
    duration = int(compat.get_timing(strip, "frame_duration"))
    # elements[0].orig_fps, not strip.fps: that getter reopens the movie (40-150 ms)
    media_fps = strip.elements[0].orig_fps if len(strip.elements) else 0.0
    render = scene.render
    factor = 1.0
    candidate = framemap.factor32(media_fps, render.fps, render.fps_base)
    if candidate != 1.0 and auto_rate(scene, strip):   # the same rate: the flag changes nothing
        factor = candidate
    n_src, n_src_max = framemap.lengths_for(duration, factor)
    return framemap.FrameMap(
        content_start=float(compat.get_timing(strip, "frame_start")), trim_start=trim_start, n_src=n_src,
        trim_end=trim_end, factor=factor, rule=rule(scene), left=int(visible[0]), right=int(visible[1]),
        n_src_max=n_src_max)
