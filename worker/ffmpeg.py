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
from . import envelope

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


def start(cmd: list[str], *, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """Run ffmpeg; pass subprocess.PIPE for `stdin`/`stdout` to feed or read frames (`remap`)."""
    return subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)


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


def probe(ff: str, path: str) -> str:
    """What ``ffmpeg -i`` prints about `path` (its streams, start times and colours)."""
    return subprocess.run([ff, "-hide_banner", "-nostdin", "-i", path],
                          capture_output=True).stderr.decode("utf-8", "replace")


def video_start_offset(ff: str, path: str, stream_index: int, text: str | None = None) -> float:
    """Seconds from the point ``-ss`` counts from (the input's start) to the first frame of
    video stream `stream_index`, which is Blender's frame 0 of the strip.

    Non-zero when a file's streams start at different times, e.g. sound recorded 0.2 s before
    the first picture (cameras, screen recorders, MPEG-TS): ``-ss`` alone would then cut 0.2 s
    early. Read from ``ffmpeg -i`` (`text`, else run here): the input's ``start:`` and the
    stream's own ``start``. The input's start is printed without its sign between -1 and 0
    (ffmpeg's dump), so a negative stream start is taken as the input's start instead: ffmpeg's
    input start is the earliest stream's.
    """
    err = probe(ff, path) if text is None else text
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


def stream_colors(text: str, stream_index: int = 0) -> list[str]:
    """Output options that keep the colour tags of video stream `stream_index` (``ffmpeg -i`` text).

    ffmpeg prints ``yuv420p(tv, bt709/unknown/unknown, progressive)`` (range, then matrix/primaries/
    transfer) or ``yuv420p(tv, bt709, progressive)`` when all three are the same. The frame pipe
    of `remap` carries only the range, so the encoder is told the rest. Example: the first ->
    ``-color_range tv -colorspace bt709``.
    """
    lines = [ln for ln in text.splitlines() if re.match(r"\s*Stream #0:\d+.*: Video:", ln)]
    if not lines:
        return []
    found = re.search(r"Video: [^,]+, \w+\(([^)]*)\)", lines[min(stream_index, len(lines) - 1)])
    options = []
    for token in (t.strip() for t in (found.group(1).split(",") if found else ())):
        if token in ("tv", "pc"):
            options += ["-color_range", token]
        elif re.fullmatch(r"[\w-]+(/[\w-]+/[\w-]+)?", token) and token not in ("progressive", "tt", "bb", "tb", "bt"):
            names = token.split("/") if "/" in token else [token] * 3
            for option, name in zip(("-colorspace", "-color_primaries", "-color_trc"), names):
                if name not in ("unknown", "reserved", "unspecified"):
                    options += [option, name]
    return options


def _input_args(video, first: int, start_offset: float | None) -> tuple[list[str], list[str]]:
    """(input options, leading filters) that make decoding start at source frame `first`."""
    if first > 0 and start_offset is None:
        # no trustworthy seek in this container: decode from the start and count frames
        return [], [f"trim=start_frame={first}"]
    if first > 0:
        seek = (Fraction(first) - Fraction(1, 2)) / video.rate
        return ["-ss", f"{float(seek) + start_offset:.6f}"], []
    return [], []


def _x264(scene_rate: Fraction, out: str) -> list[str]:
    return ["-r", f"{scene_rate.numerator}/{scene_rate.denominator}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", VIDEO_CRF, "-pix_fmt", "yuv420p",
            "-map_metadata", "-1", out]


def plain_cut(frames) -> tuple[int, int, int, int] | None:
    """(first, decoded, held at the head, held at the tail) when `frames` (source frame per
    uploaded frame) is a run of consecutive frames with its ends maybe held, else None.
    Example: [0, 0, 0, 1, 2, 3, 3] -> (0, 4, 2, 1); [0, 1, 3, 4] -> None (a frame skipped)."""
    first, last = frames[0], frames[-1]
    head = next((i for i, f in enumerate(frames) if f != first), len(frames))
    tail = next((i for i, f in enumerate(reversed(frames)) if f != last), len(frames))
    middle = frames[head - 1:len(frames) - tail + 1] if head < len(frames) else [first]
    if middle != list(range(first, last + 1)):
        return None
    return first, last - first + 1, head - 1, (tail - 1 if head < len(frames) else 0)


