"""Where every output frame and audio sample comes from: sync_mode and segments as data.

Pure functions (no ffmpeg) so the frame arithmetic can be read and tested on its own.
Durations per sync_mode follow docs/providers.md §1.16 / §4.2:
cut_off = min(video, audio); loop / bounce / remap = audio; silence = video.
With segments the output keeps the video's length and every segment's (cropped) audio is placed
at its [start, end) on the video timeline, silence elsewhere.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

SYNC_MODES = ("bounce", "loop", "cut_off", "silence", "remap")


@dataclass(frozen=True)
class Segment:
    """One segment in seconds of the uploaded video; audio_start/audio_end crop the referenced audio."""

    start: float
    end: float
    audio_id: str
    audio_start: float | None = None
    audio_end: float | None = None


@dataclass
class Speaker:
    """Active-speaker hint, in pixels of the input video (docs/providers.md §1.4)."""

    auto: bool = False
    frame: int | None = None
    point: tuple[float, float] | None = None
    boxes: list | None = None  # per source frame: [x1, y1, x2, y2] or None

    def point_for(self, src_frame: int) -> tuple[float, float] | None:
        if self.boxes:
            box = self.boxes[src_frame] if src_frame < len(self.boxes) else None
            if box:
                x1, y1, x2, y2 = box
                # A box frames the face; the mouth sits in its lower quarter.
                return ((x1 + x2) / 2.0, y1 + 0.75 * (y2 - y1))
            return None
        return self.point

    def as_dict(self) -> dict:
        return {"auto": self.auto, "frame": self.frame, "point": list(self.point) if self.point else None,
                "boxes": self.boxes}


@dataclass
class Plan:
    """What to render: source frame per output frame, plus the output audio track."""

    frame_map: list[int]
    audio: array  # mono s16 at `rate`, exactly len(frame_map) / fps seconds long
    rate: int
    fps: float
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.frame_map) / self.fps


def output_seconds(sync_mode: str, video_s: float, audio_s: float) -> float:
    if sync_mode == "cut_off":
        return min(video_s, audio_s)
    if sync_mode == "silence":
        return video_s
    return audio_s  # loop, bounce, remap


def frame_map(sync_mode: str, n_video: int, n_out: int) -> list[int]:
    """Source frame index for every output frame."""
    if n_video <= 0:
        return []
    if sync_mode == "loop":
        return [i % n_video for i in range(n_out)]
    if sync_mode == "bounce":
        # Ping-pong: 0 1 2 3 2 1 0 1 ... (period 2n-2; a 1-frame video just repeats).
        if n_video == 1:
            return [0] * n_out
        period = 2 * n_video - 2
        out = []
        for i in range(n_out):
            k = i % period
            out.append(k if k < n_video else period - k)
        return out
    if sync_mode == "remap":
        # Time-remap: stretch or squeeze the whole video onto the audio's length.
        return [min(n_video - 1, (i * n_video) // n_out) for i in range(n_out)]
    # cut_off and silence never read past the video.
    return [min(i, n_video - 1) for i in range(n_out)]


def _slice(samples: array, rate: int, start: float | None, end: float | None) -> array:
    a = 0 if start is None else max(0, int(round(start * rate)))
    b = len(samples) if end is None else max(a, int(round(end * rate)))
    return samples[a:b]


def _fit(samples: array, n: int) -> array:
    """Exactly n samples: cut, or pad with silence."""
    if len(samples) >= n:
        return samples[:n]
    return samples + array("h", bytes(2 * (n - len(samples))))


def plan(sync_mode: str, n_video: int, fps: float, audios: dict[str, array], rate: int,
         segments: list[Segment] | None = None, audio_order: list[str] | None = None) -> Plan:
    """Build the frame map and audio track for one job.

    Output frame count is the output duration rounded to whole frames, and the audio is cut or padded
    to exactly that many frames, so container duration == frames / fps (within AAC priming).
    """
    video_s = n_video / fps
    if segments:
        n_out = n_video
        total = int(round(n_out / fps * rate))
        track = array("h", bytes(2 * total))
        for seg in sorted(segments, key=lambda s: s.start):
            src = audios[seg.audio_id]
            piece = _slice(src, rate, seg.audio_start, seg.audio_end)
            a = max(0, int(round(seg.start * rate)))
            b = min(total, int(round(min(seg.end, video_s) * rate)))
            if b <= a:
                continue
            track[a:b] = _fit(piece, b - a)
        return Plan(frame_map(sync_mode if sync_mode in ("cut_off", "silence") else "cut_off", n_video, n_out),
                    track, rate, fps, notes=["segments: output = video length"])
    order = audio_order or list(audios)
    src = audios[order[0]]
    audio_s = len(src) / rate
    n_out = max(1, int(round(output_seconds(sync_mode, video_s, audio_s) * fps)))
    total = int(round(n_out / fps * rate))
    return Plan(frame_map(sync_mode, n_video, n_out), _fit(src, total), rate, fps)


def frame_rms(audio: array, rate: int, fps: float, n_frames: int) -> list[float]:
    """RMS (0..1 of full scale) of the audio that plays during each output frame."""
    out = []
    for i in range(n_frames):
        a = int(round(i * rate / fps))
        b = int(round((i + 1) * rate / fps))
        w = audio[a:b]
        if not w:
            out.append(0.0)
            continue
        out.append(math.sqrt(sum(x * x for x in w) / len(w)) / 32768.0)
    return out
