"""Dialogue from text (TTS): the limits, checks and estimates of `TextInput`, in one place.

Which provider x model speaks text is in the capability table (`text`, `tts_settings` in
client/capabilities.py); what each wire looks like is in the providers (sync.so: a `text` input
item with `provider: {name, voiceId, script, stability?, similarityBoost?}`, docs/providers.md
§1.3; Runware sync-3: `inputs.speech` items `{id, provider, voiceId, text}` plus
`settings.tts: {provider, stability, similarityBoost}`, §2.3). Here: what is refused before any
upload, with one sentence naming the line, the model and the provider, and how long a line is
guessed to last before the provider has spoken it.

No import of capabilities (it imports this module); `label` is the provider's display name.
"""

from __future__ import annotations

import os
import re

from .errors import InputError
from .models import JobRequest, TextInput

#: TTS engines the providers name (syncsdk 0.3.0 `ElevenLabs.name` is the literal "elevenlabs";
#: Runware's `settings.tts.provider` defaults to it, docs/providers.md §2.3)
TTS_PROVIDERS = ("elevenlabs",)

#: Longest script, characters. sync.so fails longer ones with generation_text_length_exceeded
#: (script > 5000 chars, docs/providers.md §1.10 via the reference's third-party client [3P]);
#: Runware resells the same ElevenLabs step and states no limit [U]: the same figure.
#: Configurable: LIPSYNC_<PROVIDER>_MAX_TEXT_CHARS.
MAX_TEXT_CHARS = {"sync": 5000, "runware": 5000}

#: Providers whose job takes ONE dialogue source: an audio file or one spoken line, never both
#: (Runware sync-3: "exactly one of inputs.audio, speech, settings.segments", docs/providers.md §2.3).
ONE_SOURCE = frozenset({"runware"})

#: Speaking rate the estimate assumes before the provider has spoken a line (conversational
#: English is about 150 words per minute); said in every estimate that uses it.
WORDS_PER_MINUTE = 150.0

_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def max_text_chars(provider: str) -> int:
    value = os.environ.get(f"LIPSYNC_{provider.upper()}_MAX_TEXT_CHARS", "").strip()
    try:
        return int(value) if value else MAX_TEXT_CHARS.get(provider, 5000)
    except ValueError:
        return MAX_TEXT_CHARS.get(provider, 5000)


def word_count(text: str) -> int:
    return len(_WORD.findall(text or ""))


def spoken_seconds(text: str, words_per_minute: float = WORDS_PER_MINUTE) -> float:
    """About how long `text` takes to say: 12 words at 150 wpm -> 4.8 s (at least one word)."""
    return max(1, word_count(text)) * 60.0 / words_per_minute


def about(text: str, words_per_minute: float = WORDS_PER_MINUTE) -> str:
    """'about 4.8 s (12 words at 150 wpm)': how an estimate names its guess."""
    words = word_count(text)
    return f"about {spoken_seconds(text, words_per_minute):.1f} s ({words} word(s) at {words_per_minute:g} wpm)"


def check_text_input(t: TextInput, provider: str, model: str, label: str) -> None:
    """InputError for a line the provider would refuse or could only say wrongly."""
    where = f"text input {t.id!r}"
    on = f"{model} on {label}"
    if not t.text.strip():
        raise InputError(f"{where} is empty: write the line to be spoken ({on})", provider)
    limit = max_text_chars(provider)
    if len(t.text) > limit:
        raise InputError(f"{where} has {len(t.text)} characters; {on} speaks at most {limit}: split the line "
                         f"(or raise LIPSYNC_{provider.upper()}_MAX_TEXT_CHARS)", provider)
    if not t.voice.strip():
        raise InputError(f"{where} has no voice id: give an ElevenLabs (or sync.so cloned) voice id ({on})",
                         provider)
    if t.provider not in TTS_PROVIDERS:
        raise InputError(f"{where}: TTS provider {t.provider!r} is unknown for {on}: use "
                         f"{', '.join(TTS_PROVIDERS)}", provider)
    for name, value in (("stability", t.stability), ("similarity_boost", t.similarity_boost)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise InputError(f"{where}: {name} {value:g} is out of range for {on}: use 0 to 1", provider)


def check_sources(req: JobRequest, label: str) -> None:
    """Text and audio where the provider takes only one: the whole job (ONE_SOURCE providers)
    or one range of the video (overlapping segments, any provider)."""
    on = f"{req.model} on {label}"
    if req.provider in ONE_SOURCE:
        if req.audio:
            raise InputError(f"{on} takes either an audio file or a text line per job, not both: "
                             "switch one of them off", req.provider)
        if len(req.text) > 1:
            raise InputError(f"{on} speaks one text line per job, not {len(req.text)}: join the lines "
                             "or send them as separate jobs", req.provider)
    kinds = {a.id: "audio" for a in req.audio} | {t.id: "text" for t in req.text}
    spans = sorted((s.start, s.end, i, kinds.get(s.audio_id)) for i, s in enumerate(req.segments, 1))
    for n, (_start, end, i, kind) in enumerate(spans):
        for start2, end2, j, kind2 in spans[n + 1:]:
            if start2 >= end - 1e-6:
                break
            if {kind, kind2} == {"audio", "text"}:
                raise InputError(f"segments {min(i, j)} and {max(i, j)} play text and audio over the same "
                                 f"range ({start2:.2f}..{min(end, end2):.2f} s); {on} takes one source per range: "
                                 "switch one off or move it", req.provider)


# -- the CLI's text arguments (client/cli.py calls these two) -----------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("--text", action="append", default=[],
                        help="a line to speak with the provider's TTS instead of (or besides) audio; repeat "
                             "for several lines (then use --segments with their ids t1, t2, ...)")
    parser.add_argument("--voice", default="", help="ElevenLabs (or sync.so cloned) voice id for --text")
    parser.add_argument("--tts-provider", default="elevenlabs", choices=TTS_PROVIDERS)
    parser.add_argument("--stability", type=float, default=None, help="TTS stability, 0..1")
    parser.add_argument("--similarity-boost", type=float, default=None, help="TTS similarity boost, 0..1")


def text_inputs(args) -> list[TextInput]:
    """TextInputs t1, t2, ... from --text/--voice/--stability/--similarity-boost."""
    return [TextInput(id=f"t{i}", text=text, voice=args.voice, provider=args.tts_provider,
                      stability=args.stability, similarity_boost=args.similarity_boost)
            for i, text in enumerate(getattr(args, "text", None) or [], 1)]
