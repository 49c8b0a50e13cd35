"""Dialogue from text (issue 17), the Blender side: which voice a Text strip speaks with, the TTS
settings of the panel, and the spoken line placed back as a sound strip beside its take.

MAIN THREAD. A Text strip overlapping a movie strip is a dialogue source like a sound strip
(vse/snapshot.py `read_text_part` reads it into a worker/plan.py TextPart). Its voice id is the
segment row's override, else the panel's voice, else the preferences' default voice. What the
provider does with it is in client/speech.py; the refusals (empty text, no voice, no TTS on the
model, text and audio over one range) come from the client's validation, run before anything is
recorded (vse/checks.py).

Placing the spoken line beside its take is vse/lines.py. The Text strip and any original
dialogue are only read, never changed.
"""

from __future__ import annotations

from ..client.speech import WORDS_PER_MINUTE, spoken_seconds, word_count
from ..preferences import get_prefs


def voice_for(scene, strip_name: str) -> str:
    settings = scene.lipsync
    row = settings.segments.get(strip_name)
    if row is not None and row.voice.strip():
        return row.voice.strip()
    if settings.voice_id.strip():
        return settings.voice_id.strip()
    return get_prefs().default_voice.strip()


def tts_settings(scene) -> tuple[float | None, float | None]:
    """(stability, similarity boost) to send, or (None, None) = the TTS provider's defaults."""
    settings = scene.lipsync
    if not settings.use_tts_settings:
        return None, None
    return round(float(settings.tts_stability), 3), round(float(settings.tts_similarity_boost), 3)


def spoken_seconds_of(strip_job) -> float:
    """The estimate's guess of how long the job's lines last (WORDS_PER_MINUTE)."""
    return sum(spoken_seconds(t.text) for t in strip_job.text)


def estimate_note(planned) -> str:
    """' (speech: about 12 words at 150 wpm)' when any planned job speaks text, else ''."""
    words = sum(word_count(t.text) for jobs in planned for job in jobs for t in job.text)
    if not any(job.text for jobs in planned for job in jobs):
        return ""
    return f" (speech length guessed: {words} word(s) at {WORDS_PER_MINUTE:g} wpm)"
