"""Validation: every unsupported or out-of-range option fails with a sentence naming it, the
model and the provider, before anything is uploaded."""

from __future__ import annotations

import pytest

from client.capabilities import OPTIONS, default_sync_mode, models_for, supports, validate
from client.pricing import capability_table
from client.config import LABELS, PROVIDERS
from client.errors import InputError
from client.models import ActiveSpeaker, AudioInput, JobRequest, Options, Segment, TextInput


def make(provider, model, **changes):
    opts = changes.pop("options", {})
    fields = dict(provider=provider, model=model, video="v.mp4", audio=[AudioInput(id="a", path="a.wav")],
                  options=Options(**opts))
    fields.update(changes)
    return JobRequest(**fields)


# a request that uses exactly one option (names as in capabilities.OPTIONS)
USES = {
    "sync_mode": dict(options={"sync_mode": "cut_off"}),
    "temperature": dict(options={"temperature": 0.5}),
    "active_speaker": dict(options={"active_speaker": ActiveSpeaker(auto=True)}),
    "active_speaker.point": dict(options={"active_speaker": ActiveSpeaker(frame=3, point=(10, 20))}),
    "active_speaker.boxes": dict(options={"active_speaker": ActiveSpeaker(boxes=[[0, 0, 10, 10], None])}),
    "occlusion_detection": dict(options={"occlusion_detection": True}),
    "emotion": dict(options={"emotion": "happy"}),
    "mode": dict(options={"mode": "face"}),
    "text": dict(audio=[], text=[TextInput(id="t", text="hello", voice="v1")]),
    "tts_settings": dict(audio=[], text=[TextInput(id="t", text="hello", voice="v1", stability=0.5,
                                                   similarity_boost=0.7)]),
    "segments": dict(segments=[Segment(start=0, end=1, audio_id="a")]),
    "segments.options_override": dict(segments=[Segment(start=0, end=1, audio_id="a",
                                                        options_override={"temperature": 0.2})]),
    "audio_crop": dict(audio=[AudioInput(id="a", path="a.wav", start=0.5, end=1.5)]),
    "output_format": dict(options={"output_format": "WEBM"}),
    "output_quality": dict(options={"output_quality": 80}),
    "number_results": dict(options={"number_results": 2}),
    "safety_check": dict(options={"safety_check": True}),
    "ttl": dict(options={"ttl": 3600}),
}

PAIRS = [(p, m) for p in PROVIDERS for m in models_for(p)]


def test_uses_cover_every_option():
    assert set(USES) | {"include_cost"} == set(OPTIONS)


@pytest.mark.parametrize("provider,model", PAIRS)
@pytest.mark.parametrize("option", sorted(USES))
def test_each_option_validates_or_names_itself(provider, model, option):
    req = make(provider, model, **USES[option])
    ok, why = supports(provider, model, option)
    if option == "segments.options_override" and ok:
        ok = ok and supports(provider, model, "temperature")[0]
    if ok and option in ("segments", "segments.options_override") and not supports(provider, model, "segments")[0]:
        ok = False
    if ok:
        validate(req)
        return
    with pytest.raises(InputError) as info:
        validate(req)
    text = str(info.value)
    # TTS settings without TTS at all: the refusal names the text input it would belong to
    names = {option.split(".")[-1], option.split(".")[0]} | ({"text"} if option == "tts_settings" else set())
    assert any(name in text for name in names), text
    assert model in text and LABELS[provider] in text, text


@pytest.mark.parametrize("provider,model", PAIRS)
def test_sync_modes_follow_table(provider, model):
    row = next(r for r in capability_table() if (r["provider"], r["model"]) == (provider, model))
    for mode in ("bounce", "loop", "cut_off", "silence", "remap"):
        req = make(provider, model, options={"sync_mode": mode})
        if mode in row["sync_modes"]:
            validate(req)
        else:
            with pytest.raises(InputError, match=rf"sync_mode 'loop'.*{model}.*{LABELS[provider]}"):
                validate(req)


