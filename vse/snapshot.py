"""Snapshot: read sequencer strips into the plain plan of worker/plan.py.

MAIN THREAD ONLY. Functions here only read RNA (plus an `os.path.isfile` per file) and return
frozen dataclasses with no bpy object inside; ffmpeg and every other slow step happen later in a
worker (worker/media.py). Bad input raises the client's `InputError` before anything is
uploaded or paid for, and nothing in the scene is changed.

How Blender times strips (measured on bpy 4.5, 5.0 and 5.2, docs/blender.md §2):

- A movie strip added through the API (`new_movie`) shows ONE SOURCE FRAME PER TIMELINE FRAME,
  whatever its own frame rate: a 100-frame 25 fps clip in a 24 fps scene lasts 100 timeline
  frames (4.17 s, played 4 % slow). One added with Add > Movie or drag-and-drop has Blender's
  automatic playback rate: it plays at its own rate (96 timeline frames), so frames are skipped
  or shown twice. vse/playback.py reads which, and worker/framemap.py holds Blender's arithmetic
  for the source frame shown at each timeline frame (docs/architecture.md, "Frames and seconds").
- A sound strip plays in seconds: it lasts ``seconds x scene fps`` frames, and timeline frame ``f``
  plays the sound file at ``(f - content_start + content_trim_start) / scene_fps - sound_offset``
  seconds (``sound_offset`` delays the sound; measured with clicks in a mixdown).
- Both are visible on ``[left_handle, right_handle)`` (4.x: ``frame_final_start/end``).

So the artist judges lip sync against the video as Blender plays it at the SCENE rate. We
therefore upload, for every visible timeline frame, the source frame Blender shows there (one
uploaded frame per timeline frame), and all times sent to the provider are seconds of that
uploaded video = seconds of the timeline from the video's left handle. The result, placed at the
left handle, then lines up frame for frame.

Rates are exact fractions (29.97 is 30000/1001): see `exact_rate`.

No-lipsync ranges (docs/architecture.md, "Ranges and handles"), two conventions, both read by `excluded_ranges`:
- a guide strip: a color or adjustment strip on any channel whose name starts with "No Lipsync"
  (or "nolipsync", case and spaces ignored) excludes the frames it covers;
- timeline markers: a marker named ``nolipsync`` starts an excluded range, the next marker named
  ``nolipsync_end`` (or ``lipsync``) ends it; an unclosed start runs to the end of the strip.
`plan_jobs` then splits a strip around them and adds handles (worker/ranges.py).
"""

from __future__ import annotations

import operator
import os
from fractions import Fraction

import bpy

from ..client.errors import InputError, LipsyncError
from ..worker import framemap
from ..worker.plan import AudioPart, Placement, StripJob, TextPart, VideoSource, exact_rate
from ..worker.ranges import included, merge, split_long, sub_job, with_handles
from . import compat, dialogue, playback, speech, timeline

GUIDE_PREFIXES = ("nolipsync",)
MARKER_START = "nolipsync"
MARKER_ENDS = ("nolipsync_end", "lipsync")


def _norm(name: str) -> str:
    return "".join(name.lower().split()).replace("-", "").replace("_", "")


def is_guide_strip(strip) -> bool:
    return (compat.strip_type(strip) in ("COLOR", "ADJUSTMENT")
            and _norm(strip.name).startswith(GUIDE_PREFIXES))


def excluded_ranges(scene) -> list[tuple[int, int]]:
    """Timeline frame ranges [start, end) marked "no lipsync" in `scene`, merged and sorted."""
    found = []
    index = timeline.index(scene)
    if index is not None:
        guides = [n for kind in ("COLOR", "ADJUSTMENT") for n in index.names(kind)
                  if _norm(n).startswith(GUIDE_PREFIXES)]
        for strip in index.strips(guides):
            if is_guide_strip(strip) and not strip.mute:
                left, right = compat.visible_range(strip)
                found.append((int(left), int(right)))
    opened = None
    for marker in sorted(scene.timeline_markers, key=lambda m: m.frame):
        name = marker.name.strip().lower()
        if name == MARKER_START and opened is None:
            opened = marker.frame
        elif name in MARKER_ENDS and opened is not None:
            found.append((opened, marker.frame))
            opened = None
    if opened is not None:
        found.append((opened, 1 << 30))
    return merge(found)


