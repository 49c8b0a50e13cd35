"""Fixtures of the Blender tests that only this folder uses (shared ones: tests/fixtures/)."""

import pytest

from tests.blender.media_kit import make_media


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Session-wide generated files (tiny: 160x120, a few seconds)."""
    return make_media(tmp_path_factory)
