"""The plain plan of a job: what to upload (in seconds of the source media) and where the take goes.

Frozen dataclasses with no bpy object inside, made on the main thread by vse/snapshot.py and
read by workers (worker/media.py, worker/fingerprint.py). How Blender maps timeline frames to
source frames, which these fields encode, is in docs/architecture.md ("Frames and seconds").

Rates are exact fractions (29.97 is 30000/1001): see `exact_rate`.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from .framemap import FrameMap, source_frames


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
    frames      timeline frames uploaded (one uploaded frame per timeline frame)
    width/height  picture size in pixels (0 when Blender has not loaded the movie yet)
    first_frame source frame index (0-based) of the first uploaded frame
    rate        exact file rate (None while unknown); the scene rate is on the StripJob
    total_frames  the file's frame count as Blender sees it (for the untrimmed pass-through)
    stream_index  video stream Blender shows (``MovieStrip.stream_index``)
    frame_map   how the strip picks source frames (worker/framemap.py); None = one source frame
                per timeline frame from first_frame on, as before the map existed
    timeline_start  timeline frame of the first uploaded frame (handles included)
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
    frame_map: FrameMap | None = None
    timeline_start: int = 0

    @property
    def untrimmed(self) -> bool:
        """Every frame of the file is visible (candidate for upload as is)."""
        return self.first_frame == 0 and self.frames == self.total_frames and self.one_to_one

    @property
    def one_to_one(self) -> bool:
        """Upload frame i is source frame first_frame + i (no playback-rate mapping)."""
        return self.frame_map is None or self.frame_map.plain

    def source_frames(self) -> list[int]:
        """The source frame of every uploaded frame (what Blender shows at its timeline frame).

        Example: a 30 fps clip added with Add > Movie to a 24 fps scene at frame 1 (factor 1.25):
        timeline frames 1, 2, 3, 4, 5 show source frames 0, 1, 3, 4, 5 (2.5 rounds up to 3).
        """
        if self.frame_map is None:
            last = self.total_frames - 1 if self.total_frames else None
            return [min(max(self.first_frame + i, 0), last if last is not None else self.first_frame + i)
                    for i in range(self.frames)]
        return list(source_frames(self.frame_map, self.timeline_start, self.frames))


@dataclasses.dataclass(frozen=True)
class AudioPart:
    """The overlap of one sound strip with the video's visible range.

    file_start    seconds into the sound file where the overlap starts
    duration      seconds of the overlap
    video_offset  seconds from the video's first visible frame to the start of the overlap (>= 0)
    volume        the strip's volume (applied when cutting; muted strips never become parts); 1.0
                  when `gain` holds its animation
    gain          the volume animation as (seconds from the part's start, gain) points, () when
                  the volume is not animated (worker/envelope.py, docs/blender.md §9)
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
    gain: tuple[tuple[float, float], ...] = ()


@dataclasses.dataclass(frozen=True)
class TextPart:
    """A Text strip over the video's visible range: a line the provider speaks (TTS, issue 17).

    text          the strip's text, as written
    voice         the voice id (the segment row's override, else the panel's, else the preferences')
    video_offset  seconds from the video's first visible frame to the strip's start (>= 0)
    duration      seconds the strip covers inside the visible range (the speech may be shorter
                  or longer: its length is only known once spoken)
    frame_start/frame_end  that overlap in timeline frames ([start, end))
    stability/similarity_boost  TTS settings, 0..1, None = the TTS provider's default
    """

    strip_name: str
    text: str
    voice: str
    video_offset: float
    duration: float
    frame_start: int = 0
    frame_end: int = 0
    channel: int = 0
    stability: float | None = None
    similarity_boost: float | None = None


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the take goes: names, not bpy objects (strips may be renamed, so the workflow keeps
    its own link too). frame_end is exclusive (the right handle). meta = name of the meta strip
    that holds the source, "" at top level. handle_start: frames of pre-roll at the head of the
    upload (worker/ranges.py handles) that the take hides, so it still starts on frame_start.

    Written into the job record (vse/placement.anchored), so the take is planned at apply time
    against the source as it is then: source_uid names the source (renames do not matter),
    source_origin is floor(content_start - content_trim_start) at submit (a move shifts it, a trim
    does not), scene_rate the exact scene rate at submit ("25", "30000/1001"). "" / 0 in records
    written before these existed: the take then goes on the recorded frames."""

    scene: str
    source_strip: str
    source_channel: int
    frame_start: int
    frame_end: int
    meta: str = ""
    handle_start: int = 0
    source_uid: str = ""
    source_origin: int = 0
    scene_rate: str = ""


@dataclasses.dataclass(frozen=True)
class StripJob:
    video: VideoSource
    audio: tuple[AudioPart, ...]
    placement: Placement
    scene_fps: float
    scene_rate: Fraction = Fraction(25)
    text: tuple[TextPart, ...] = ()


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