def scene_rate(scene) -> Fraction:
    """Exact scene frame rate: fps=30, fps_base=1.001 -> 30000/1001."""
    render = scene.render
    return exact_rate(render.fps / render.fps_base)


def _abspath(path: str, library=None) -> str:
    return os.path.normpath(bpy.path.abspath(path, library=library))


def _retimed(strip) -> bool:
    keys = getattr(strip, "retiming_keys", None)
    return bool(keys is not None and len(keys))


_TYPE_ADVICE = {
    "SOUND": "is a sound strip; select the movie (video) strip to lip-sync - sound strips are the dialogue",
    "IMAGE": ("is an image strip (a still or an image sequence); lip-sync needs a movie strip: render it to a "
              "video file and add that"),
    "META": "is a meta strip; open it (Tab) and select the movie strip inside",
    "SCENE": "is a scene strip; render the scene to a video file and add it as a movie strip",
    "MOVIECLIP": "is a clip strip (Movie Clip Editor data); add the video file as a movie strip instead",
    "COLOR": "is a color strip and has no video to lip-sync; select a movie strip",
    "TEXT": ("is a text strip and has no video to lip-sync; select the movie strip under it (a Text strip "
             "over a movie strip is spoken as its dialogue)"),
}


def _check_movie(strip) -> None:
    kind = compat.strip_type(strip)
    if kind != "MOVIE":
        advice = _TYPE_ADVICE.get(kind, f"is a {kind.lower()} strip, not a movie strip; select a movie strip")
        raise InputError(f'Strip "{strip.name}" {advice}.')


def _parents(scene):
    """Strip name -> the meta strip that holds it, for every strip inside a meta (a mapping that
    looks the meta up when asked, vse/timeline.py)."""
    index = timeline.index(scene)
    return index.parents if index is not None else {}


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
    """Blender plays `strip` somewhere: not muted (strip, channel, meta), and a volume above 0
    or an animated one (whatever the value at the playhead; docs/blender.md §9)."""
    return not dialogue.muted(strip, parents) and (strip.volume > 0 or dialogue.animated(strip))


def _speed_effect_of(scene, strip):
    """The Speed effect strip fed by `strip`, if any (it changes what the artist sees and hears)."""
    index = timeline.index(scene) if getattr(scene, "sequence_editor", None) is not None else None
    for other in index.strips(index.names("SPEED")) if index is not None else ():
        if getattr(other, "input_1", None) == strip:
            return other
    return None


