"""The text-to-speech inputs both TTS providers take, checked with their real shapes.

sync.so: an input item `{type: "text", refId?, provider: {name: "elevenlabs", voiceId, script,
stability?, similarityBoost?}}` (docs/providers.md §1.3, syncsdk 0.3.0 `Tts` + `ElevenLabs`).
Runware sync-3: `inputs.speech` items `{id, provider, voiceId, text}` and `settings.tts`
`{provider (default elevenlabs), stability 0-1, similarityBoost 0-1}` (§2.3). The sandbox speaks
a script as tone bursts, one per word (sandbox/media.py `synth_speech`), so the mouth follows it.
"""

from __future__ import annotations

from ..validation import Invalid, check_enum, check_keys, check_range, check_type, require

TTS_PROVIDERS = ("elevenlabs",)
# sync.so fails longer scripts (generation_text_length_exceeded: script > 5000 chars, §1.10 [3P]);
# the sandbox refuses them on submit for both providers.
MAX_SCRIPT_CHARS = 5000


def check_script(value, where: str) -> str:
    text = check_type(value, where, "string")
    if not text.strip():
        raise Invalid(where, "range", f"{where} must not be empty")
    if len(text) > MAX_SCRIPT_CHARS:
        raise Invalid(where, "range", f"{where} is longer than {MAX_SCRIPT_CHARS} characters "
                                      "(generation_text_length_exceeded)")
    return text


def check_voice(value, where: str) -> str:
    voice = check_type(value, where, "string")
    if not voice.strip():
        raise Invalid(where, "missing", f"{where} must not be empty")
    return voice


def check_voice_settings(obj: dict, where: str) -> None:
    for key in ("stability", "similarityBoost"):
        if key in obj:
            check_range(obj[key], f"{where}.{key}", 0, 1)


def sync_text_item(item: dict, where: str) -> str:
    """sync.so's text input item; returns the script."""
    check_keys(item, ("type", "refId", "provider"), where)
    prov = check_type(require(item, "provider", where), f"{where}.provider", "object")
    check_keys(prov, ("name", "voiceId", "script", "stability", "similarityBoost"), f"{where}.provider")
    check_enum(require(prov, "name", f"{where}.provider"), f"{where}.provider.name", TTS_PROVIDERS)
    check_voice(require(prov, "voiceId", f"{where}.provider"), f"{where}.provider.voiceId")
    check_voice_settings(prov, f"{where}.provider")
    return check_script(require(prov, "script", f"{where}.provider"), f"{where}.provider.script")


def runware_speech_item(item: dict, where: str) -> str:
    """One Runware `inputs.speech` item; returns its text."""
    check_type(item, where, "object")
    check_keys(item, ("id", "provider", "voiceId", "text"), where)
    if "id" in item:
        check_type(item["id"], f"{where}.id", "string")
    if "provider" in item:
        check_enum(item["provider"], f"{where}.provider", TTS_PROVIDERS)
    check_voice(require(item, "voiceId", where), f"{where}.voiceId")
    return check_script(require(item, "text", where), f"{where}.text")


def runware_tts_settings(tts) -> None:
    check_type(tts, "settings.tts", "object")
    check_keys(tts, ("provider", "stability", "similarityBoost"), "settings.tts")
    if "provider" in tts:
        check_enum(tts["provider"], "settings.tts.provider", TTS_PROVIDERS)
    check_voice_settings(tts, "settings.tts")
