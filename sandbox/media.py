"""Real media through ffmpeg pipes: probe, decode, draw the loudness-driven "mouth", encode.

imageio-ffmpeg ships ffmpeg but no ffprobe, so `probe()` parses `ffmpeg -i` stderr and counts
decoded frames/samples. The sandbox never claims to lip-sync: it copies the input frames (per the
timeline plan) and paints a dark rectangle whose height follows the RMS of the audio that plays
during each output frame, at the active-speaker point (else lower centre). Tests read it back with
`mouth_openings()`.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import wave
from array import array
from fractions import Fraction

from . import timeline

AUDIO_RATE = 48000
# RMS (fraction of full scale) that opens the mouth fully: a sine at amplitude 0.35 (≈ -9 dBFS peak).
RMS_FULL_OPEN = 0.25
MOUTH_RGB = (16, 8, 8)
# A pixel belongs to the mouth when all its channels are below this (survives yuv420p + x264).
DARK_MAX = 64
# Keep decoded frames under this many bytes; larger inputs are scaled down (sandbox only).
MAX_FRAME_BYTES = 400 * 1024 * 1024

_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


class MediaError(Exception):
    """Input could not be decoded; `kind` says which input ("video", "audio")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - fall back to a system ffmpeg for `python -m sandbox` outside the venvs
        exe = shutil.which("ffmpeg")
        if not exe:
            raise RuntimeError("ffmpeg not found (install imageio-ffmpeg)") from None
        return exe


