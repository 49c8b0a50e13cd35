"""Read sequencer strips into plain data: what to upload and where the result goes.

MAIN THREAD ONLY. `snapshot_job()` only reads RNA (plus an `os.path.isfile` per file) and returns
frozen dataclasses with no bpy object inside; ffmpeg and every other slow step happen later in a
worker (`media.prepare_media`). Bad input raises the client's `InputError` before anything is
uploaded or paid for, and nothing in the scene is changed.

How Blender times strips (measured on bpy 4.5, 5.0 and 5.2, reference/blender.md §2):

- A movie strip shows ONE SOURCE FRAME PER TIMELINE FRAME, whatever its own frame rate: a 100-frame
  25 fps clip in a 24 fps scene lasts 100 timeline frames (4.17 s, played 4 % slow). Timeline
  frame ``f`` shows source frame ``f - content_start + content_trim_start``
  (4.x names: ``frame_start``, ``animation_offset_start``).
- A sound strip plays in seconds: it lasts ``seconds x scene fps`` frames, and timeline frame ``f``
  plays the sound file at ``(f - content_start + content_trim_start) / scene_fps - sound_offset``
  seconds (``sound_offset`` delays the sound; measured with clicks in a mixdown).
- Both are visible on ``[left_handle, right_handle)`` (4.x: ``frame_final_start/end``).

So the artist judges lip sync against the video played at the SCENE rate. We therefore upload the
visible source frames retimed to the scene rate (one uploaded frame per timeline frame), and all
times sent to the provider are seconds of that uploaded video = seconds of the timeline from the
video's left handle. The result, placed at the left handle, then lines up frame for frame.

Rates are exact fractions (29.97 is 30000/1001): see `exact_rate`.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

from .. import compat


@dataclasses.dataclass(frozen=True)
class VideoSource:
    """The visible part of a movie strip, as source-file seconds and as uploaded-video seconds.

    path        absolute path of the movie file
    fps         the file's own frame rate (Blender's, from ``elements[0].orig_fps``); 0.0 when
                Blender has not loaded the movie yet (the worker then reads it from the file)
    file_start  seconds into the file of the first visible frame = first_frame / file rate
                (NaN while the rate is unknown)
    duration    seconds the visible range lasts on the timeline = frames / scene rate; this is
                also the duration of the uploaded video (retimed to the scene rate)
    frames      visible timeline frames (= source frames uploaded, one per timeline frame)
    width/height  picture size in pixels (0 when Blender has not loaded the movie yet)
    first_frame source frame index (0-based) of the first visible frame
    rate        exact file rate (None while unknown); the scene rate is on the StripJob
    total_frames  the file's frame count as Blender sees it (for the untrimmed pass-through)
    stream_index  video stream Blender shows (``MovieStrip.stream_index``)
    """

    path: str
    fps: float
    file_start: float
    duration: float
    frames: int
    width: int
    height: int
    first_frame: int = 0
    rate: Fraction | None = None
    total_frames: int = 0
    stream_index: int = 0

    @property
    def untrimmed(self) -> bool:
        """Every frame of the file is visible (candidate for upload as is)."""
        return self.first_frame == 0 and self.frames == self.total_frames


@dataclasses.dataclass(frozen=True)
class AudioPart:
    """The overlap of one sound strip with the video's visible range.

    file_start    seconds into the sound file where the overlap starts
    duration      seconds of the overlap
    video_offset  seconds from the video's first visible frame to the start of the overlap (>= 0)
    volume        the strip's volume (applied when cutting; muted strips never become parts)
    frame_start/frame_end  the overlap in timeline frames ([start, end), ints)
    channel       the sound strip's channel (parts are ordered by video_offset, then channel)
    """

    strip_name: str
    path: str
    file_start: float
    duration: float
    video_offset: float
    volume: float
    frame_start: int = 0
    frame_end: int = 0
    channel: int = 0


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the take goes: names, not bpy objects (strips may be renamed, so the workflow keeps
    its own link too). frame_end is exclusive (the right handle). meta = name of the meta strip
    that holds the source, "" at top level. handle_start: frames of pre-roll at the head of the
    upload (operators/ranges.py handles) that the take hides, so it still starts on frame_start."""

    scene: str
    source_strip: str
    source_channel: int
    frame_start: int
    frame_end: int
    meta: str = ""
    handle_start: int = 0


@dataclasses.dataclass(frozen=True)
class StripJob:
    video: VideoSource
    audio: tuple[AudioPart, ...]
    placement: Placement
    scene_fps: float
    scene_rate: Fraction = Fraction(25)