def read_video(scene, strip, rate: Fraction | None = None, parents=None) -> VideoSource:
    """The visible range of a movie strip as a VideoSource.

    Worked example (24 fps scene, 100-frame 25 fps clip added at frame 11, then trimmed with
    ``frame_offset_start = 5`` and ``frame_offset_end = 7``):

    - handles: left 16, right 104 -> ``frames = 88``
    - added with `new_movie` (no playback rate): source frame at 16 = 16 - content_start 11 +
      content_trim_start 0 = 5 -> ``first_frame = 5``, ``file_start = 5/25 = 0.2 s`` into the file
    - the 88 frames play at the scene rate: ``duration = 88/24 = 3.666.. s`` (in the file they
      span 88/25 = 3.52 s; the upload is retimed to 24 fps so it lasts what the artist watched)
    - the same clip added with Add > Movie lasts 96 frames at 11..107; trimmed the same way it is
      visible on 16..100; frame 16 shows source frame round(5 x 25/24) = 5, frame 28 shows
      round(17 x 25/24) = 18, one ahead of the one-to-one 17: ``frame_map`` gives them all
      (VideoSource.source_frames)

    NTSC: a 30000/1001 clip in a 30000/1001 scene trimmed to frames 31..91 has
    ``file_start = 30 * 1001/30000 = 1.001 s`` and ``duration = 60 * 1001/30000 = 2.002 s``.
    """
    _check_movie(strip)
    rate = rate or scene_rate(scene)
    left, right = effective_range(strip, parents)
    frames = right - left
    if frames <= 0:
        raise InputError(f'Movie strip "{strip.name}" has zero length ({left}..{right}).')
    if _retimed(strip):
        raise InputError(
            f'Movie strip "{strip.name}" is retimed (retiming keys); lip-sync needs it at normal '
            "speed: reset its retiming (Strip > Retiming > Reset) or render it to a new file.")
    speed = _speed_effect_of(scene, strip)
    if speed is not None:
        raise InputError(
            f'Movie strip "{strip.name}" is retimed by the Speed strip "{speed.name}"; lip-sync needs what '
            "plays at normal speed: render the retimed shot to a new file and lip-sync that.")
    if strip.use_reverse_frames:
        raise InputError(f'Movie strip "{strip.name}" plays in reverse; turn off Reverse Frames '
                           "or render it to a new file.")
    if getattr(strip, "strobe", 1.0) > 1.0:
        raise InputError(f'Movie strip "{strip.name}" uses Strobe {strip.strobe:g}; set it to 1 '
                           "or render it to a new file.")
    path = _abspath(strip.filepath, getattr(scene, "library", None))
    if not strip.filepath or not os.path.isfile(path):
        raise InputError(f'The movie file of strip "{strip.name}" was not found: {path}')
    fmap = playback.frame_map(scene, strip, (left, right))
    first = framemap.shown(fmap, left)
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
        total_frames=fmap.file_frames,
        stream_index=int(getattr(strip, "stream_index", 0)),
        frame_map=fmap,
        timeline_start=left,
    )


def _sound_path(strip) -> str:
    sound = strip.sound
    if sound is None:
        raise InputError(f'Sound strip "{strip.name}" has no sound data.')
    if sound.packed_file is not None:
        raise InputError(f'The sound of strip "{strip.name}" is packed into the .blend; unpack it '
                           "(File > External Data > Unpack Resources) so it can be uploaded.")
    path = _abspath(sound.filepath, sound.library)
    if not sound.filepath or not os.path.isfile(path):
        raise InputError(f'The sound file of strip "{strip.name}" was not found: {path}')
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
        raise InputError(f'Strip "{strip.name}" is not a sound strip; dialogue must be sound strips.')
    left, right = effective_range(strip, parents)
    start, end = max(left, video_range[0]), min(right, video_range[1])
    if end <= start or not _audible(strip, parents or {}):
        return None
    if _retimed(strip):
        raise InputError(
            f'Sound strip "{strip.name}" is retimed (speed/pitch change); lip-sync needs it at '
            "normal speed: reset its retiming or render the audio to a new file.")
    path = _sound_path(strip)
    content_start = Fraction(compat.get_timing(strip, "frame_start"))
    trim_start = Fraction(compat.get_timing(strip, "animation_offset_start"))
    sound_offset = Fraction(getattr(strip, "sound_offset", 0.0))
    file_start = (start - content_start + trim_start) / rate - sound_offset
    video_offset = Fraction(start - video_range[0]) / rate
    duration = Fraction(end - start) / rate
    part_start = Fraction(start)
    if file_start < 0:  # silence before the delayed sound begins
        video_offset, duration, part_start = video_offset - file_start, duration + file_start, start - file_start * rate
        file_start = Fraction(0)
        if duration <= 0:
            return None
    volume, gain = dialogue.gain(strip, start, end, part_start, rate)
    if volume <= 0 and not gain:   # silent on all of this range
        return None
    return AudioPart(
        strip_name=strip.name,
        path=path,
        file_start=float(file_start),
        duration=float(duration),
        video_offset=float(video_offset),
        volume=volume,
        frame_start=start,
        frame_end=end,
        channel=int(strip.channel),
        gain=gain,
    )