def _run(args: list[str], data: bytes | None = None) -> tuple[bytes, str, int]:
    proc = subprocess.Popen([ffmpeg_exe(), "-hide_banner", *(["-nostdin"] if data is None else []), *args],
                            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with _children_lock:
        _children.add(proc)
    try:
        out, err = proc.communicate(data)
    finally:
        with _children_lock:
            _children.discard(proc)
    return out, err.decode("utf-8", "replace"), proc.returncode


def kill_children() -> None:
    """Kill every ffmpeg this process started and that is still running (Sandbox.stop)."""
    with _children_lock:
        procs = list(_children)
    for p in procs:
        try:
            p.kill()
        except OSError:
            pass


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+[^\n]*?: Video: ([^\n]*)")
_AUDIO = re.compile(r"Stream #0:\d+[^\n]*?: Audio: ([^\n]*)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r"([\d.]+)(k?) (fps|tbr)")


def _fps_from(text: str) -> Fraction | None:
    for m in _FPS.finditer(text):
        value = float(m.group(1)) * (1000 if m.group(2) else 1)
        if value <= 0:
            continue
        # ffmpeg prints 29.97 for 30000/1001; recover the NTSC fraction.
        ntsc = value * 1.001
        if abs(ntsc - round(ntsc)) < 0.01 and abs(value - round(value)) > 0.01:
            return Fraction(int(round(ntsc)) * 1000, 1001)
        return Fraction(value).limit_denominator(1001)
    return None


def header(path: str) -> dict:
    """Container/stream facts from `ffmpeg -i` stderr (no decoding)."""
    return _parse_header(_run(["-i", path])[1])


def _parse_header(err: str) -> dict:
    # Only the "Input #0" section: a decode's stderr also lists the output streams.
    err = err.split("Output #0", 1)[0]
    info: dict = {"duration": None, "width": None, "height": None, "fps": None,
                  "has_video": False, "has_audio": False, "image": False}
    m = _DURATION.search(err)
    if m:
        info["duration"] = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    v = _VIDEO.search(err)
    if v:
        info["has_video"] = True
        s = _SIZE.search(v.group(1))
        if s:
            info["width"], info["height"] = int(s.group(1)), int(s.group(2))
        fps = _fps_from(v.group(1))
        info["fps"] = float(fps) if fps else None
        info["_fps"] = fps
        info["image"] = bool(re.search(r"Input #0, (png_pipe|image2|jpeg_pipe|webp_pipe|bmp_pipe|tiff_pipe)", err))
    info["has_audio"] = bool(_AUDIO.search(err))
    if not v and not info["has_audio"]:
        info["error"] = err.strip().splitlines()[-1] if err.strip() else "unreadable"
    return info


def decode_audio(path: str, rate: int = AUDIO_RATE) -> array:
    out, err, rc = _run(["-i", path, "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"])
    if rc != 0:
        raise MediaError("audio", f"cannot decode audio: {err.strip().splitlines()[-1] if err.strip() else rc}")
    samples = array("h")
    samples.frombytes(out[: len(out) // 2 * 2])
    return samples


def decode_video(path: str) -> tuple[int, int, Fraction, list[bytes]]:
    """All frames as rgb24 bytes (scaled down if the clip would not fit MAX_FRAME_BYTES).

    One ffmpeg run: the stream facts come from the decode's own stderr; only big files are
    probed first to decide on scaling.
    """
    return _decode_video(path)[:4]


def _decode_video(path: str) -> tuple[int, int, Fraction, list[bytes], float]:
    """decode_video() plus the scale factor applied (1.0 unless the input was too big)."""
    scale: list[str] = []
    if os.path.getsize(path) > 32 * 1024 * 1024:
        info = header(path)
        if info["width"]:
            est = info["width"] * info["height"] * 3 * float(info.get("_fps") or 25) * (info["duration"] or 1.0)
            if est > MAX_FRAME_BYTES:
                f = math.sqrt(MAX_FRAME_BYTES / est)
                w, h = max(16, int(info["width"] * f) // 2 * 2), max(16, int(info["height"] * f) // 2 * 2)
                scale = ["-vf", f"scale={w}:{h}"]
    out, err, rc = _run(["-i", path, "-map", "0:v:0", *scale, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    info = _parse_header(err)
    if not info["has_video"] or not info["width"]:
        raise MediaError("video", "no video stream")
    w, h = info["width"], info["height"]
    if scale:
        w, h = (int(x) for x in scale[1][6:].split(":"))
    fps = info.get("_fps") or Fraction(25)
    size = w * h * 3
    if rc != 0 or len(out) < size:
        raise MediaError("video", "cannot decode video")
    frames = [out[i:i + size] for i in range(0, len(out) - size + 1, size)]
    if info["image"]:
        frames, fps = frames[:1], Fraction(25)
    return w, h, fps, frames, w / float(info["width"])


def probe(path: str) -> dict:
    """Duration, fps, size, frame count and audio length of a media file (for tests and stats).

    `duration` is the container's; `video_seconds` = frames / fps; `audio_seconds` from decoded samples.
    """
    info = header(path)
    info.pop("_fps", None)
    info.update(frames=None, video_seconds=None, audio_seconds=None, bytes=os.path.getsize(path))
    args = ["-i", path]
    if info["has_video"]:
        args += ["-map", "0:v:0", "-f", "null", os.devnull]
    if info["has_audio"]:
        args += ["-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "16000", "-"]
    if len(args) == 2:
        return info
    out, err, _ = _run(args)
    counts = re.findall(r"frame=\s*(\d+)", err)
    if info["has_video"] and counts:
        info["frames"] = int(counts[-1])
        if info["fps"]:
            info["video_seconds"] = info["frames"] / info["fps"]
    if info["has_audio"]:
        info["audio_seconds"] = len(out) / 2 / 16000.0
    return info


def analyze(path: str, point: tuple[float, float] | None = None) -> dict:
    """probe() plus per-frame `openings` (mouth_openings) and `loudness` (frame_loudness), cheaply."""
    w, h, fps, frames = decode_video(path)
    info = {"width": w, "height": h, "fps": float(fps), "frames": len(frames),
            "video_seconds": len(frames) / float(fps), "openings": _openings(w, h, frames, point)}
    try:
        samples = decode_audio(path)
    except MediaError:
        samples = array("h")
    info["audio_seconds"] = len(samples) / AUDIO_RATE
    info["loudness"] = timeline.frame_rms(samples, AUDIO_RATE, float(fps), len(frames))
    info["duration"] = header(path)["duration"]
    return info


def synth_speech(text: str, rate: int = AUDIO_RATE) -> array:
    """Stand-in for TTS: 0.3 s of tone per word with 0.1 s pauses (mouth visibly follows words)."""
    words = max(1, len(text.split()))
    out = array("h")
    tone = array("h", (int(12000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(int(0.3 * rate))))
    gap = array("h", bytes(2 * int(0.1 * rate)))
    for _ in range(words):
        out += tone
        out += gap
    return out


def mouth_geometry(w: int, h: int, point: tuple[float, float] | None = None) -> tuple[int, int, int, int, int]:
    """(centre x, centre y, width, max height, closed height) of the mouth in a w x h frame.

    Even coordinates keep the box edges sharp through yuv420p chroma subsampling.
    """
    cx, cy = (w / 2.0, h * 0.75) if point is None else point
    mw = max(4, int(w * 0.25) // 2 * 2)
    mh = max(4, int(h * 0.2) // 2 * 2)
    closed = 2
    cx = int(min(max(cx, mw / 2), w - mw / 2)) // 2 * 2
    cy = int(min(max(cy, mh / 2), h - mh / 2)) // 2 * 2
    return cx, cy, mw, mh, closed


def draw_mouth(frame: bytearray, w: int, h: int, opening: float, point=None) -> None:
    cx, cy, mw, mh, closed = mouth_geometry(w, h, point)
    height = closed + int(round(max(0.0, min(1.0, opening)) * (mh - closed) / 2)) * 2
    y0 = max(0, cy - height // 2)
    y1 = min(h, y0 + height)
    x0 = max(0, cx - mw // 2)
    row = bytes(MOUTH_RGB) * mw
    for y in range(y0, y1):
        off = (y * w + x0) * 3
        frame[off:off + len(row)] = row


def _write_wav(path: str, samples: array, rate: int) -> None:
    with wave.open(path, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(samples.tobytes())


_CODECS = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-f", "mp4"],
    "mov": ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-f", "mov"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p",
             "-c:a", "libopus", "-f", "webm"],
}


def render(video_path: str, audios: dict[str, array], out_path: str, *, sync_mode: str,
           segments: list[timeline.Segment] | None = None, speaker: timeline.Speaker | None = None,
           audio_order: list[str] | None = None, fmt: str = "mp4") -> dict:
    """Render the output video; returns facts for stats (input/output durations)."""
    w, h, fps, frames, scale = _decode_video(video_path)
    if len(frames) == 1 and not segments:
        # A still image (sync-3 image input, §1.3): the face "speaks" for the whole audio.
        sync_mode = "loop"
    p = timeline.plan(sync_mode, len(frames), float(fps), audios, AUDIO_RATE, segments, audio_order)
    levels = timeline.frame_rms(p.audio, AUDIO_RATE, float(fps), len(p.frame_map))
    # Even dimensions for yuv420p: crop the odd last column/row rather than rescale.
    ew, eh = w // 2 * 2, h // 2 * 2
    with tempfile.TemporaryDirectory(prefix="sbx_render_") as tmp:
        wav = os.path.join(tmp, "a.wav")
        _write_wav(wav, p.audio, AUDIO_RATE)
        chunks = []
        for i, src in enumerate(p.frame_map):
            frame = bytearray(frames[src])
            point = speaker.point_for(src) if speaker else None
            if point is not None and scale != 1.0:  # hint is in input pixels; frames may be scaled down
                point = (point[0] * scale, point[1] * scale)
            draw_mouth(frame, w, h, levels[i] / RMS_FULL_OPEN, point)
            chunks.append(bytes(frame))
        crop = ["-vf", f"crop={ew}:{eh}:0:0"] if (ew, eh) != (w, h) else []
        tmp_out = f"{out_path}.{os.getpid()}.{threading.get_ident()}.part"
        _, err, rc = _run(["-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                           "-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "-", "-i", wav,
                           "-map", "0:v", "-map", "1:a", *crop, *_CODECS.get(fmt, _CODECS["mp4"]), tmp_out],
                          b"".join(chunks))
        if rc != 0:
            raise MediaError("output", f"encode failed: {err.strip()[-300:]}")
        os.replace(tmp_out, out_path)
    n_audio = {k: len(v) / AUDIO_RATE for k, v in audios.items()}
    return {"video_seconds": len(frames) / float(fps), "fps": float(fps), "frames": len(frames),
            "width": w, "height": h, "audio_seconds": n_audio, "output_seconds": p.seconds,
            "output_frames": len(p.frame_map)}


def mouth_openings(path: str, point: tuple[float, float] | None = None) -> list[float]:
    """Per output frame, how open the painted mouth is (0 closed .. 1 fully open).

    Counts the dark rows of the mouth's middle half at the given point (pixels of the output
    frame; default lower centre, where the sandbox draws when no active speaker is given).
    """
    w, h, _, frames = decode_video(path)
    return _openings(w, h, frames, point)


def _openings(w: int, h: int, frames: list[bytes], point) -> list[float]:
    cx, cy, mw, mh, closed = mouth_geometry(w, h, point)
    x0, x1 = cx - mw // 4, cx + mw // 4
    y0, y1 = max(0, cy - mh // 2 - 2), min(h, cy + mh // 2 + 2)
    out = []
    for frame in frames:
        rows = 0
        for y in range(y0, y1):
            seg = frame[(y * w + x0) * 3:(y * w + x1) * 3]
            if max(seg) < DARK_MAX:
                rows += 1
        out.append(max(0.0, min(1.0, (rows - closed) / float(mh - closed))))
    return out


def frame_loudness(path: str) -> list[float]:
    """Per video frame of `path`, the RMS (0..1) of its audio track during that frame."""
    fps = float(header(path).get("_fps") or 25)
    samples = decode_audio(path)
    n = int(round(len(samples) / AUDIO_RATE * fps))
    return timeline.frame_rms(samples, AUDIO_RATE, fps, n)
