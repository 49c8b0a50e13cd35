"""Sandbox test fixtures: tiny media made once per session, an httpx client, provider drivers."""

from __future__ import annotations

import httpx
import pytest

from tests.media_fixtures import make_silence_wav, make_test_video, make_tone_wav
from tests.sandbox.drivers import DRIVERS

VIDEO_SECONDS = 2.0
LONG_AUDIO_SECONDS = 3.0  # longer than the video: loop/bounce/remap extend, cut_off/silence cut
TONE_PERIOD = 1.0  # tone on 0.0-0.5 s, off 0.5-1.0 s, ...


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox_media")
    return {
        "video": make_test_video(root / "face.mp4", VIDEO_SECONDS),
        "video_audio": make_test_video(root / "face_sound.mp4", 1.0, with_audio=True),
        "tone": make_tone_wav(root / "tone.wav", LONG_AUDIO_SECONDS, on_off_period=TONE_PERIOD),
        "short": make_tone_wav(root / "short.wav", 1.2, on_off_period=0),
        "silence": make_silence_wav(root / "silence.wav", 1.0),
    }


@pytest.fixture(autouse=True)
def _fast_jobs(request):
    """Jobs finish as soon as their render does; lifecycle tests configure longer timings themselves."""
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").configure(processing_seconds=0.02)


@pytest.fixture(scope="session")
def http():
    # One client for the session: building an httpx.Client (its SSL context) costs ~50 ms.
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.fixture
def driver(sandbox, http):
    """driver("sync") -> a plain-httpx protocol script pointed at the sandbox."""

    def make(provider: str, key: str = "sandbox-key"):
        return DRIVERS[provider](http, sandbox.base_url(provider), key)

    return make
