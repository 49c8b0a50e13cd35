"""Tiny test media shared by every test folder (keep these signatures stable).

`make_tone_wav` writes a tone gated on/off (first half-period on), so a test can check that frames
during "on" stretches show an open mouth and frames during "off" stretches a closed one.
`make_test_video` renders ffmpeg's testsrc2 pattern (optionally with a quiet sine track).
"""

from __future__ import annotations

import math
import os
import subprocess
import wave
from array import array

TONE_HZ = 440.0
TONE_AMPLITUDE = 0.5  # of full scale: RMS ≈ 0.35, enough to open the sandbox mouth fully


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def tone_is_on(t: float, on_off_period: float = 0.5) -> bool:
    """Whether make_tone_wav's gate is open at time t (on for the first half of each period)."""
    if on_off_period <= 0:
        return True
    return (t % on_off_period) < on_off_period / 2


def make_tone_wav(path, seconds: float, on_off_period: float = 0.5, rate: int = 48000,
                  frequency: float = TONE_HZ, amplitude: float = TONE_AMPLITUDE) -> str:
    """Mono 16-bit WAV: a sine tone gated on/off every half `on_off_period` (0 = always on)."""
    n = int(round(seconds * rate))
    peak = int(amplitude * 32767)
    samples = array("h", bytes(2 * n))
    for i in range(n):
        t = i / rate
        if tone_is_on(t, on_off_period):
            samples[i] = int(peak * math.sin(2 * math.pi * frequency * t))
    with wave.open(os.fspath(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(samples.tobytes())
    return os.fspath(path)


def make_silence_wav(path, seconds: float, rate: int = 48000) -> str:
    with wave.open(os.fspath(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(bytes(2 * int(round(seconds * rate))))
    return os.fspath(path)


def make_test_video(path, seconds: float, fps: int = 25, size=(160, 120), with_audio: bool = False) -> str:
    """H.264 yuv420p MP4 of testsrc2 at `size`, exactly round(seconds * fps) frames."""
    w, h = size
    frames = int(round(seconds * fps))
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r={fps}:d={seconds}"]
    if with_audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds}",
                 "-c:a", "aac", "-b:a", "64k"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-movflags", "+faststart", os.fspath(path)]
    subprocess.run(args, check=True)
    return os.fspath(path)
