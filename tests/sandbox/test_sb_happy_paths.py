"""Every provider's full happy path over plain HTTP, for every sync_mode, checked frame by frame.

upload (provider's facility) -> submit -> poll -> download -> probe: duration per sync_mode within one
frame, and the painted mouth open exactly where the tone plays.
"""

from __future__ import annotations

import pytest

from sandbox import media as sbmedia
from tests.media_fixtures import tone_is_on
from tests.sandbox.conftest import LONG_AUDIO_SECONDS, TONE_PERIOD, VIDEO_SECONDS

PROVIDERS = ("sync", "runware", "wavespeed", "foxapi", "fal")
EXPECTED = {"cut_off": min(VIDEO_SECONDS, LONG_AUDIO_SECONDS), "silence": VIDEO_SECONDS,
            "loop": LONG_AUDIO_SECONDS, "bounce": LONG_AUDIO_SECONDS, "remap": LONG_AUDIO_SECONDS}
FPS = 25.0


def download(http, url, path):
    r = http.get(url)
    assert r.status_code == 200, r.text
    path.write_bytes(r.content)
    return str(path)


def assert_mouth_follows_tone(info, audio_seconds=LONG_AUDIO_SECONDS, period=TONE_PERIOD):
    """`info` from media.analyze(): mouth open (and output loud) exactly where the tone plays."""
    openings, loudness = info["openings"], info["loudness"]
    checked = 0
    for i, opening in enumerate(openings):
        t0, t1 = i / FPS, (i + 1) / FPS - 1e-6
        if tone_is_on(t0, period) != tone_is_on(t1, period) or t0 < audio_seconds < t1:
            continue  # the frame straddles a gate edge
        on = t0 < audio_seconds and tone_is_on(t0, period)
        if on:
            assert opening > 0.8, f"frame {i} ({t0:.2f}s): tone on, mouth {opening:.2f}"
            assert loudness[i] > 0.2, f"frame {i}: output audio should be loud"
        else:
            assert opening < 0.1, f"frame {i} ({t0:.2f}s): silent, mouth {opening:.2f}"
            assert loudness[i] < 0.01, f"frame {i}: output audio should be silent"
        checked += 1
    assert checked > len(openings) * 0.8


@pytest.mark.parametrize("sync_mode", list(EXPECTED))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_happy_path(sandbox, driver, http, media, tmp_path, provider, sync_mode):
    d = driver(provider)
    state, body = d.run(media["video"], media["tone"], sync_mode=sync_mode)
    assert state == "completed", body
    out = download(http, d.output_url(body), tmp_path / "out.mp4")
    info = sbmedia.analyze(out)
    expected = EXPECTED[sync_mode]
    for field in ("video_seconds", "duration", "audio_seconds"):
        assert abs(info[field] - expected) <= 1 / FPS + 1e-6, (field, info[field], expected)
    assert (info["width"], info["height"]) == (160, 120)
    assert_mouth_follows_tone(info)
    stats = sandbox.stats()
    assert stats["generations"][provider] == 1
    assert stats["uploads"][provider] == 2
    (job,) = stats["jobs"]
    assert job["sync_mode"] == sync_mode
    assert abs(job["output_seconds"] - expected) < 1e-6
    assert job["inputs"]["video"]["frames"] == 50



def test_identical_jobs_at_once_all_complete(sandbox, driver, media, tmp_path):
    """Several clients submit the same (uncached) render at once: one render, every job completes."""
    import random
    import threading

    from tests.media_fixtures import make_tone_wav

    audio = make_tone_wav(tmp_path / "fresh.wav", 1.0, frequency=random.uniform(300, 900))
    d = driver("foxapi")
    v, a = d.upload(media["video"]), d.upload(audio)
    ids = [d.job_id(d.submit(v, a, sync_mode="cut_off")) for _ in range(4)]
    results = {}

    def wait(job_id):
        results[job_id] = d.wait(job_id)[0]

    threads = [threading.Thread(target=wait, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {"completed"}
