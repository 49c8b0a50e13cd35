"""Dialogue from text (TTS) through the client, over loopback to the sandbox: the providers that
speak text do (sync.so text + voice id, Runware sync-3 speech + settings.tts), and every refusal
happens before anything is sent (no request reaches the sandbox)."""

from __future__ import annotations

import json

import pytest

from client import cli
from client.capabilities import all_caps, supports
from client.config import ENV_KEYS, base_url_env
from client.errors import InputError
from client.events import Completed, Failed
from client.models import AudioInput, Segment, TextInput
from client.speech import WORDS_PER_MINUTE, about, spoken_seconds
from tests.client.jobkit import request, run
from tests.fixtures.sandbox import SANDBOX_KEY

SPEAKERS = [(c.provider, c.model) for c in all_caps() if supports(c.provider, c.model, "text")[0]]
MUTE = [(c.provider, c.model) for c in all_caps() if not supports(c.provider, c.model, "text")[0]]


def _line(text="one two three", voice="v-1", **kw):
    return TextInput(id="t1", text=text, voice=voice, **kw)


def test_the_capability_table_says_who_speaks_text():
    assert SPEAKERS == [("sync", m) for m in ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3")] + [
        ("runware", "sync-3")]
    for provider, model in MUTE:
        ok, why = supports(provider, model, "text")
        assert not ok and "docs/providers.md" in why, (provider, model, why)


@pytest.mark.parametrize("provider,model", SPEAKERS)
def test_text_only_job_is_spoken(sandbox, media, tmp_path, provider, model):
    req = request(provider, model, media, audio=[], text=[_line(stability=0.25, similarity_boost=0.75)])
    done = run(sandbox, req, tmp_path)[-1]
    assert isinstance(done, Completed), getattr(done, "error", None)
    (job,) = sandbox.stats()["jobs"]
    (audio,) = job["inputs"]["audio"]
    # the sandbox speaks 0.4 s per word: the script reached it, word for word
    assert audio["tts"] is True and audio["duration"] == pytest.approx(1.2, abs=0.01)
    if provider == "runware":
        assert job["options"]["settings"]["tts"] == {"provider": "elevenlabs", "stability": 0.25,
                                                     "similarityBoost": 0.75}


def test_sync_mixes_text_and_audio_in_segments(sandbox, media, tmp_path):
    req = request("sync", "lipsync-2", media, text=[_line("hi there")],
                  segments=[Segment(start=0, end=0.4, audio_id="a1"), Segment(start=0.4, end=1.0, audio_id="t1")])
    assert isinstance(run(sandbox, req, tmp_path)[-1], Completed)
    (job,) = sandbox.stats()["jobs"]
    assert [a["tts"] for a in job["inputs"]["audio"]] == [False, True] and len(job["segments"]) == 2


def _refusals(media):
    a1 = [AudioInput(id="a1", path=media["audio"])]
    yield "empty", request("sync", "lipsync-2", media, audio=[], text=[_line("   ")]), "is empty"
    yield "too long", request("sync", "sync-3", media, audio=[], text=[_line("word " * 1001)]), "at most 5000"
    yield "too long runware", request("runware", "sync-3", media, audio=[], text=[_line("x" * 5001)]), "at most 5000"
    yield "no voice", request("runware", "sync-3", media, audio=[], text=[_line(voice=" ")]), "no voice id"
    yield "stability", request("sync", "lipsync-2", media, audio=[], text=[_line(stability=1.5)]), "0 to 1"
    yield "tts provider", request("sync", "lipsync-2", media, audio=[], text=[_line(provider="playht")]), "unknown"
    for provider, model in MUTE:
        yield f"{provider} {model}", request(provider, model, media, audio=[], text=[_line()]), "text is not supported"
    yield "runware both", request("runware", "sync-3", media, audio=a1, text=[_line()]), "not both"
    yield "runware two lines", request("runware", "sync-3", media, audio=[], text=[
        _line(), TextInput(id="t2", text="more", voice="v")]), "one text line per job"
    yield "one range", request("sync", "lipsync-2", media, audio=a1, text=[_line()], segments=[
        Segment(start=0, end=0.6, audio_id="a1"), Segment(start=0.5, end=1.0, audio_id="t1")]), "same range"
    yield "no segments", request("sync", "lipsync-2", media, audio=a1, text=[_line()]), "need segments"


