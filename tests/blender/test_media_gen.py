"""The generated test media read back what was written (tests/blender/media_kit.py)."""

import pytest

from tests.blender.media_kit import click_times, decode_audio, make_click_wav, make_coded_video, read_codes


def test_coded_video_reads_back(tmp_path):
    path = make_coded_video(tmp_path / "c.mp4", 30, "30000/1001")
    assert read_codes(path) == list(range(30))


def test_click_wav_reads_back(tmp_path):
    path = make_click_wav(tmp_path / "c.wav", 2.0, [0.5, 1.25])
    assert click_times(decode_audio(path)) == pytest.approx([0.5, 1.25], abs=1e-4)