def overlapping_sounds(scene, movie_strip) -> list:
    """Audible sound strips (`_audible`: not muted, not on a muted channel or in a muted meta,
    volume above 0 or animated) overlapping the movie's visible range, by channel."""
    index = timeline.index(scene)
    if index is None:
        return []
    parents = index.parents
    left, right = effective_range(movie_strip, parents)
    # an interval search of the index, not a walk over every strip (issue #16)
    found = [s for s in index.strips(index.overlapping(left, right, kind="SOUND")) if _audible(s, parents)]
    found.sort(key=lambda s: (s.channel, compat.visible_range(s)[0]))
    return found


def overlapping_texts(scene, movie_strip) -> list:
    """Unmuted Text strips (not in a muted meta) overlapping the movie's visible range, by channel:
    lines to be spoken (issue 17). Their text is read by `read_text_part`."""
    index = timeline.index(scene)
    if index is None:
        return []
    parents = index.parents
    left, right = effective_range(movie_strip, parents)
    found = [s for s in index.strips(index.overlapping(left, right, kind="TEXT"))
             if not s.mute and not any(m.mute for m in _ancestors(s, parents))]
    found.sort(key=lambda s: (s.channel, compat.visible_range(s)[0]))
    return found


def read_text_part(scene, strip, video_range: tuple[int, int], rate: Fraction, parents=None) -> TextPart | None:
    """The line of Text strip `strip` over `video_range`, or None when it does not overlap.

    It plays from the strip's first visible frame: a strip on 40..90 over a video visible on
    16..200 at 24 fps has ``video_offset = 24/24 = 1.0 s`` and covers ``50/24 s``. The text is
    sent as written (an empty one is refused by the client, with the strip named).
    """
    left, right = effective_range(strip, parents)
    start, end = max(left, video_range[0]), min(right, video_range[1])
    if end <= start:
        return None
    stability, similarity = speech.tts_settings(scene)
    return TextPart(strip_name=strip.name, text=str(getattr(strip, "text", "")),
                    voice=speech.voice_for(scene, strip.name),
                    video_offset=float(Fraction(start - video_range[0]) / rate),
                    duration=float(Fraction(end - start) / rate), frame_start=start, frame_end=end,
                    channel=int(strip.channel), stability=stability, similarity_boost=similarity)


def _dialogue(scene, movie_strip, strips, video_range, rate, parents) -> tuple[list, list]:
    """(audio parts, spoken lines) of the dialogue strips `strips` (sound and Text strips)."""
    parts, lines = [], []
    for strip in strips:
        if strip == movie_strip:
            continue
        if compat.strip_type(strip) == "TEXT":
            line = read_text_part(scene, strip, video_range, rate, parents)
            if line is not None:
                lines.append(line)
            continue
        part = read_audio_part(strip, video_range, rate, parents)
        if part is not None:
            parts.append(part)
    return parts, lines


def snapshot_job(scene, movie_strip, sound_strips=None) -> StripJob:
    """Everything a worker needs to prepare the upload, read now on the main thread.

    `sound_strips` None = every overlapping unmuted sound strip. Raises InputError (nothing
    changed, nothing sent) for: not a movie strip, missing file, zero length, retimed/reversed
    strips, scene time remapping, no audible sound strip overlapping the video.
    """
    render = scene.render
    if render.frame_map_old != render.frame_map_new:
        raise InputError(
            f"Scene \"{scene.name}\" remaps time (Time Stretching {render.frame_map_old} -> "
            f"{render.frame_map_new}); set both to the same value to lip-sync.")
    rate = scene_rate(scene)
    parents = _parents(scene)
    video = read_video(scene, movie_strip, rate, parents)
    video_range = effective_range(movie_strip, parents)
    if sound_strips is None:
        sound_strips = overlapping_sounds(scene, movie_strip) + overlapping_texts(scene, movie_strip)
    parts, lines = _dialogue(scene, movie_strip, sound_strips, video_range, rate, parents)
    if not parts and not lines:
        raise InputError(
            f'No audible sound strip overlaps movie strip "{movie_strip.name}" (frames '
            f"{video_range[0]}..{video_range[1]}); put the dialogue on a sound strip under it, or its line "
            "in a Text strip (muted strips, strips on muted channels and ones whose volume stays at 0 do not count).")
    parts.sort(key=lambda p: (p.video_offset, p.channel, p.strip_name))
    lines.sort(key=lambda t: (t.video_offset, t.channel, t.strip_name))
    placement = Placement(
        scene=scene.name,
        source_strip=movie_strip.name,
        source_channel=int(movie_strip.channel),
        frame_start=video_range[0],
        frame_end=video_range[1],
        meta=parents[movie_strip.name].name if movie_strip.name in parents else "",
    )
    return StripJob(video=video, audio=tuple(parts), placement=placement,
                    scene_fps=float(rate), scene_rate=rate, text=tuple(lines))