def _input_error(message: str):
    from ..client.errors import InputError

    return InputError(message)


def exact_rate(value: float, tolerance: float = 2e-7) -> Fraction:
    """Snap a float frame rate from RNA to the exact rational rate it stands for.

    RNA floats are 32-bit, so the NTSC scene rate ``30 / fps_base`` reads as 29.9700285... and a
    29.97 clip's ``MovieStrip.fps`` as 29.9700298...; using those floats for frame -> time drifts.

    >>> exact_rate(30 / 1.0010000467300415), exact_rate(25.0), exact_rate(23.976023976)
    (Fraction(30000, 1001), Fraction(25, 1), Fraction(24000, 1001))
    >>> exact_rate(12.5)
    Fraction(25, 2)

    The default tolerance (2e-7 relative) covers float32 rounding (< 6e-8) yet keeps 23.976
    (= 2997/125, 1e-6 away from 24000/1001) distinct. Rates printed by ``ffmpeg -i`` ("23.98
    fps") need ``tolerance=3e-4``.
    """
    if value <= 0:
        raise ValueError(f"frame rate must be positive, got {value}")
    candidates = (Fraction(round(value)), Fraction(round(value * Fraction(1001, 1000)) * 1000, 1001))
    for candidate in candidates:
        if candidate and abs(float(candidate) - value) <= value * tolerance:
            return candidate
    return Fraction(value).limit_denominator(1001)


def scene_rate(scene) -> Fraction:
    """Exact scene frame rate: fps=30, fps_base=1.001 -> 30000/1001."""
    render = scene.render
    return exact_rate(render.fps / render.fps_base)


def _abspath(path: str, library=None) -> str:
    import bpy

    return os.path.normpath(bpy.path.abspath(path, library=library))


def _retimed(strip) -> bool:
    keys = getattr(strip, "retiming_keys", None)
    return bool(keys is not None and len(keys))


_TYPE_ADVICE = {
    "SOUND": "is a sound strip; select the movie (video) strip to lip-sync - sound strips are the dialogue",
    "IMAGE": "is an image strip (a still or an image sequence); lip-sync needs a movie strip: render it to a video file and add that",
    "META": "is a meta strip; open it (Tab) and select the movie strip inside",
    "SCENE": "is a scene strip; render the scene to a video file and add it as a movie strip",
    "MOVIECLIP": "is a clip strip (Movie Clip Editor data); add the video file as a movie strip instead",
    "COLOR": "is a color strip and has no video to lip-sync; select a movie strip",
    "TEXT": "is a text strip and has no video to lip-sync; select a movie strip",
}


def _check_movie(strip) -> None:
    kind = compat.strip_type(strip)
    if kind != "MOVIE":
        advice = _TYPE_ADVICE.get(kind, f"is a {kind.lower()} strip, not a movie strip; select a movie strip")
        raise _input_error(f'Strip "{strip.name}" {advice}.')


def _parents(scene) -> dict:
    """Strip name -> the meta strip that holds it, for every strip inside a meta."""
    sed = scene.sequence_editor
    parents = {}
    for meta in compat.strips_all(sed) if sed else ():
        if compat.strip_type(meta) == "META":
            for child in compat.strips(meta):
                parents[child.name] = meta
    return parents


def _ancestors(strip, parents) -> list:
    chain, name = [], strip.name
    while name in parents and len(chain) < 64:
        chain.append(parents[name])
        name = chain[-1].name
    return chain


def effective_range(strip, parents=None) -> tuple[int, int]:
    """Visible range on the timeline, clipped by the metas holding the strip.

    Strips inside a meta keep absolute timeline frames; the meta's own handles hide what lies
    outside them. Example: a movie on 10..200 inside a meta trimmed to 50..120 shows 50..120.
    """
    left, right = (int(f) for f in compat.visible_range(strip))
    for meta in _ancestors(strip, parents or {}):
        m_left, m_right = compat.visible_range(meta)
        left, right = max(left, int(m_left)), min(right, int(m_right))
    return left, right


def _audible(strip, parents) -> bool:
    return not strip.mute and strip.volume > 0 and not any(m.mute for m in _ancestors(strip, parents))


def _speed_effect_of(scene, strip):
    """The Speed effect strip fed by `strip`, if any (it changes what the artist sees and hears)."""
    sed = getattr(scene, "sequence_editor", None)
    if sed is None:
        return None
    for other in compat.strips_all(sed):
        if compat.strip_type(other) == "SPEED" and getattr(other, "input_1", None) == strip:
            return other
    return None


