"""ffmpeg: the binary, the command lines that cut exactly the frames and samples of a plan, and running them.

WORKER THREAD: no bpy. ffmpeg comes from imageio-ffmpeg (a bundled wheel in the extension).
Why every cut is a re-encode (never ``-c copy``: not frame-exact) and how the seek is placed is in
docs/architecture.md ("Frames and seconds"); the worked examples are on each command below.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
from fractions import Fraction

from ..client.errors import Cancelled, InputError

AUDIO_RATE = 48000
AUDIO_BITRATE = "96k"
VIDEO_CRF = "23"  # x264's default: the plain re-encode's cost; providers re-encode their output anyway
# Indexed containers where ``-ss`` + the stream's start offset lands on the exact frame (checked
# against Blender's own frames in tests/blender/test_media.py); others are cut by frame count.
SEEKABLE_EXTS = (".mp4", ".mov", ".m4v", ".mkv", ".webm")


def _restore_exec_bit(imageio_ffmpeg) -> None:
    """Blender unpacks extension wheels without file modes, so the bundled ffmpeg arrives 0644.

    Give it its execute bit back before imageio-ffmpeg looks for it (it caches a miss for good).
    """
    folder = os.path.join(os.path.dirname(imageio_ffmpeg.__file__), "binaries")
    try:
        names = [n for n in os.listdir(folder) if n.startswith("ffmpeg")]
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            mode = os.stat(path).st_mode
            if not mode & stat.S_IXUSR:
                os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            pass


def ffmpeg_exe() -> str:
    """The ffmpeg binary: LIPSYNC_FFMPEG, else imageio-ffmpeg's (bundled wheel), else PATH."""
    override = os.environ.get("LIPSYNC_FFMPEG")
    if override:
        return override
    try:
        import imageio_ffmpeg  # late: optional (PATH's ffmpeg is the fallback), and only a worker needs it
        _restore_exec_bit(imageio_ffmpeg)
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise InputError("ffmpeg was not found (imageio-ffmpeg is missing); reinstall the extension.")


def video_rate(ff: str, path: str, stream_index: int):
    """The "NN fps" that ``ffmpeg -i`` prints for a video stream (float), or None."""
    err = subprocess.run([ff, "-hide_banner", "-nostdin", "-i", path],
                         capture_output=True).stderr.decode("utf-8", "replace")
    rates = re.findall(r"Video:.*?, ([\d.]+) (?:fps|tbr)", err)
    return float(rates[min(stream_index, len(rates) - 1)]) if rates else None


def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, what: str, cancel: threading.Event | None) -> None:
    """Wait for ffmpeg, checking `cancel` every 50 ms; raise Cancelled / InputError."""
    while True:
        try:
            _out, err = proc.communicate(timeout=0.05)
            break
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                proc.kill()
                proc.communicate()
                raise Cancelled("Cancelled while preparing media.") from None
    if proc.returncode != 0:
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise InputError(f"ffmpeg could not prepare the {what}: {lines[-1] if lines else proc.returncode}")