def plan_jobs(scene, strip, sound_strips=None, *, handles: int | None = None, excluded=None,
              max_frames: int = 0) -> list:
    """The StripJobs actually sent for `strip`: split around no-lipsync ranges, with handles;
    `max_frames` > 0: ranges longer than that are cut into pieces under it (worker/ranges.split_long).

    Raises the client's InputError like strips.snapshot_job (nothing sent), and when every
    dialogue of the strip falls in excluded ranges.
    """
    job = snapshot_job(scene, strip, sound_strips)
    handles = scene.lipsync.handles if handles is None else handles
    excluded = excluded_ranges(scene) if excluded is None else excluded
    left, right = job.placement.frame_start, job.placement.frame_end
    lines = [(part.frame_start, part.frame_end) for part in job.audio]   # cut between lines, not in one
    pieces = split_long(included(left, right, excluded), max_frames, lines)
    if pieces == [(left, right)]:
        jobs = [job]
    else:
        jobs = [j for j in (sub_job(job, a, b) for a, b in pieces) if j is not None]
        if not jobs:
            raise InputError(f'Every frame of "{strip.name}" with dialogue is in a no-lipsync range; nothing to send')
    return [with_handles(j, handles) for j in jobs]


# -- what a plan reads, as one value (the estimate's plan cache, vse/money.py; issue #16) ----------
# After any edit the panel's estimate used to plan every selected strip again (~0.15 ms each: 0.3 s
# for 2,000 shots). `PlanReads.key(strip)` holds everything `plan_jobs(scene, strip)` reads (the
# default plan: every overlapping dialogue, no split), read again in a fraction of that: equal keys,
# equal plans. A read added to snapshot_job or plan_jobs belongs here too; tests/blender/test_scale.py
# compares the cached estimate with a fresh one after each kind of edit.
_MOVIE_READS = operator.attrgetter("channel", "filepath", "use_reverse_frames", "stream_index", *(
    compat.timing_name(n, bpy.types.MovieStrip)
    for n in ("frame_start", "animation_offset_start", "animation_offset_end", "frame_duration")))
_SOUND_READS = operator.attrgetter("channel", "volume", "sound_offset", *(
    compat.timing_name(n, bpy.types.SoundStrip) for n in ("frame_start", "animation_offset_start")))
_KEY_READS = operator.attrgetter("interpolation", "easing", "back", "amplitude", "period")


class _Unread(Exception):
    """Something a plan depends on that the key does not read: the strip is planned again."""


def _curve_key(curve) -> tuple | None:
    """What `curve.evaluate` uses (dialogue.gain samples it): each key with its handles and easing,
    and the extrapolation. F-modifiers (noise, cycles, ...) have too many settings to read: _Unread."""
    if curve is None:
        return None
    if len(curve.modifiers):
        raise _Unread
    return (curve.extrapolation, tuple((tuple(k.co), tuple(k.handle_left), tuple(k.handle_right), *_KEY_READS(k))
                                       for k in curve.keyframe_points))


def _retiming(strip) -> int:
    keys = getattr(strip, "retiming_keys", None)
    return len(keys) if keys is not None else 0


