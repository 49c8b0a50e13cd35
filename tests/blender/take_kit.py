"""Kit of the take tests: shots built as an editor builds them, the take a provider would return
(the same frames with a new "mouth"), Blender's own render of the timeline, and the comparison.

For every shot three timelines are rendered by Blender at the same frames:
- source only: the shot as the editor made it;
- ideal: the same shot with the source's file swapped for the marked clip (every frame the same
  source frame, plus a magenta mouth box: tests/fixtures/oracle.py `mark=True`);
- with take: the shot after the add-on placed the marked result as a take (vse/apply.py, the
  path a finished job takes).
The take is right when every frame shows the source frame the source showed (barcode), and the
pixels equal the ideal's: outside the mouth that is the source's look, inside it the new mouth.
What is left is x264 noise of two separate encodes (mean well under 1 of 255, isolated edge
pixels): `Diff.gross` counts pixels off by more than 24, which noise never reaches in bulk.
"""

from __future__ import annotations

import dataclasses
import os

import bpy
import numpy as np

from tests.fixtures import oracle
from tests.fixtures.addon import lipsync
from tests.fixtures.render import render_frames, render_scene, sequencer_context

SIZE = (160, 90)
RATE = "25"
HEAD, TAIL = 5, 20                 # handles of the source: visible 6..101 = source frames 5..99
VISIBLE = (1 + HEAD, 1 + 120 - TAIL)
FRAMES = (6, 8, 20, 40, 60, 82, 88, 92, 95, 100)
CRF = "4"


@dataclasses.dataclass(frozen=True)
class Media:
    src: str        # 120 coded frames
    marked: str     # the same 120 frames with the mouth box
    take: str       # what a provider returns for the visible range: frames 5..99, marked
    short: str      # a result 15 frames short: frames 5..84, marked
    other: str      # another shot (frames 700..)
    half: str       # the take at about half the size (80x44: x264 needs even sizes)
    tone: str       # dialogue