def video_command(ff: str, video, scene_rate: Fraction, out: str, start_offset: float | None = 0.0) -> list[str]:
    """The re-encode of the uploaded frames when they are consecutive source frames (`plain_cut`),
    renumbered onto the scene rate grid (one frame per timeline frame).

    Worked example: 25 fps file, first_frame 5, frames 88, scene 24 fps ->
    ``-ss 0.18`` (4.5 frames: frame 5 has pts 0.2 >= 0.18, frame 4 at 0.16 is dropped),
    ``-frames:v 88``, ``settb=expr=1/24,setpts=N``, ``-r 24``: 88 frames lasting 3.667 s.
    `start_offset` (video_start_offset) moves the seek by the video stream's own delay: the
    same clip whose picture starts 0.2 s after its sound seeks to ``-ss 0.38``. None: the
    container has no exact seek (MPEG-TS lands frames late), so ``trim=start_frame=5`` counts
    decoded frames instead; slower for a late range of a long file, never wrong.
    """
    first, _decoded, held_start, held_end = plain_cut(video.source_frames())
    seek, filters = _input_args(video, first, start_offset)
    # Handles dragged past the media hold its first/last frame in Blender: clone them likewise.
    # Example: 3 held frames of frame 0 at the head, 10 frames -> 3 copies of frame 0, then 0..6.
    if held_start or held_end:
        filters.append(f"tpad=start={held_start}:start_mode=clone:stop={held_end}:stop_mode=clone")
    filters += [f"settb=expr={scene_rate.denominator}/{scene_rate.numerator}", "setpts=N"]
    if video.width % 2 or video.height % 2:
        filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2")
    return (_base(ff) + seek + ["-i", video.path, "-map", f"0:v:{video.stream_index}", "-frames:v", str(video.frames),
                                "-an", "-sn", "-dn", "-vf", ",".join(filters)] + _x264(scene_rate, out))


def decode_command(ff: str, video, first: int, decoded: int, start_offset: float | None) -> list[str]:
    """Source frames first .. first+decoded-1 as a raw YUV4MPEG stream on stdout (for `remap`)."""
    seek, filters = _input_args(video, first, start_offset)
    filters += ["crop=trunc(iw/2)*2:trunc(ih/2)*2", "format=yuv420p"]
    return (_base(ff) + seek + ["-i", video.path, "-map", f"0:v:{video.stream_index}", "-frames:v", str(decoded),
                                "-an", "-sn", "-dn", "-vf", ",".join(filters), "-f", "yuv4mpegpipe", "-"])


def encode_command(ff: str, scene_rate: Fraction, out: str, colors=()) -> list[str]:
    """x264 of the YUV4MPEG stream on stdin, at the scene rate, with the source's colour tags."""
    return _base(ff) + ["-f", "yuv4mpegpipe", "-i", "-", "-an"] + list(colors) + _x264(scene_rate, out)


def _frame_bytes(header: bytes) -> int:
    fields = dict((tok[:1], tok[1:]) for tok in header.split()[1:])
    width, height = int(fields[b"W"]), int(fields[b"H"])
    if not fields.get(b"C", b"420").startswith(b"420"):
        raise InputError(f"unexpected frame format from ffmpeg: {header[:80]!r}")
    return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)


def remap(decoder: subprocess.Popen, encoder: subprocess.Popen, counts, scene_rate: Fraction,
          cancel: threading.Event | None) -> None:
    """Copy decoded frame k of `decoder` to `encoder` counts[k] times (0 = skipped), renumbered
    at the scene rate: the frames Blender shows when a strip plays at its own rate (a frame shown
    twice, a frame skipped). Both processes are left to `finish`, which ends the encoder's input.

    Example: a 30 fps clip in a 24 fps scene with the playback rate: counts [1, 1, 0, 1, 1, 0, ...]
    -> source frames 0, 1, 3, 4, 6, ... at 1/24 s each.
    """
    source, sink = decoder.stdout, encoder.stdin
    try:
        header = source.readline()
        if not header.startswith(b"YUV4MPEG2 "):
            raise InputError("ffmpeg could not decode the video for the playback rate")
        size = _frame_bytes(header)
        tokens = [tok for tok in header.split() if not tok.startswith(b"F")]
        tokens.insert(3, f"F{scene_rate.numerator}:{scene_rate.denominator}".encode())
        sink.write(b" ".join(tokens) + b"\n")
        for count in counts:
            if cancel is not None and cancel.is_set():
                raise Cancelled("Cancelled while preparing media.")
            tag = source.readline()
            frame = source.read(size)
            if not tag.startswith(b"FRAME") or len(frame) < size:
                raise InputError("ffmpeg ended before the last source frame of the strip")
            for _ in range(count):
                sink.write(b"FRAME\n")
                sink.write(frame)
        sink.flush()   # `finish` closes the pipe: communicate() wants it open
    except BrokenPipeError:
        raise InputError("ffmpeg stopped while encoding the video for the playback rate") from None


def _samples(seconds: float) -> int:
    return round(Fraction(seconds) * AUDIO_RATE)


def _part_input(part) -> list[str]:
    return ["-ss", f"{part.file_start:.6f}", "-t", f"{part.duration + 0.05:.6f}", "-i", part.path]


def _gain(part) -> str:
    """The part's volume: a constant, or its animation (worker/envelope.py) evaluated every 5 ms
    from the part's first sample (timestamps restarted at 0, whatever the seek left)."""
    if not part.gain:
        return f"volume={part.volume:.6f}"
    return (f"asetnsamples=n={AUDIO_RATE // 200}:p=0,asetpts=N/SR/TB,"
            f"volume=eval=frame:volume='{envelope.expression(part.gain)}'")


def _part_chain(index: int, part, delay_samples: int = 0) -> str:
    chain = (f"[{index}:a:0]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=mono,"
             + _gain(part))
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