def test_bad_text_is_refused_before_anything_is_sent(sandbox, media, tmp_path):
    seen = set()
    for name, req, words in _refusals(media):
        result = run(sandbox, req, tmp_path / name.replace(" ", "_"))[-1]
        assert isinstance(result, Failed) and isinstance(result.error, InputError), name
        assert words in result.error.message, (name, result.error.message)
        seen.add(name)
    assert sandbox.stats()["requests"] == 0
    assert len(seen) >= 11 + len(MUTE) - 1


def test_spoken_length_estimate():
    assert spoken_seconds("one two three, four-five six's") == pytest.approx(5 * 60 / WORDS_PER_MINUTE)
    assert about("a b c d e f g h i j k l") == "about 4.8 s (12 word(s) at 150 wpm)"


def _env(monkeypatch, sandbox, provider):
    monkeypatch.setenv(ENV_KEYS[provider], SANDBOX_KEY)
    monkeypatch.setenv(base_url_env(provider), sandbox.base_url(provider))


@pytest.mark.parametrize("provider,model", [("sync", "lipsync-2"), ("runware", "sync-3")])
def test_cli_text_and_voice(sandbox, media, tmp_path, monkeypatch, capsys, provider, model):
    _env(monkeypatch, sandbox, provider)
    out = tmp_path / "spoken.mp4"
    code = cli.main(["run", "--provider", provider, "--model", model, "--video", media["video"], "--text",
                     "say these four words", "--voice", "v-9", "--stability", "0.4", "--similarity-boost", "0.6",
                     "--out", str(out), "--json", "--poll-interval", "0.02"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.is_file() and json.loads(captured.out.splitlines()[-1])["event"] == "completed"
    (audio,) = sandbox.stats()["jobs"][0]["inputs"]["audio"]
    assert audio["tts"] and audio["duration"] == pytest.approx(1.6, abs=0.01)


def test_cli_mixes_text_and_audio_with_a_segments_file(sandbox, media, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sandbox, "sync")
    seg = tmp_path / "segs.json"
    seg.write_text(json.dumps([{"start": 0, "end": 0.4, "audio": "a1"}, {"start": 0.4, "end": 1.0, "audio": "t1"}]))
    code = cli.main(["run", "--provider", "sync", "--model", "lipsync-2", "--video", media["video"],
                     "--audio", media["audio"], "--text", "hello", "--voice", "v", "--segments", str(seg),
                     "--out", str(tmp_path / "o.mp4"), "--poll-interval", "0.02"])
    assert code == 0, capsys.readouterr().err
    assert [a["tts"] for a in sandbox.stats()["jobs"][0]["inputs"]["audio"]] == [False, True]


@pytest.mark.parametrize("args, words", [
    (["--text", "hello"], "no voice id"),
    (["--text", "", "--voice", "v"], "is empty"),
    (["--provider", "fal", "--text", "hi", "--voice", "v"], "text is not supported"),
])
def test_cli_refuses_bad_text_with_one_line(sandbox, media, tmp_path, monkeypatch, capsys, args, words):
    provider = args[args.index("--provider") + 1] if "--provider" in args else "sync"
    _env(monkeypatch, sandbox, provider)
    args = [a for i, a in enumerate(args) if a != "--provider" and (i == 0 or args[i - 1] != "--provider")]
    code = cli.main(["run", "--provider", provider, "--model", "lipsync-2", "--video", media["video"], *args,
                     "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err
    # refused by the client's validation before any request: a failed job, one line, no traceback
    assert code != 0 and words in err and len(err.strip().splitlines()) == 1, err
    assert sandbox.stats()["requests"] == 0


def test_cli_estimate_for_text_says_about(media, capsys):
    code = cli.main(["estimate", "--provider", "sync", "--model", "lipsync-2", "--video", media["video"],
                     "--text", "five words to say here", "--sync-mode", "silence"])
    out = capsys.readouterr().out
    assert code == 0 and "about 2.0 s (5 word(s) at 150 wpm)" in out, out