def _base(ff: str) -> list[str]:
    return [ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def video_start_offset(ff: str, path: str, stream_index: int) -> float:
    """Seconds from the point ``-ss`` counts from (the input's start) to the first frame of
    video stream `stream_index`, which is Blender's frame 0 of the strip.

    Non-zero when a file's streams start at different times, e.g. sound recorded 0.2 s before
    the first picture (cameras, screen recorders, MPEG-TS): ``-ss`` alone would then cut 0.2 s
    early. Read from ``ffmpeg -i``: the input's ``start:`` and the stream's own ``start``. The
    input's start is printed without its sign between -1 and 0 (ffmpeg's dump), so a negative
    stream start is taken as the input's start instead: ffmpeg's input start is the earliest
    stream's.
    """
    err = subprocess.run([ff, "-hide_banner", "-nostdin", "-i", path],
                         capture_output=True).stderr.decode("utf-8", "replace")
    found = re.search(r"Duration: .*?, start: (-?[\d.]+)", err)
    input_start = float(found.group(1)) if found else 0.0
    starts, video_starts = [], []
    for line in err.splitlines():
        if not re.match(r"\s*Stream #0:\d+", line):
            continue
        found = re.search(r", start (-?[\d.]+)", line)
        start = float(found.group(1)) if found else 0.0  # not printed: the stream starts at 0
        starts.append(start)
        if ": Video:" in line:
            video_starts.append(start)
    if not video_starts:
        return 0.0
    if min(starts) < 0:
        input_start = min(starts)
    return video_starts[min(stream_index, len(video_starts) - 1)] - input_start


def video_command(ff: str, video, scene_rate: Fraction, out: str, start_offset: float | None = 0.0) -> list[str]:
    """The re-encode of the visible frames, retimed onto the scene rate grid.

    Worked example: 25 fps file, first_frame 5, frames 88, scene 24 fps ->
    ``-ss 0.18`` (4.5 frames: frame 5 has pts 0.2 >= 0.18, frame 4 at 0.16 is dropped),
    ``-frames:v 88``, ``settb=expr=1/24,setpts=N``, ``-r 24``: 88 frames lasting 3.667 s.
    `start_offset` (video_start_offset) moves the seek by the video stream's own delay: the
    same clip whose picture starts 0.2 s after its sound seeks to ``-ss 0.38``. None: the
    container has no exact seek (MPEG-TS lands frames late), so ``trim=start_frame=5`` counts
    decoded frames instead; slower for a late range of a long file, never wrong.
    """
    cmd = _base(ff)
    filters = []
    if video.first_frame > 0 and start_offset is None:
        # no trustworthy seek in this container: decode from the start and count frames
        filters.append(f"trim=start_frame={video.first_frame}")
    elif video.first_frame > 0:
        seek = (Fraction(video.first_frame) - Fraction(1, 2)) / video.rate
        cmd += ["-ss", f"{float(seek) + start_offset:.6f}"]
    # Handles dragged past the media hold its first/last frame in Blender: clone them likewise.
    # Example: first_frame -3, frames 10, total 100 -> 3 copies of frame 0, then frames 0..6.
    held_start = max(0, -video.first_frame)
    held_end = max(0, video.first_frame + video.frames - video.total_frames) if video.total_frames else 0
    if held_start or held_end:
        filters.append(f"tpad=start={held_start}:start_mode=clone:stop={held_end}:stop_mode=clone")
    filters += [f"settb=expr={scene_rate.denominator}/{scene_rate.numerator}", "setpts=N"]
    if video.width % 2 or video.height % 2:
        filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2")
    cmd += ["-i", video.path, "-map", f"0:v:{video.stream_index}", "-frames:v", str(video.frames),
            "-an", "-sn", "-dn", "-vf", ",".join(filters),
            "-r", f"{scene_rate.numerator}/{scene_rate.denominator}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", VIDEO_CRF, "-pix_fmt", "yuv420p",
            "-map_metadata", "-1", out]
    return cmd


def _samples(seconds: float) -> int:
    return round(Fraction(seconds) * AUDIO_RATE)


def _part_input(part) -> list[str]:
    return ["-ss", f"{part.file_start:.6f}", "-t", f"{part.duration + 0.05:.6f}", "-i", part.path]


def _part_chain(index: int, part, delay_samples: int = 0) -> str:
    chain = (f"[{index}:a:0]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=mono,"
             f"volume={part.volume:.6f}")
    if delay_samples:
        chain += f",adelay=delays={delay_samples}S:all=1"
    return chain


def _mp3_out(out: str) -> list[str]:
    return ["-ac", "1", "-ar", str(AUDIO_RATE), "-c:a", "libmp3lame", "-b:a", AUDIO_BITRATE,
            "-map_metadata", "-1", out]


def audio_part_command(ff: str, part, out: str) -> list[str]:
    """One sound strip's overlap, exactly ``round(duration * 48000)`` samples."""
    total = _samples(part.duration)
    graph = _part_chain(0, part) + f",apad=whole_len={total},atrim=end_sample={total}[out]"
    return _base(ff) + _part_input(part) + ["-filter_complex", graph, "-map", "[out]", "-vn"] + _mp3_out(out)


def mixed_audio_command(ff: str, parts, duration: float, out: str) -> list[str]:
    """Every part at its video_offset over silence, exactly the video's duration.

    Example: video 4.0 s, parts at 0.5 s (1.0 s long) and 2.25 s (1.0 s long) -> delays of
    24000 and 108000 samples, mixed without normalisation, padded/cut to 192000 samples.
    """
    total = _samples(duration)
    cmd, chains, labels = _base(ff), [], []
    for index, part in enumerate(parts):
        cmd += _part_input(part)
        # Each part's own length first, so a longer file can't leak past its strip's handle.
        n = _samples(part.duration)
        chains.append(_part_chain(index, part) + f",atrim=end_sample={n}"
                      + (f",adelay=delays={_samples(part.video_offset)}S:all=1" if part.video_offset else "")
                      + f"[p{index}]")
        labels.append(f"[p{index}]")
    mix = (f"{''.join(labels)}amix=inputs={len(parts)}:normalize=0:duration=longest:dropout_transition=0,"
           f"apad=whole_len={total},atrim=end_sample={total}[out]")
    graph = ";".join(chains + [mix])
    return cmd + ["-filter_complex", graph, "-map", "[out]", "-vn"] + _mp3_out(out)


