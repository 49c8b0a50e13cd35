"""No-lipsync ranges and handles as plain arithmetic: one StripJob into the pieces actually sent.

Pure functions over worker/plan.py dataclasses (no bpy); vse/snapshot.py reads the excluded
ranges from the timeline and calls these.

Why separate jobs and not segments: every provider bills OUTPUT seconds (client/pricing.py:
sync.so per output frame, fal per output minute, Runware per audio second), and a segment job
still returns the whole uploaded video. Only a shorter upload costs less, so each included range
becomes its own job (its own upload, its own take piece placed on exactly that range); the
excluded frames are never uploaded and the original shows through there.

Example (25 fps, strip visible 16..64, a "No Lipsync" color strip on 30..40): pieces 16..30 and
40..64, 14 + 24 frames uploaded instead of 48; the estimate drops by 10/48. A piece without
dialogue is dropped (nothing to sync: the original plays).

Long strips: a range longer than the provider takes (300 s) is cut into equal pieces under it when
the artist turns on "Split Long Strips" (`split_long`); each piece is a job like the above, with
its handles, and the pieces are placed end to end as one take group.

Handles (docs/architecture.md, "Ranges and handles"): N frames of pre-roll and tail are added to
each piece's upload where the source media has them (clamped at the file's first/last frame),
the dialogue is shifted by the pre-roll and padded with silence, and the take is placed with its
handles hidden (`Placement.handle_start`): it covers exactly the piece's range, frame for frame.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from . import envelope, framemap


def merge(ranges) -> list[tuple[int, int]]:
    out = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def included(left: int, right: int, excluded) -> list[tuple[int, int]]:
    """[left, right) minus the excluded ranges. Example: 16..64 minus 30..40 -> 16..30, 40..64."""
    pieces, cursor = [], left
    for start, end in merge(excluded):
        if end <= cursor or start >= right:
            continue
        if start > cursor:
            pieces.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < right:
        pieces.append((cursor, right))
    return pieces


def _quiet(frame: int, busy) -> bool:
    """No dialogue runs across `frame` (a cut there splits no line)."""
    return not any(a < frame < b for a, b in busy)


def split_long(pieces, max_frames: int, busy=()) -> list[tuple[int, int]]:
    """Each piece longer than `max_frames` cut into the fewest pieces under it, end to end (a take
    piece then starts on the very frame the one before ends: seamless). The cuts are equal, each
    moved to the nearest frame between two lines of dialogue (`busy`: timeline ranges of the
    dialogue strips) where there is one close enough for every piece to stay under the limit.

    Example: 16..1016 (1000 frames), max_frames 400 -> 3 pieces of about 333, each cut may move by
    up to (400 - 334) // 2 = 33 frames: with a line on 300..360 the first
    cut (349) moves to the line's end, 360 -> 16..360, 360..682, 682..1016; without dialogue 16..349, ...
    """
    if max_frames <= 0:
        return list(pieces)
    out = []
    for start, end in pieces:
        count = -(-(end - start) // max_frames)      # ceil
        slack = max(0, (max_frames - -(-(end - start) // count)) // 2)
        cuts = [start + (end - start) * i // count for i in range(count + 1)]
        for i in range(1, count):
            near = sorted(range(cuts[i] - slack, cuts[i] + slack + 1), key=lambda f, c=cuts[i]: (abs(f - c), f))
            cuts[i] = next((f for f in near if _quiet(f, busy)), cuts[i])
        out += [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    return out


def sub_job(job, start: int, end: int):
    """`job` restricted to the timeline frames [start, end) (inside its visible range), or None
    when no dialogue is heard there. Dialogue parts are clipped in seconds of the upload."""
    left = job.placement.frame_start
    rate = job.scene_rate
    lo, hi = Fraction(start - left) / rate, Fraction(end - left) / rate
    parts = []
    for part in job.audio:
        clipped = clip_part(part, lo, hi)
        if clipped is not None:
            parts.append(dataclasses.replace(clipped, frame_start=max(part.frame_start, start),
                                             frame_end=min(part.frame_end, end)))
    lines = []
    for line in job.text:
        # a spoken line is kept whole where its start falls in the piece: it cannot be cut mid-word
        offset = Fraction(line.video_offset)
        if lo <= offset < hi:
            lines.append(dataclasses.replace(line, video_offset=float(offset - lo),
                                             duration=float(min(Fraction(line.duration), hi - offset)),
                                             frame_end=min(line.frame_end, end)))
    if not parts and not lines:
        return None
    video = _video_from(job.video, start - left, end - start, rate)
    placement = dataclasses.replace(job.placement, frame_start=start, frame_end=end)
    return dataclasses.replace(job, video=video, audio=tuple(parts), placement=placement, text=tuple(lines))


def clip_part(part, lo, hi):
    """Dialogue part `part` heard in [lo, hi) (seconds of the upload), its video_offset counted
    from `lo`, or None when it is not heard there (frame_start/frame_end are left as they were).

    Example: a part at 1.0 s lasting 2.0 s, clipped to [1.5, 2.0) -> file_start + 0.5 s,
    duration 0.5 s, video_offset 0.0, its gain envelope shifted by 0.5 s."""
    lo, hi = Fraction(lo), Fraction(hi)
    p_lo = Fraction(part.video_offset)
    a, b = max(p_lo, lo), min(p_lo + Fraction(part.duration), hi)
    if b <= a:
        return None
    return dataclasses.replace(
        part, file_start=float(Fraction(part.file_start) + (a - p_lo)), duration=float(b - a),
        gain=envelope.shift(part.gain, float(a - p_lo)), video_offset=float(a - lo))


def with_handles(job, handles: int):
    """`job` with up to `handles` extra frames before and after, clamped to the media.

    Example: visible source frames 5..53 of a 60-frame file, handles 8 -> pre-roll 5 (the file
    starts at frame 0), tail 7 (frames 53..60): upload frames 0..60 (60 frames), dialogue shifted
    by 5 frames, placement hides 5 frames at the head and 7 at the tail.
    """
    video = job.video
    if handles <= 0:
        return job
    pre, post = _handles(video, handles)
    if not pre and not post:
        return job
    rate = job.scene_rate
    shift = Fraction(pre) / rate
    video = _video_from(video, -pre, video.frames + pre + post, rate)
    parts = tuple(dataclasses.replace(p, video_offset=float(Fraction(p.video_offset) + shift)) for p in job.audio)
    lines = tuple(dataclasses.replace(t, video_offset=float(Fraction(t.video_offset) + shift)) for t in job.text)
    placement = dataclasses.replace(job.placement, handle_start=pre)
    return dataclasses.replace(job, video=video, audio=parts, placement=placement, text=lines)


def _video_from(video, skip: int, frames: int, rate: Fraction):
    """`video` uploading `frames` timeline frames from `skip` frames after its first (a piece, or
    handles when `skip` < 0)."""
    timeline_start = video.timeline_start + skip
    fmap = video.frame_map
    first = video.first_frame + skip if fmap is None else framemap.source_frames(fmap, timeline_start, 1)[0]
    return dataclasses.replace(
        video, first_frame=first, frames=frames, timeline_start=timeline_start,
        duration=float(Fraction(frames) / rate),
        file_start=float(Fraction(first) / video.rate) if video.rate else video.file_start)


def _handles(video, handles: int) -> tuple[int, int]:
    if video.frame_map is not None:
        return framemap.handle_frames(video.frame_map, video.timeline_start,
                                      video.timeline_start + video.frames, handles)
    pre = max(0, min(handles, video.first_frame))
    end = video.first_frame + video.frames
    post = max(0, min(handles, (video.total_frames or end) - end))
    return pre, post


def shift_speaker(options: dict, pre: int) -> dict:
    """A speaker frame counts frames of the upload: the pre-roll moves it by `pre`."""
    speaker = options.get("active_speaker") or {}
    if not pre or speaker.get("frame") is None:
        return options
    return {**options, "active_speaker": {**speaker, "frame": int(speaker["frame"]) + pre}}


def shift_overrides(overrides: dict | None, pre: int) -> dict:
    """`shift_speaker` for each segment's options (sound strip name -> options)."""
    return {name: shift_speaker(options or {}, pre) for name, options in (overrides or {}).items()}
