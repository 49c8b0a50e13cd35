"""Pricing, media durations, config and error text (no network)."""

from __future__ import annotations

import struct

import pytest

from client.config import ProviderConfig, key_source, resolve_config
from client.errors import AuthError, JobFailed, LipsyncError, RateLimited, humanize, register_secret
from client.events import Failed, JobState, event_to_dict
from client.media_info import duration
from client.pricing import PRICES, estimate, output_seconds
from client.transport import check_url, parse_retry_after
from client.errors import InputError
from tests.media_fixtures import make_test_video, make_tone_wav


def test_output_seconds_per_mode():
    assert output_seconds("cut_off", 5, 3) == 3
    assert output_seconds("silence", 5, 3) == 5
    for mode in ("bounce", "loop", "remap"):
        assert output_seconds(mode, 5, 3) == 3


def test_estimates():
    e = estimate("runware", "lipsync-2", video_seconds=10, audio_seconds=4)
    assert e.usd == pytest.approx(0.176) and e.billed_seconds == 4  # $0.044 per audio second
    e = estimate("sync", "lipsync-2", 10, 4, sync_mode="silence")
    assert e.usd == pytest.approx(0.5) and "Creator" in e.note
    e = estimate("fal", "sync-3", 6, 6, number_results=1)
    assert e.usd == pytest.approx(0.8)
    e = estimate("wavespeed", "lipsync-2", 6, 6)
    assert e.usd is None and "not in the reference" in e.note
    assert all(key in PRICES for key in [("fal", "lipsync-2-pro"), ("foxapi", "sync-3")])


def test_durations(tmp_path):
    wav = make_tone_wav(tmp_path / "a.wav", 1.5)
    assert duration(wav) == pytest.approx(1.5, abs=0.01)
    mp4 = make_test_video(tmp_path / "v.mp4", 2.0)
    assert duration(mp4) == pytest.approx(2.0, abs=0.1)
    (tmp_path / "junk.bin").write_bytes(b"nothing here")
    assert duration(tmp_path / "junk.bin") is None
    # a 64-bit mvhd (version 1) inside a minimal MOV
    mvhd = struct.pack(">I4sB3xQQIQ", 8 + 4 + 28, b"mvhd", 1, 0, 0, 600, 1800)
    moov = struct.pack(">I4s", 8 + len(mvhd), b"moov") + mvhd
    (tmp_path / "x.mov").write_bytes(struct.pack(">I4s4s", 12, b"ftyp", b"qt  ") + moov)
    assert duration(tmp_path / "x.mov") == pytest.approx(3.0)


def test_config_env_wins_and_repr_hides_key():
    env = {"SYNC_API_KEY": "sk-ENVKEY-0001", "LIPSYNC_SYNC_BASE_URL": "http://127.0.0.1:9/sync/"}
    cfg = resolve_config("sync", pref_key="sk-PREFKEY-002", environ=env)
    assert cfg.api_key == "sk-ENVKEY-0001" and cfg.base_url == "http://127.0.0.1:9/sync"
    assert "ENVKEY" not in repr(cfg) and "ENVKEY" not in str(cfg)
    assert key_source("sync", "x", env) == "env:SYNC_API_KEY"
    assert key_source("sync", "sk-PREFKEY-002", {}) == "preferences"
    assert key_source("fal", "", {}) == "missing"
    fal = ProviderConfig("fal", "k" * 8, "http://127.0.0.1:9/fal")
    assert fal.url("/files/upload", "cdn") == "http://127.0.0.1:9/fal/files/upload"
    assert ProviderConfig("fal", "k" * 8).url("/x", "storage") == "https://rest.fal.ai/x"


def test_errors_scrub_registered_keys_and_humanize():
    register_secret("sk-LEAKCHECK-123")
    err = AuthError("bad key sk-LEAKCHECK-123 given", "sync")
    assert "LEAKCHECK" not in str(err) + repr(err) + err.human()
    assert err.human().startswith("sync.so: ")
    assert JobFailed("generation_timeout", "too slow", "sync").human() == "sync.so: too slow [generation_timeout]."
    assert RateLimited("slow down", "fal", retry_after=3).retry_after == 3
    assert humanize(ValueError("boom")) == "Unexpected ValueError: boom."
    failed = Failed(JobState.FAILED, LipsyncError("x", "fal"))
    assert event_to_dict(failed)["error"]["human"] == "fal: x."


def test_url_safety_and_retry_after():
    assert check_url("https://x.example/a")
    assert check_url("http://127.0.0.1:8000/a") and check_url("http://localhost/a") and check_url("http://[::1]/")
    for bad in ("http://example.com/a", "ftp://127.0.0.1/", "file:///etc/passwd"):
        with pytest.raises(InputError):
            check_url(bad)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_retry_after_is_clamped_and_never_raises():
    from client.transport import MAX_RETRY_AFTER, clamp_wait

    for absurd in ("1e9", "inf", "Infinity", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT"):
        assert parse_retry_after(absurd) == MAX_RETRY_AFTER, absurd
    for unreadable in ("nan", "NaN", "-nan", "Sun, 99 Foo 99999 99:99:99 GMT", "9" * 5000, "\x00"):
        assert parse_retry_after(unreadable) is None, unreadable
    assert parse_retry_after("-5") == 0.0
    assert clamp_wait(float("nan")) is None and clamp_wait(1e308 * 10) == MAX_RETRY_AFTER


def test_scrub_ignores_letter_case_and_url_encoding():
    from client.errors import contains_secret, scrub

    register_secret("Sk-MiXeD/Case+Key-77")
    for echo in ("Sk-MiXeD/Case+Key-77", "sk-mixed/case+key-77", "SK-MIXED/CASE+KEY-77",
                 "Sk-MiXeD%2FCase%2BKey-77", "sk-mixed%2fcase%2bkey-77"):
        text = f"invalid key '{echo}' given"
        assert contains_secret(text) and "***" in scrub(text) and "ase" not in scrub(text).split("'")[1], echo
    assert JobFailed("code-sk-mixed/case+key-77", "x", "fal").code == "code-***"