class PlanReads:
    """`key(strip)`: what `plan_jobs(scene, strip, handles=handles, excluded=excluded)` reads, as one
    comparable value. Made for one estimate, inside timeline.pinned (nothing is edited meanwhile);
    `scene_key` is what every plan of the scene reads."""

    def __init__(self, scene, excluded, handles: int) -> None:
        render = scene.render
        self.scene, self.excluded, self.index = scene, excluded, timeline.index(scene)
        self.library = getattr(scene, "library", None)
        self.scene_key = (render.fps, render.fps_base, render.frame_map_old, render.frame_map_new, handles,
                          playback.rule(scene), speech.tts_settings(scene))
        index = self.index
        speeds = index.strips(index.names("SPEED")) if index is not None else ()
        self._speed_fed = {getattr(getattr(s, "input_1", None), "name", None) for s in speeds}
        self._texts = bool(index is not None and index.names("TEXT"))
        self._files: dict[tuple, tuple[str, bool]] = {}
        self._factors: dict[float, float] = {}

    def key(self, strip) -> tuple | None:
        """None when the plan depends on something not read here (a volume F-curve with modifiers,
        a playback rate Blender must be asked for): plan the strip again."""
        visible = self.index.range(strip.name) if self.index is not None else None
        if visible is None:
            return None
        kind = compat.strip_type(strip)
        if kind != "MOVIE":
            return (kind,)                       # refused for its type alone (_check_movie)
        try:
            return self._movie(strip, visible) + self._dialogue(visible)
        except (_Unread, LipsyncError):
            return None

    def _file(self, path: str, library) -> tuple[str, bool]:
        """(absolute path, is a file), each file looked at once per estimate: a file deleted, or a
        relative path of a .blend saved elsewhere, changes the plan."""
        key = (path, getattr(library, "filepath", None))
        found = self._files.get(key)
        if found is None:
            absolute = _abspath(path, library)
            found = self._files[key] = (absolute, bool(path) and os.path.isfile(absolute))
        return found

    def _movie(self, strip, visible) -> tuple:
        """read_video and the placement: the strip, its timing and file (playback.frame_map's
        reads: the rate flag only where it changes the frames shown), the excluded ranges over it."""
        elements = strip.elements
        element = elements[0] if len(elements) else None
        shape = (element.orig_fps, element.orig_width, element.orig_height) if element is not None else None
        media_fps = shape[0] if shape is not None else 0.0
        factor = self._factors.get(media_fps)
        if factor is None:
            render = self.scene.render
            factor = self._factors[media_fps] = framemap.factor32(media_fps, render.fps, render.fps_base)
        auto = factor != 1.0 and playback.auto_rate(self.scene, strip)
        return (_MOVIE_READS(strip), visible, self.index.parent(strip.name), getattr(strip, "strobe", 1.0),
                _retiming(strip), strip.name in self._speed_fed, shape, auto, self._file(strip.filepath, self.library),
                tuple(r for r in self.excluded if r[0] < visible[1] and r[1] > visible[0]))

    def _dialogue(self, visible) -> tuple:
        """Every sound and Text strip over the movie, audible or not (muting one changes the plan)."""
        index, parents = self.index, self.index.parents
        sounds = index.strips(sorted(index.overlapping(*visible, kind="SOUND")))
        texts = index.strips(sorted(index.overlapping(*visible, kind="TEXT"))) if self._texts else ()
        return (tuple(self._sound(s, parents) for s in sounds), tuple(self._text(t, parents) for t in texts))

    def _sound(self, strip, parents) -> tuple:
        """_audible and read_audio_part: mutes (strip, channel, metas), volume and its animation, timing, file."""
        sound = strip.sound
        data = None if sound is None else (sound.packed_file is not None, self._file(sound.filepath, sound.library))
        return (strip.name, self.index.range(strip.name), _SOUND_READS(strip), dialogue.muted(strip, parents),
                _retiming(strip), data, _curve_key(dialogue.volume_fcurve(strip)))

    def _text(self, strip, parents) -> tuple:
        """overlapping_texts and read_text_part: mutes, the words and the voice."""
        return (strip.name, self.index.range(strip.name), strip.channel, strip.mute,
                any(m.mute for m in _ancestors(strip, parents)), str(getattr(strip, "text", "")),
                speech.voice_for(self.scene, strip.name))