def test_known_defaults_and_gaps():
    assert default_sync_mode("runware", "lipsync-2") == "bounce"
    assert default_sync_mode("runware", "sync-3") == "cut_off"
    assert default_sync_mode("foxapi", "lipsync-2") == "loop"
    assert default_sync_mode("fal", "lipsync-2") == "cut_off"
    assert not supports("runware", "sync-3", "sync_mode=loop")[0]
    assert not supports("foxapi", "sync-3", "temperature")[0]
    assert not supports("foxapi", "sync-3", "active_speaker")[0]
    assert supports("foxapi", "lipsync-2", "active_speaker")[0]
    assert "lipsync-1.9.0-beta" not in models_for("runware")
    assert "lipsync-1.9.0-beta" not in models_for("foxapi")
    assert models_for("sync") == ["lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3"]


@pytest.mark.parametrize("options,needle", [
    ({"temperature": 1.5}, "temperature 1.5 is out of range for lipsync-2 on Runware"),
    ({"temperature": -0.1}, "temperature -0.1 is out of range"),
    ({"output_quality": 10}, "output_quality 10 is out of range for lipsync-2 on Runware"),
    ({"output_quality": 100}, "output_quality 100 is out of range"),
    ({"number_results": 5}, "number_results 5 is out of range"),
    ({"ttl": 30}, "ttl 30 is out of range"),
    ({"sync_mode": "wobble"}, "sync_mode 'wobble' is unknown for lipsync-2 on Runware"),
    ({"output_format": "AVI"}, "output_format 'AVI' is not valid for lipsync-2 on Runware"),
])
def test_out_of_range_values(options, needle):
    with pytest.raises(InputError) as info:
        validate(make("runware", "lipsync-2", options=options))
    assert needle in str(info.value)


def test_sync3_enums_on_runware():
    with pytest.raises(InputError, match="emotion 'bored' is not valid for sync-3 on Runware"):
        validate(make("runware", "sync-3", options={"emotion": "bored"}))
    with pytest.raises(InputError, match="mode 'body' is not valid for sync-3 on Runware"):
        validate(make("runware", "sync-3", options={"mode": "body"}))


def test_structural_rules():
    with pytest.raises(InputError, match="start and end must be given together"):
        validate(make("sync", "lipsync-2", audio=[AudioInput(id="a", path="a.wav", start=1.0)]))
    with pytest.raises(InputError, match="unknown audio id 'zz'"):
        validate(make("sync", "lipsync-2", segments=[Segment(start=0, end=1, audio_id="zz")]))
    with pytest.raises(InputError, match="need segments"):
        validate(make("sync", "lipsync-2", audio=[AudioInput(id="a", path="a"), AudioInput(id="b", path="b")]))
    with pytest.raises(InputError, match="frame and point must be given together"):
        validate(make("sync", "lipsync-2", options={"active_speaker": ActiveSpeaker(frame=2)}))
    with pytest.raises(InputError, match="not several"):
        validate(make("sync", "lipsync-2", options={"active_speaker": ActiveSpeaker(auto=True, boxes=[])}))
    with pytest.raises(InputError, match="client_key must be a UUID"):
        validate(make("runware", "lipsync-2", client_key="not-a-uuid"))
    with pytest.raises(InputError, match="lipsync-1.9.0-beta is not offered on Runware"):
        validate(make("runware", "lipsync-1.9.0-beta"))
    with pytest.raises(InputError,
                       match="options_override of occlusion_detection is not supported for sync-3 on sync.so"):
        validate(make("sync", "sync-3", segments=[Segment(start=0, end=1, audio_id="a",
                                                          options_override={"occlusion_detection": True})]))


def test_capability_table_rows_are_json_safe():
    import json

    rows = capability_table()
    assert len(rows) == len(PAIRS)
    json.dumps(rows)