def read_video(scene, strip, rate: Fraction | None = None, parents=None) -> VideoSource:
    """The visible range of a movie strip as a VideoSource.

    Worked example (24 fps scene, 100-frame 25 fps clip added at frame 11, then trimmed with
    ``frame_offset_start = 5`` and ``frame_offset_end = 7``):

    - handles: left 16, right 104 -> ``frames = 88``
    - source frame at 16 = 16 - content_start 11 + content_trim_start 0 = 5 -> ``first_frame = 5``,
      ``file_start = 5/25 = 0.2 s`` into the file
    - the 88 frames play at the scene rate: ``duration = 88/24 = 3.666.. s`` (in the file they
      span 88/25 = 3.52 s; the upload is retimed to 24 fps so it lasts what the artist watched)

    NTSC: a 30000/1001 clip in a 30000/1001 scene trimmed to frames 31..91 has
    ``file_start = 30 * 1001/30000 = 1.001 s`` and ``duration = 60 * 1001/30000 = 2.002 s``.
    """
    _check_movie(strip)
    rate = rate or scene_rate(scene)
    left, right = effective_range(strip, parents)
    frames = right - left
    if frames <= 0:
        raise _input_error(f'Movie strip "{strip.name}" has zero length ({left}..{right}).')
    if _retimed(strip):
        raise _input_error(
            f'Movie strip "{strip.name}" is retimed (retiming keys); lip-sync needs it at normal '
            "speed: reset its retiming (Strip > Retiming > Reset) or render it to a new file.")
    speed = _speed_effect_of(scene, strip)
    if speed is not None:
        raise _input_error(
            f'Movie strip "{strip.name}" is retimed by the Speed strip "{speed.name}"; lip-sync needs what '
            "plays at normal speed: render the retimed shot to a new file and lip-sync that.")
    if strip.use_reverse_frames:
        raise _input_error(f'Movie strip "{strip.name}" plays in reverse; turn off Reverse Frames '
                           "or render it to a new file.")
    if getattr(strip, "strobe", 1.0) > 1.0:
        raise _input_error(f'Movie strip "{strip.name}" uses Strobe {strip.strobe:g}; set it to 1 '
                           "or render it to a new file.")
    path = _abspath(strip.filepath, getattr(scene, "library", None))
    if not strip.filepath or not os.path.isfile(path):
        raise _input_error(f'The movie file of strip "{strip.name}" was not found: {path}')
    content_start = compat.get_timing(strip, "frame_start")
    trim_start = int(compat.get_timing(strip, "animation_offset_start"))
    trim_end = int(compat.get_timing(strip, "animation_offset_end"))
    first = int(round(left - content_start)) + trim_start
    total = int(compat.get_timing(strip, "frame_duration")) + trim_start + trim_end
    # Never read MovieStrip.fps here: its getter opens the movie (40-150 ms per read, measured on
    # a 1080p file). The element keeps the rate Blender read when it loaded the file (saved in
    # the .blend); if it is 0 the worker reads the rate from the file (media.resolve_rate).
    width = height = 0
    file_rate = None
    if len(strip.elements):
        element = strip.elements[0]
        width, height = element.orig_width, element.orig_height
        if element.orig_fps > 0:
            file_rate = exact_rate(element.orig_fps)
    return VideoSource(
        path=path,
        fps=float(file_rate or 0.0),
        file_start=float(first / file_rate) if file_rate else float("nan"),
        duration=float(frames / rate),
        frames=frames,
        width=int(width),
        height=int(height),
        first_frame=first,
        rate=file_rate,
        total_frames=total,
        stream_index=int(getattr(strip, "stream_index", 0)),
    )


def _sound_path(strip) -> str:
    sound = strip.sound
    if sound is None:
        raise _input_error(f'Sound strip "{strip.name}" has no sound data.')
    if sound.packed_file is not None:
        raise _input_error(f'The sound of strip "{strip.name}" is packed into the .blend; unpack it '
                           "(File > External Data > Unpack Resources) so it can be uploaded.")
    path = _abspath(sound.filepath, sound.library)
    if not sound.filepath or not os.path.isfile(path):
        raise _input_error(f'The sound file of strip "{strip.name}" was not found: {path}')
    return path


