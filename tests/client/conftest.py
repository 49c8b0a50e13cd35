"""Client test fixtures: tiny media made once per session, a fresh upload cache per test."""

from __future__ import annotations

import pytest

from client.uploads import DEFAULT_CACHE
from tests.client.jobkit import AUDIO_SECONDS, VIDEO_SECONDS
from tests.media_fixtures import make_test_video, make_tone_wav


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("client_media")
    return {
        "video": make_test_video(root / "face.mp4", VIDEO_SECONDS),
        "audio": make_tone_wav(root / "line.wav", AUDIO_SECONDS),
        "audio2": make_tone_wav(root / "line2.wav", 0.6, on_off_period=0.3),
    }


@pytest.fixture(autouse=True)
def _fresh_upload_cache():
    # the sandbox forgets its files on reset; a process-wide cache would hand out dead refs
    DEFAULT_CACHE.clear()
    yield
    DEFAULT_CACHE.clear()


