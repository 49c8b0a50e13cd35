"""The sandbox's TTS inputs: each provider's real shape is spoken (tone bursts per word), every
wrong shape refused (docs/providers.md §1.3 sync.so `text` items, §2.3 Runware `inputs.speech` +
`settings.tts`)."""

from __future__ import annotations

import uuid

import pytest

LINE = {"name": "elevenlabs", "voiceId": "v-1", "script": "one two three"}


def _sync_text(d, v, provider, model="lipsync-2"):
    return d.c.post(f"{d.base}/v2/generate", headers=d.h, json={
        "model": model, "options": {"sync_mode": "cut_off"},
        "input": [{"type": "video", "assetId": v}, {"type": "text", "provider": provider}]})


def test_sync_text_with_voice_settings_is_spoken_per_word(sandbox, driver, media):
    d = driver("sync")
    v = d.upload(media["video"])
    r = _sync_text(d, v, dict(LINE, stability=0.3, similarityBoost=0.9), model="sync-3")
    assert r.status_code == 201, r.text
    state, _body = d.wait(r.json()["id"])
    assert state == "completed"
    (audio,) = sandbox.stats()["jobs"][0]["inputs"]["audio"]
    # three words: 0.3 s of tone and 0.1 s of pause each
    assert audio["tts"] is True and audio["duration"] == pytest.approx(1.2, abs=0.01)


@pytest.mark.parametrize("change, field", [
    (dict(script=""), "script"),
    (dict(script="x " * 2501), "script"),            # over 5000 characters
    (dict(voiceId=""), "voiceId"),
    (dict(voiceId=None), "voiceId"),
    (dict(name="playht"), "name"),
    (dict(stability=1.5), "stability"),
    (dict(similarityBoost=-0.1), "similarityBoost"),
    (dict(similarity_boost=0.5), "similarity_boost"),  # snake case is not the wire's name
    (dict(text="hi"), "text"),                         # Runware's field name, not sync.so's
])
def test_sync_refuses_wrong_text_items(sandbox, driver, media, change, field):
    d = driver("sync")
    v = d.upload(media["video"])
    provider = {k: val for k, val in dict(LINE, **change).items() if val is not None}
    r = _sync_text(d, v, provider)
    assert r.status_code in (400, 422), r.text
    assert field in r.text
    assert sandbox.stats()["generations"]["sync"] == 0


def _runware(d, v, speech, settings=None, audio=None):
    task = d.task(v, audio or v, model="sync:3@0", sync_mode="cut_off")
    task["inputs"] = {"video": v, "speech": speech} if audio is None else {"video": v, "audio": audio,
                                                                            "speech": speech}
    task["settings"].update(settings or {})
    task["taskUUID"] = str(uuid.uuid4())
    return d.c.post(f"{d.base}/v1", headers=d.h, json=[task])


SPEECH = {"id": "t1", "provider": "elevenlabs", "voiceId": "v-1", "text": "one two three four"}


def test_runware_speech_with_tts_settings_is_spoken(sandbox, driver, media):
    d = driver("runware")
    v = d.upload(media["video"])
    tts = {"provider": "elevenlabs", "stability": 0.2, "similarityBoost": 0.6}
    r = _runware(d, v, [SPEECH], {"tts": tts})
    assert r.status_code == 200 and not r.json().get("errors"), r.text
    state, _body = d.wait(r.json()["data"][0]["taskUUID"])
    assert state == "completed"
    job = sandbox.stats()["jobs"][0]
    assert job["options"]["settings"]["tts"] == tts
    assert job["inputs"]["audio"][0]["duration"] == pytest.approx(1.6, abs=0.01)  # four words


@pytest.mark.parametrize("speech, settings, field", [
    ([dict(SPEECH, text="")], None, "text"),
    ([dict(SPEECH, text="x" * 5001)], None, "text"),
    ([{k: v for k, v in SPEECH.items() if k != "voiceId"}], None, "voiceId"),
    ([dict(SPEECH, provider="playht")], None, "provider"),
    ([dict(SPEECH, script="hi")], None, "script"),                     # sync.so's field name
    ([SPEECH], {"tts": {"provider": "elevenlabs", "stability": 2}}, "stability"),
    ([SPEECH], {"tts": {"similarity_boost": 0.5}}, "similarity_boost"),
    ([SPEECH], {"tts": {"provider": "azure"}}, "provider"),
    ([SPEECH], {"tts": "elevenlabs"}, "tts"),
])
def test_runware_refuses_wrong_speech_and_tts(sandbox, driver, media, speech, settings, field):
    d = driver("runware")
    v = d.upload(media["video"])
    r = _runware(d, v, speech, settings)
    errors = r.json().get("errors") or []
    assert r.status_code == 400 and errors, r.text
    assert field in (errors[0].get("parameter") or "") + errors[0].get("message", ""), r.text
    assert sandbox.stats()["generations"]["runware"] == 0


def test_runware_refuses_speech_and_audio_together_and_tts_without_speech(sandbox, driver, media):
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    r = _runware(d, v, [SPEECH], audio=a)
    assert r.status_code == 400 and "exactly one" in r.text
    task = d.task(v, a, model="sync:3@0", sync_mode="cut_off")
    task["settings"]["tts"] = {"provider": "elevenlabs"}
    r = d.c.post(f"{d.base}/v1", headers=d.h, json=[task])
    assert r.status_code == 400 and "settings.tts requires inputs.speech" in r.text
    assert sandbox.stats()["generations"]["runware"] == 0
