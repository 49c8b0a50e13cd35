"""Cut exactly the media a StripJob uses into files a provider accepts.

WORKER THREAD: no bpy here. Everything comes from the plain StripJob (worker/plan.py) that
vse/snapshot.py read on the main thread; the ffmpeg command lines are in worker/ffmpeg.py; ffmpeg
comes from imageio-ffmpeg (a bundled wheel in the extension).

Video (frame-exact, docs/blender.md §3: never ``-c copy`` for a range, re-encode instead):
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
five providers (docs/providers.md §4: FoxAPI takes only MP3/WAV). Every file is padded/trimmed to an exact
sample count (``apad=whole_len, atrim=end_sample``), so a part of 1.5 s is 72000 samples.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from fractions import Fraction

from ..client.errors import Cancelled, InputError
from ..client.media_info import mp4_video_info
from ..client.models import AudioInput, Segment
from . import envelope, ffmpeg, framemap, ranges, speech
from .plan import exact_rate

_ACCEPTED_EXTS = (".mp4", ".mov", ".m4v")
_ACCEPTED_PROFILES = {66, 77, 88, 100}  # Baseline, Main, Extended, High: 8-bit; High may be 4:0:0


@dataclasses.dataclass(frozen=True)
class PreparedMedia:
    """Files ready for client.models.JobRequest.

    audio: client AudioInputs (ids "a1", "a2", ... in part order; one "a1" when mixed/plain)
    text: client TextInputs of the spoken lines (ids "t1", "t2", ...; worker/speech.py)
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
    text: list = dataclasses.field(default_factory=list)


def resolve_rate(video, ff: str | None = None):
    """`video` with its file rate filled in when the snapshot could not read it (rare: Blender
    had not loaded the movie). MP4/MOV header first, else the "NN fps" of ``ffmpeg -i``."""
    if video.rate:
        return video
    info = mp4_video_info(video.path)
    rate = info["rate"] if info and info["cfr"] and video.stream_index == 0 else None
    if rate is None:
        printed = ffmpeg.video_rate(ff or ffmpeg.ffmpeg_exe(), video.path, video.stream_index)
        if printed is None:
            raise InputError(f"Cannot read the frame rate of {video.path}")
        rate = exact_rate(printed, tolerance=3e-4)
    rate = exact_rate(float(rate))
    return dataclasses.replace(video, rate=rate, fps=float(rate),
                               file_start=float(Fraction(video.first_frame) / rate))


def settle_length(video):
    """`video` with its content length read from the file when Blender's timeline length leaves it
    open (a clip with the playback rate, faster than the scene: worker/framemap.lengths_for)."""
    fmap = video.frame_map
    if fmap is None or fmap.n_src_max <= fmap.n_src:
        return video
    info = mp4_video_info(video.path) if video.stream_index == 0 else None
    settled = framemap.settle_length(fmap, info["frames"] if info else None)
    return dataclasses.replace(video, frame_map=settled, total_frames=settled.file_frames)


def _cut_video(ff, video, rate, out, procs, cancel) -> None:
    """Start the cut of the uploaded frames (appended to `procs`): one ffmpeg when they are
    consecutive source frames, else a decoder and an encoder with `ffmpeg.remap` copying the frames
    Blender shows between them (run here, in the worker thread)."""
    frames = video.source_frames()
    cut = ffmpeg.plain_cut(frames)
    first = frames[0]
    # Only a seek can land on the wrong frame; from frame 0 ffmpeg starts at the first picture anyway.
    seekable = os.path.splitext(video.path)[1].lower() in ffmpeg.SEEKABLE_EXTS
    text = ffmpeg.probe(ff, video.path) if (first > 0 and seekable) or cut is None else ""
    offset = 0.0
    if first > 0:
        offset = ffmpeg.video_start_offset(ff, video.path, video.stream_index, text) if seekable else None
    if cut is not None:
        procs.append((ffmpeg.start(ffmpeg.video_command(ff, video, rate, out, offset)), "video"))
        return
    counts = [0] * (frames[-1] - first + 1)
    for frame in frames:
        counts[frame - first] += 1
    decoder = ffmpeg.start(ffmpeg.decode_command(ff, video, first, len(counts), offset), stdout=subprocess.PIPE)
    procs.append((decoder, "video"))
    encoder = ffmpeg.start(ffmpeg.encode_command(ff, rate, out, ffmpeg.stream_colors(text, video.stream_index)),
                           stdin=subprocess.PIPE)
    procs.append((encoder, "video"))
    ffmpeg.remap(decoder, encoder, counts, rate, cancel)