def read_audio_part(strip, video_range: tuple[int, int], rate: Fraction, parents=None) -> AudioPart | None:
    """The part of sound strip `strip` heard during `video_range` (timeline frames), or None.

    Worked example (24 fps scene; video visible on 100..220; sound strip with content_start 90,
    handles 110..300, content_trim_start 0, sound_offset 0.25 s):

    - overlap = [max(110, 100), min(300, 220)) = [110, 220): 110 frames -> ``duration = 110/24 s``
    - ``video_offset = (110 - 100)/24 = 0.4166.. s`` (= 10 frames into the uploaded video)
    - file time at frame 110 = (110 - 90 + 0)/24 - 0.25 = 0.5833.. s -> ``file_start``

    When ``sound_offset`` delays the sound past the overlap start, the file time is negative: that
    stretch is silence, so the part starts later (video_offset grows, duration shrinks).
    """
    if compat.strip_type(strip) != "SOUND":
        raise _input_error(f'Strip "{strip.name}" is not a sound strip; dialogue must be sound strips.')
    left, right = effective_range(strip, parents)
    start, end = max(left, video_range[0]), min(right, video_range[1])
    if end <= start or not _audible(strip, parents or {}):
        return None
    if _retimed(strip):
        raise _input_error(
            f'Sound strip "{strip.name}" is retimed (speed/pitch change); lip-sync needs it at '
            "normal speed: reset its retiming or render the audio to a new file.")
    path = _sound_path(strip)
    content_start = Fraction(compat.get_timing(strip, "frame_start"))
    trim_start = Fraction(compat.get_timing(strip, "animation_offset_start"))
    sound_offset = Fraction(getattr(strip, "sound_offset", 0.0))
    file_start = (start - content_start + trim_start) / rate - sound_offset
    video_offset = Fraction(start - video_range[0]) / rate
    duration = Fraction(end - start) / rate
    if file_start < 0:  # silence before the delayed sound begins
        video_offset, duration, file_start = video_offset - file_start, duration + file_start, Fraction(0)
        if duration <= 0:
            return None
    return AudioPart(
        strip_name=strip.name,
        path=path,
        file_start=float(file_start),
        duration=float(duration),
        video_offset=float(video_offset),
        volume=float(strip.volume),
        frame_start=start,
        frame_end=end,
        channel=int(strip.channel),
    )


def overlapping_sounds(scene, movie_strip) -> list:
    """Audible sound strips (unmuted, volume > 0, not in a muted meta) overlapping the movie's
    visible range, by channel."""
    sed = scene.sequence_editor
    if sed is None:
        return []
    parents = _parents(scene)
    left, right = effective_range(movie_strip, parents)
    found = []
    for strip in compat.strips_all(sed):
        if compat.strip_type(strip) != "SOUND" or not _audible(strip, parents):
            continue
        s_left, s_right = effective_range(strip, parents)
        if s_left < right and s_right > left:
            found.append(strip)
    found.sort(key=lambda s: (s.channel, compat.visible_range(s)[0]))
    return found


def snapshot_job(scene, movie_strip, sound_strips=None) -> StripJob:
    """Everything a worker needs to prepare the upload, read now on the main thread.

    `sound_strips` None = every overlapping unmuted sound strip. Raises InputError (nothing
    changed, nothing sent) for: not a movie strip, missing file, zero length, retimed/reversed
    strips, scene time remapping, no audible sound strip overlapping the video.
    """
    render = scene.render
    if render.frame_map_old != render.frame_map_new:
        raise _input_error(
            f"Scene \"{scene.name}\" remaps time (Time Stretching {render.frame_map_old} -> "
            f"{render.frame_map_new}); set both to the same value to lip-sync.")
    rate = scene_rate(scene)
    parents = _parents(scene)
    video = read_video(scene, movie_strip, rate, parents)
    video_range = effective_range(movie_strip, parents)
    if sound_strips is None:
        sound_strips = overlapping_sounds(scene, movie_strip)
    parts = []
    for strip in sound_strips:
        if strip == movie_strip:
            continue
        part = read_audio_part(strip, video_range, rate, parents)
        if part is not None:
            parts.append(part)
    if not parts:
        raise _input_error(
            f'No audible sound strip overlaps movie strip "{movie_strip.name}" (frames '
            f"{video_range[0]}..{video_range[1]}); put the dialogue on a sound strip under it "
            "(muted strips do not count).")
    parts.sort(key=lambda p: (p.video_offset, p.channel, p.strip_name))
    placement = Placement(
        scene=scene.name,
        source_strip=movie_strip.name,
        source_channel=int(movie_strip.channel),
        frame_start=video_range[0],
        frame_end=video_range[1],
        meta=parents[movie_strip.name].name if movie_strip.name in parents else "",
    )
    return StripJob(video=video, audio=tuple(parts), placement=placement,
                    scene_fps=float(rate), scene_rate=rate)
