"""Generated test media that can be read back (a kit, not a test file): frame numbers in pixels, time in clicks.

Videos carry their frame index as a 10-bit binary code of vertical bars (bar b is white when bit
b of the frame number is set), so a test can decode any frame of a cut and prove which source
frame it is. WAVs carry short full-scale clicks at known times, so a cut's content proves its
offset. Used by test_strips, test_media, test_placement, test_beyond_frames and test_media_gen.
"""

import math
import os
import struct
import subprocess
import wave
from fractions import Fraction

import imageio_ffmpeg

from tests.fixtures.addon import lipsync

FF = imageio_ffmpeg.get_ffmpeg_exe()
RATE = 48000


def make_coded_video(path, frames, fps="25", size=(160, 120), pix_fmt="yuv420p", codec="libx264",
                     with_audio=False, extra=()):
    """`frames` frames at `fps` (ffmpeg rate string, e.g. "30000/1001") coding their index."""
    w, h = size
    bar = w // 10
    expr = f"255*mod(floor(N/pow(2\\,floor(X/{bar})))\\,2)"
    cmd = [FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}"]
    if with_audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}"]
    cmd += ["-vf", f"format=yuv444p,geq=lum='{expr}':cb=128:cr=128", "-frames:v", str(frames)]
    if with_audio:
        cmd += ["-c:a", "aac", "-shortest"]
    cmd += ["-c:v", codec, "-preset", "veryfast", "-g", "12", "-pix_fmt", pix_fmt, *extra, os.fspath(path)]
    subprocess.run(cmd, check=True)
    return os.fspath(path)


def read_codes(path, size=(160, 120)):
    """Frame index coded in each frame of the video at `path` (scaled to `size` to read)."""
    w, h = size
    out = subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", os.fspath(path),
                          "-vf", f"scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         check=True, capture_output=True).stdout
    n, bar, row = w * h, w // 10, h // 2
    codes = []
    for k in range(len(out) // n):
        frame = out[k * n:(k + 1) * n]
        codes.append(sum(1 << b for b in range(10) if frame[row * w + bar * b + bar // 2] > 128))
    return codes


def make_click_wav(path, seconds, clicks, rate=RATE, tone_hz=0):
    """Mono s16 WAV of `seconds`, silent (or a quiet tone) with 2 ms full-scale clicks at `clicks`."""
    n = int(round(seconds * rate))
    data = bytearray(2 * n)
    if tone_hz:
        for i in range(n):
            struct.pack_into("<h", data, 2 * i, int(2000 * math.sin(2 * math.pi * tone_hz * i / rate)))
    for t in clicks:
        start = int(round(t * rate))
        for k in range(start, min(n, start + rate // 500)):
            struct.pack_into("<h", data, 2 * k, 30000)
    with wave.open(os.fspath(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(data))
    return os.fspath(path)


def decode_audio(path, rate=RATE):
    """Mono s16 samples of any audio file, decoded by ffmpeg (honours MP3 delay/padding)."""
    raw = subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", os.fspath(path),
                          "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"], check=True, capture_output=True).stdout
    return struct.unpack(f"<{len(raw) // 2}h", raw)


def click_times(samples, rate=RATE, threshold=12000):
    """Onsets (seconds) of clicks: samples above `threshold`, at least 50 ms apart."""
    found, i = [], 0
    while i < len(samples):
        if abs(samples[i]) > threshold:
            found.append(i / rate)
            i += rate // 20
        else:
            i += 1
    return found


def frac_seconds(frames, rate):
    return float(Fraction(frames) / Fraction(rate))


# --- shared by the bpy tests of strips/media/placement -------------------------------------

def make_media(tmp_path_factory):
    """Session-wide generated files (tiny: 160x120, a few seconds)."""
    d = tmp_path_factory.mktemp("media")
    return {
        "v25": make_coded_video(d / "v25.mp4", 100, "25"),
        "v24": make_coded_video(d / "v24.mp4", 72, "24"),
        "ntsc": make_coded_video(d / "ntsc.mp4", 120, "30000/1001"),
        "v24_320": make_coded_video(d / "v24_320.mp4", 120, "24", size=(320, 240)),
        "clicks": make_click_wav(d / "clicks.wav", 6.0, [0.5, 1.0, 2.0, 3.0, 4.0]),
        "clicks_b": make_click_wav(d / "clicks_b.wav", 3.0, [0.25, 1.5]),
    }


def movie(scene, path, channel=2, frame_start=1, offsets=(0, 0)):
    compat = lipsync("vse.compat")
    sed = scene.sequence_editor or scene.sequence_editor_create()
    strip = compat.strips(sed).new_movie(os.path.basename(path), path, channel, frame_start)
    if offsets[0]:
        compat.set_timing(strip, "frame_offset_start", offsets[0])
    if offsets[1]:
        compat.set_timing(strip, "frame_offset_end", offsets[1])
    return strip


def sound(scene, path, channel=1, frame_start=1, handles=None):
    compat = lipsync("vse.compat")
    sed = scene.sequence_editor or scene.sequence_editor_create()
    strip = compat.strips(sed).new_sound(os.path.basename(path), path, channel, frame_start)
    if handles:
        compat.set_timing(strip, "frame_final_start", handles[0])
        compat.set_timing(strip, "frame_final_end", handles[1])
    return strip


def set_rate(scene, fps, base=1.0):
    scene.render.fps, scene.render.fps_base = fps, base


TIMING = ("frame_start", "frame_final_start", "frame_final_end", "frame_offset_start", "frame_offset_end",
          "frame_duration", "frame_final_duration", "animation_offset_start", "animation_offset_end")


def strip_state(strip):
    """Every timing and placement property of a strip (through compat), to prove it unchanged."""
    compat = lipsync("vse.compat")
    state = {}
    for name in TIMING:
        try:
            state[name] = compat.get_timing(strip, name)
        except AttributeError:  # e.g. animation_offset_* on effect strips
            pass
    state.update(channel=strip.channel, mute=strip.mute, name=strip.name, select=strip.select)
    for attr in ("filepath", "volume", "sound_offset", "use_flip_x", "use_flip_y", "blend_type"):
        if hasattr(strip, attr):
            state[attr] = getattr(strip, attr)
    if hasattr(strip, "transform"):
        t = strip.transform
        state["transform"] = (t.scale_x, t.scale_y, t.offset_x, t.offset_y, t.rotation, tuple(t.origin))
        c = strip.crop
        state["crop"] = (c.min_x, c.max_x, c.min_y, c.max_y)
    return state


def scene_state(scene):
    compat = lipsync("vse.compat")
    sed = scene.sequence_editor
    return {} if sed is None else {s.name: strip_state(s) for s in compat.strips_all(sed)}