def make_media(folder) -> Media:
    def clip(name, frames, **kw):
        return oracle.make_clip(os.path.join(folder, name), frames, RATE, kw.pop("size", SIZE), crf=CRF, **kw)

    tone = os.path.join(folder, "tone.wav")
    oracle.tone_wav(tone, 5.0)
    return Media(src=clip("src.mp4", 120), marked=clip("marked.mp4", 120, mark=True),
                 take=clip("take.mp4", 95, start_index=5, mark=True),
                 short=clip("short.mp4", 80, start_index=5, mark=True),
                 other=clip("other.mp4", 200, start_index=700),
                 half=clip("half.mp4", 95, start_index=5, mark=True, size=(SIZE[0] // 2, SIZE[1] // 2 - 1)),
                 tone=tone)


def strips_of(owner):
    return owner.strips if hasattr(owner, "strips") else owner.sequences


def new_effect(owner, name, kind, channel, start, length, **kw):
    return lipsync("vse.compat").new_effect(strips_of(owner), name, kind, channel, start, length, **kw)


def timing(strip, name, value=None):
    compat = lipsync("vse.compat")
    if value is None:
        return compat.get_timing(strip, name)
    compat.set_timing(strip, name, value)


def visible(strip):
    return tuple(lipsync("vse.compat").visible_range(strip))


def shot_scene():
    scene = render_scene(RATE, SIZE)
    scene.frame_start, scene.frame_end = 1, 120
    return scene


def add_source(scene, media: Media, channel=2, owner=None, name="Src"):
    """The source: the coded clip at 1, trimmed to 6..101, with dialogue under it."""
    owner = owner if owner is not None else scene.sequence_editor
    strip = strips_of(owner).new_movie(name, media.src, channel, 1)
    timing(strip, "frame_offset_start", HEAD)
    timing(strip, "frame_offset_end", TAIL)
    if not any(s.type == "SOUND" for s in lipsync("vse.compat").strips_all(scene.sequence_editor)):
        strips_of(scene.sequence_editor).new_sound("Dialog", media.tone, 9, 6)
    return strip


def background(scene, media: Media, movie=False):
    if movie:
        return strips_of(scene.sequence_editor).new_movie("BGmovie", media.other, 1, 1)
    bg = new_effect(scene.sequence_editor, "BG", "COLOR", 1, 1, 200)
    bg.color = (0.25, 0.5, 0.3)
    return bg


def key(owner, prop, frame, value):
    setattr(owner, prop, value)
    owner.keyframe_insert(prop, frame=frame)


def select_only(scene, strip):
    for s in lipsync("vse.compat").strips_all(scene.sequence_editor):
        s.select = False
    strip.select = True
    scene.sequence_editor.active_strip = strip


def fades(scene, strip, seconds=0.4):
    select_only(scene, strip)
    with sequencer_context(scene):
        assert bpy.ops.sequencer.fades_add(duration_seconds=seconds, type="IN_OUT") == {"FINISHED"}


# -- recording and placing ---------------------------------------------------------------------
def record(scene, source, **kw):
    """The job record vse/launch.py writes before anything is sent (the real records.create)."""
    job = lipsync("vse.snapshot").snapshot_job(scene, source)
    return lipsync("vse.records").create(
        scene, job, provider="sync", model="lipsync-2", options={}, use_segments=True, segment_overrides=None,
        group=kw.get("group", ""), handle_frames=0, estimate=-1.0, out_dir=lipsync("vse.folders").recorded_out_dir())


def finish(rec, outputs, remote_id="remote-1", cost=0.1):
    """What the main thread does when the worker reports the job done (vse/apply.apply_event)."""
    events = lipsync("worker.events")
    job_id = rec.job_id
    lipsync("vse.apply").apply_event(job_id, events.Submitted(remote_id=remote_id))
    lipsync("vse.apply").apply_event(job_id, events.Completed(remote_id=remote_id, outputs=list(outputs), cost=cost))
    return lipsync("vse.records").find(job_id)[1]


def place(scene, source, path):
    """Record a job for `source`, then complete it with the result `path`; returns the record."""
    return finish(record(scene, source), [path])


# -- rendering and comparing -------------------------------------------------------------------
def render(scene, folder, tag, frames=FRAMES) -> dict[int, np.ndarray]:
    paths = render_frames(scene, frames, os.path.join(folder, tag))
    return {f: oracle.read_image(p) for f, p in zip(frames, paths)}


@dataclasses.dataclass
class Diff:
    frames: int
    id_mismatches: int     # frames whose barcode differs (or cannot be read) where one can be read
    mean: float            # mean |a - b| over all pixels and channels, 0..255
    max: int
    gross: float           # % of pixels off by more than 24 in some channel

    def row(self) -> str:
        return f"{self.frames} frames, {self.id_mismatches} id mismatches, mean {self.mean:.2f}, max {self.max}, " \
               f"gross {self.gross:.3f}%"


def compare(a: dict, b: dict, frames=None) -> Diff:
    frames = list(frames if frames is not None else a)
    ids = sum(oracle.decode_image(a[f]) != oracle.decode_image(b[f]) for f in frames)
    d = np.stack([np.abs(a[f].astype(np.int16) - b[f].astype(np.int16)) for f in frames])
    return Diff(len(frames), int(ids), float(d.mean()), int(d.max()), float((d.max(axis=-1) > 24).mean() * 100))


def outside_mouth(a: dict, b: dict, ideal: dict, source_only: dict, frames=None) -> Diff:
    """a vs b on the pixels where the ideal shows no mouth (ideal == source only, dilated)."""
    frames = list(frames if frames is not None else a)
    masks = []
    for f in frames:
        mouth = np.abs(ideal[f].astype(np.int16) - source_only[f].astype(np.int16)).max(axis=-1) > 24
        grown = mouth.copy()
        for dy, dx in ((-2, 0), (2, 0), (0, -2), (0, 2), (-2, -2), (2, 2), (-2, 2), (2, -2)):
            grown |= np.roll(np.roll(mouth, dy, 0), dx, 1)
        masks.append(~grown)
    d = np.stack([np.abs(a[f].astype(np.int16) - b[f].astype(np.int16)).max(axis=-1) for f in frames])
    keep = np.stack(masks)
    vals = d[keep]
    ids = sum(oracle.decode_image(a[f]) != oracle.decode_image(b[f]) for f in frames)
    return Diff(len(frames), int(ids), float(vals.mean()), int(vals.max()), float((vals > 24).mean() * 100))


def swap_to_marked(scene, source, media: Media):
    """The ideal: the source shows the marked clip (same frames, same look, a new mouth)."""
    source.filepath = media.marked
