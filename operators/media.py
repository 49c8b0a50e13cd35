"""Cut exactly the media a StripJob uses into files a provider accepts.

WORKER THREAD: no bpy here. Everything comes from the plain StripJob that strips.snapshot_job()
read on the main thread; ffmpeg comes from imageio-ffmpeg (a bundled wheel in the extension).

Video (frame-exact, reference/blender.md §3: never ``-c copy`` for a range, re-encode instead):
- an untrimmed strip whose file is already what providers take (MP4/MOV, H.264 8-bit 4:2:0,
  constant rate equal to the scene rate, no rotation, no start delay) is uploaded AS IS: the
  check reads the MP4 header in Python, no ffmpeg runs (`passthrough_reason`).
- otherwise: seek half a frame before the first visible frame (so rounding of ``-ss`` can never
  drop it), counted from the video stream's own start as Blender counts (`video_start_offset`;
  MPEG-TS and other containers without an exact seek are cut by frame count instead), take
  exactly ``frames`` frames, renumber them onto the SCENE rate grid
  (``settb=1/rate, setpts=N``: one uploaded frame per timeline frame, see strips.py), libx264
  veryfast CRF 23, yuv420p, no audio (every provider takes the dialogue as separate audio).
  That is the work of a plain ``ffmpeg -ss -t`` x264 re-encode and no more: a 20 s range of a
  60 s 1080p25 clip took 12.9-15.6 CPU s vs 13.6-14.6 for the plain command (CRF 18 cost 1.16x).
  Handles dragged past the media (Blender holds the first/last frame) are cloned with ``tpad``.
  Example: first_frame 30 of a 30000/1001 file -> ``-ss 0.984317`` (29.5 frames), frames 0..59 of
  the output are source frames 30..89 at pts n * 1001/30000.

Audio: MP3 mono 48 kHz at 96 kbit/s (1/8 of the 768 kbit/s of 16-bit 48 kHz WAV), accepted by all
five providers (providers.md: FoxAPI takes only MP3/WAV). Every file is padded/trimmed to an exact
sample count (``apad=whole_len, atrim=end_sample``), so a part of 1.5 s is 72000 samples.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import threading
import time
from fractions import Fraction

from ..client.media_info import mp4_boxes

AUDIO_RATE = 48000
AUDIO_BITRATE = "96k"
VIDEO_CRF = "23"  # x264's default: the plain re-encode's cost; providers re-encode their output anyway
_ACCEPTED_EXTS = (".mp4", ".mov", ".m4v")
# Indexed containers where ``-ss`` + the stream's start offset lands on the exact frame (checked
# against Blender's own frames in tests/blender/test_media.py); others are cut by frame count.
_SEEKABLE_EXTS = (".mp4", ".mov", ".m4v", ".mkv", ".webm")
_ACCEPTED_PROFILES = {66, 77, 88, 100}  # Baseline, Main, Extended, High: 8-bit; High may be 4:0:0


@dataclasses.dataclass(frozen=True)
class PreparedMedia:
    """Files ready for client.models.JobRequest.

    audio: client AudioInputs (ids "a1", "a2", ... in part order; one "a1" when mixed/plain)
    segments: client Segments in seconds of the uploaded video ([] for a plain or mixed job)
    mixed_audio_path: the single audio file when there are no segments, else None
    passthrough: the video is the strip's own file, unchanged
    video_duration: seconds of the uploaded video (frames / scene rate)
    timings: seconds spent per step, for logs and the bench
    """

    video_path: str
    audio: list
    segments: list
    mixed_audio_path: str | None
    passthrough: bool = False
    video_duration: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)


def _restore_exec_bit(imageio_ffmpeg) -> None:
    """Blender unpacks extension wheels without file modes, so the bundled ffmpeg arrives 0644.

    Give it its execute bit back before imageio-ffmpeg looks for it (it caches a miss for good).
    """
    import stat
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
        import imageio_ffmpeg
        _restore_exec_bit(imageio_ffmpeg)
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        import shutil
        found = shutil.which("ffmpeg")
        if found:
            return found
    from ..client.errors import InputError
    raise InputError("ffmpeg was not found (imageio-ffmpeg is missing); reinstall the extension.")


# --- MP4 header reading (pass-through check without running ffmpeg) -------------------------

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


def resolve_rate(video, ff: str | None = None):
    """`video` with its file rate filled in when the snapshot could not read it (rare: Blender
    had not loaded the movie). MP4/MOV header first, else the "NN fps" of ``ffmpeg -i``."""
    if video.rate:
        return video
    from .strips import exact_rate

    info = mp4_video_info(video.path)
    rate = info["rate"] if info and info["cfr"] and video.stream_index == 0 else None
    if rate is None:
        import re

        err = subprocess.run([ff or ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", video.path],
                             capture_output=True).stderr.decode("utf-8", "replace")
        rates = re.findall(r"Video:.*?, ([\d.]+) (?:fps|tbr)", err)
        if not rates:
            from ..client.errors import InputError
            raise InputError(f"Cannot read the frame rate of {video.path}")
        rate = exact_rate(float(rates[min(video.stream_index, len(rates) - 1)]), tolerance=3e-4)
    rate = exact_rate(float(rate))
    return dataclasses.replace(video, rate=rate, fps=float(rate),
                               file_start=float(Fraction(video.first_frame) / rate))


def passthrough_reason(video, scene_rate: Fraction) -> str | None:
    """None when `video` can be uploaded as its own file, else why not (for the log).

    "Accepted" = what every provider takes without surprises AND what Blender showed: all frames
    visible, MP4/MOV + H.264 8-bit 4:2:0, constant rate exactly the scene rate (else the upload
    must be retimed), the same frame count Blender counts, no rotation matrix (players and
    Blender may disagree on it) and no start delay (edit list), first video stream.
    """
    if not video.untrimmed:
        return "trimmed"
    if os.path.splitext(video.path)[1].lower() not in _ACCEPTED_EXTS:
        return "container"
    if video.stream_index != 0:
        return "stream index"
    info = mp4_video_info(video.path)
    if info is None:
        return "not an MP4/MOV video"
    if info["codec"] not in ("avc1", "avc3") or info["profile"] not in _ACCEPTED_PROFILES:
        return f"codec {info['codec']} profile {info['profile']}"
    if not info["chroma_ok"]:
        return "not 8-bit 4:2:0"
    if not info["cfr"] or info["rate"] is None:
        return "variable frame rate"
    from .strips import exact_rate
    if exact_rate(float(info["rate"])) != scene_rate:
        return f"rate {info['rate']} != scene {scene_rate}"
    if info["frames"] != video.frames:
        return f"{info['frames']} frames in file, {video.frames} on the timeline"
    if info["rotated"] or info["delayed"]:
        return "rotation or start delay"
    if info["width"] % 2 or info["height"] % 2:
        return "odd size"
    return None


# --- ffmpeg -----------------------------------------------------------------------------------

def _start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen, what: str, cancel: threading.Event | None) -> None:
    """Wait for ffmpeg, checking `cancel` every 50 ms; raise Cancelled / InputError."""
    from ..client.errors import Cancelled, InputError

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
    import re

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


def _enabled_parts(parts, overrides: dict | None):
    """(part index, part, options_override) for every part not disabled by its override."""
    chosen = []
    overrides = overrides or {}
    for index, part in enumerate(parts):
        override = dict(overrides.get(index, overrides.get(str(index))) or {})
        if override.pop("enabled", True) is False:
            continue
        chosen.append((index, part, override))
    return chosen


def prepare_media(job, work_dir, *, use_segments: bool, segment_overrides=None, cancel=None) -> PreparedMedia:
    """Write the upload files for `job` into `work_dir` (created if missing).

    use_segments=True: one cut file per enabled part ("a1", "a2", ... by part order) and one
    Segment per part, start/end in seconds of the uploaded video. segment_overrides maps a part
    index (0-based, as in job.audio) to an options dict: {"enabled": False} drops the part, other
    keys become Segment.options_override.
    use_segments=False, or a single part that covers the whole video with no override: ONE audio
    file exactly the video's duration (parts at their offsets, silence elsewhere), no segments.
    """
    from ..client.errors import Cancelled, InputError
    from ..client.models import AudioInput, Segment

    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled before preparing media.")
    t0 = time.perf_counter()
    os.makedirs(work_dir, exist_ok=True)
    video, rate = resolve_rate(job.video), job.scene_rate
    chosen = _enabled_parts(job.audio, segment_overrides)
    if not chosen:
        raise InputError("Every dialogue part is disabled; enable at least one sound strip.")
    timings = {}

    reason = passthrough_reason(video, rate)
    procs = []
    video_path = video.path if reason is None else os.path.join(work_dir, "video.mp4")
    timings["video_check"] = time.perf_counter() - t0

    duration = float(Fraction(video.frames) / rate)
    covers_all = (len(chosen) == 1 and not chosen[0][2] and chosen[0][1].video_offset == 0
                  and abs(chosen[0][1].duration - duration) < 1e-9)
    audio, segments, mixed = [], [], None
    try:
        ff = ffmpeg_exe()
        if not use_segments or covers_all:
            mixed = os.path.join(work_dir, "mix.mp3")
            parts = [part for _i, part, _o in chosen]
            procs.append((_start(mixed_audio_command(ff, parts, duration, mixed)), "mixed audio"))
            audio.append(AudioInput(id="a1", path=mixed))
        else:
            for number, (_index, part, override) in enumerate(chosen, start=1):
                ident = f"a{number}"
                path = os.path.join(work_dir, f"{ident}.mp3")
                procs.append((_start(audio_part_command(ff, part, path)), f"audio of {part.strip_name}"))
                audio.append(AudioInput(id=ident, path=path))
                start = min(max(part.video_offset, 0.0), duration)
                end = min(part.video_offset + part.duration, duration)
                segments.append(Segment(start=start, end=end, audio_id=ident, options_override=override))
        if reason is not None:
            # Started after the audio encodes so the stream probe overlaps them. Only a seek can
            # land on the wrong frame; from frame 0 ffmpeg starts at the first picture anyway.
            offset = 0.0
            if video.first_frame > 0:
                seekable = os.path.splitext(video.path)[1].lower() in _SEEKABLE_EXTS
                offset = video_start_offset(ff, video.path, video.stream_index) if seekable else None
            procs.append((_start(video_command(ff, video, rate, video_path, offset)), "video"))
        for proc, what in procs:
            _finish(proc, what, cancel)
    finally:
        for proc, _what in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    timings["total"] = time.perf_counter() - t0
    return PreparedMedia(video_path=video_path, audio=audio, segments=segments, mixed_audio_path=mixed,
                         passthrough=reason is None, video_duration=duration, timings=timings)
