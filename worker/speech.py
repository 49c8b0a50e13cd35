"""Spoken lines of a StripJob as client inputs: TextInputs t1, t2, ... and their segments.

Pure (no bpy, no ffmpeg): worker/media.py uses it to build the request, vse/checks.py to check
the same request before anything is recorded, so what is refused and what is sent cannot drift.
A line plays from its Text strip's start: one line at the very start of an upload with no audio
needs no segment (`inputs.speech` on Runware sync-3, a plain text input on sync.so); anything
else gets a segment per line, in seconds of the uploaded video (docs/providers.md §1.5).
"""

from __future__ import annotations

from ..client.models import Segment, TextInput

_EPS = 1e-6


def text_inputs(job) -> list[TextInput]:
    return [TextInput(id=f"t{n}", text=t.text, voice=t.voice, stability=t.stability,
                      similarity_boost=t.similarity_boost) for n, t in enumerate(job.text, 1)]


def needs_segments(job, with_audio: bool) -> bool:
    """Whether the lines must be placed by segments (audio besides, several, or a late start)."""
    if not job.text:
        return False
    return with_audio or len(job.text) > 1 or job.text[0].video_offset > _EPS


def text_segments(job, video_seconds: float) -> list[Segment]:
    """One segment per line: from the strip's start to its end, clipped to the upload."""
    out = []
    for n, t in enumerate(job.text, 1):
        start = min(max(t.video_offset, 0.0), video_seconds)
        end = min(t.video_offset + t.duration, video_seconds)
        if end > start:
            out.append(Segment(start=round(start, 6), end=round(end, 6), audio_id=f"t{n}"))
    return out