def _voices(chosen) -> list[tuple[float, float, list]]:
    """`chosen` (index, part, override) as non-overlapping segments: (start, end, parts heard).
    A segment has one audio, so where dialogue overlaps the voices are mixed into a segment of
    their own (issue 14) instead of two segments fighting over the same frames; each part keeps
    its own segment, and options, where it is heard alone."""
    spans = [(part.video_offset, part.video_offset + part.duration) for _i, part, _o in chosen]
    return [(a, b, [chosen[i] for i in heard]) for a, b, heard in envelope.voices(spans)]


def _segment_audio(ff, chosen, work_dir, duration, procs, audio, segments) -> None:
    """Start one audio cut per segment (appended to `procs`), with its AudioInput and Segment:
    one part's cut where it is heard alone, the mix of the parts heard together elsewhere. A mix
    takes the options of the part that started first (the artist is told, vse/records.py notes)."""
    for number, (first, last, group) in enumerate(_voices(chosen), start=1):
        ident = f"a{number}"
        path = os.path.join(work_dir, f"{ident}.mp3")
        parts = [ranges.clip_part(part, first, last) for _i, part, _o in group]
        if len(group) == 1 and parts[0].duration == group[0][1].duration:
            cmd = ffmpeg.audio_part_command(ff, parts[0], path)
        else:
            cmd = ffmpeg.mixed_audio_command(ff, parts, last - first, path)
        procs.append((ffmpeg.start(cmd), f"audio of {group[0][1].strip_name}"))
        audio.append(AudioInput(id=ident, path=path))
        start, end = min(max(first, 0.0), duration), min(last, duration)
        segments.append(Segment(start=start, end=end, audio_id=ident, options_override=group[0][2]))


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
    if exact_rate(float(info["rate"])) != scene_rate:
        return f"rate {info['rate']} != scene {scene_rate}"
    if info["frames"] != video.frames:
        return f"{info['frames']} frames in file, {video.frames} on the timeline"
    if info["rotated"] or info["delayed"]:
        return "rotation or start delay"
    if info["width"] % 2 or info["height"] % 2:
        return "odd size"
    return None


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
    if cancel is not None and cancel.is_set():
        raise Cancelled("Cancelled before preparing media.")
    t0 = time.perf_counter()
    os.makedirs(work_dir, mode=0o700, exist_ok=True)   # cut media: this user's only (issue #13)
    video, rate = settle_length(resolve_rate(job.video)), job.scene_rate
    chosen = _enabled_parts(job.audio, segment_overrides)
    if not chosen and not job.text:
        raise InputError("Every dialogue part is disabled; enable at least one sound strip.")
    # spoken lines cannot be mixed into a track: with them, every part is a segment (worker/speech.py)
    lines = speech.needs_segments(job, bool(chosen))
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
        ff = ffmpeg.ffmpeg_exe()
        if not chosen:
            pass   # text only: nothing to cut but the video
        elif (not use_segments or covers_all) and not lines:
            mixed = os.path.join(work_dir, "mix.mp3")
            parts = [part for _i, part, _o in chosen]
            procs.append((ffmpeg.start(ffmpeg.mixed_audio_command(ff, parts, duration, mixed)), "mixed audio"))
            audio.append(AudioInput(id="a1", path=mixed))
        else:
            _segment_audio(ff, chosen, work_dir, duration, procs, audio, segments)
        if lines:
            segments += speech.text_segments(job, duration)
        if reason is not None:
            # Started after the audio encodes so the video work overlaps them.
            _cut_video(ff, video, rate, video_path, procs, cancel)
        for proc, what in procs:
            ffmpeg.finish(proc, what, cancel)
    finally:
        for proc, _what in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    timings["total"] = time.perf_counter() - t0
    return PreparedMedia(video_path=video_path, audio=audio, segments=segments, mixed_audio_path=mixed,
                         passthrough=reason is None, video_duration=duration, timings=timings,
                         text=speech.text_inputs(job))
