"""The media layer on its own: frame maps per sync_mode, audio padding/cutting, probing."""

from __future__ import annotations

from array import array

import pytest

from sandbox import media as sbmedia
from sandbox import timeline
from tests.media_fixtures import make_tone_wav, tone_is_on


def test_frame_maps():
    assert timeline.frame_map("loop", 3, 7) == [0, 1, 2, 0, 1, 2, 0]
    assert timeline.frame_map("bounce", 3, 8) == [0, 1, 2, 1, 0, 1, 2, 1]
    assert timeline.frame_map("remap", 4, 8) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert timeline.frame_map("remap", 4, 2) == [0, 2]
    assert timeline.frame_map("cut_off", 4, 2) == [0, 1]
    assert timeline.frame_map("silence", 4, 4) == [0, 1, 2, 3]


@pytest.mark.parametrize("mode,expected", [("cut_off", 1.2), ("silence", 2.0), ("loop", 1.2), ("bounce", 1.2),
                                           ("remap", 1.2)])
def test_plan_with_audio_shorter_than_video(mode, expected):
    rate, fps = 1000, 25.0
    audio = array("h", [1000] * 1200)
    p = timeline.plan(mode, 50, fps, {"a": audio}, rate)
    assert abs(p.seconds - expected) < 1e-9
    assert len(p.audio) == round(expected * rate)
    if mode == "silence":  # padded with silence after the audio ends
        assert set(p.audio[1200:]) == {0} and p.frame_map == list(range(50))


def test_segment_plan_crops_and_places():
    rate, fps = 1000, 25.0
    audio = array("h", range(1, 1001))
    seg = timeline.Segment(0.5, 0.8, "a", audio_start=0.1, audio_end=0.3)  # 0.2 s of audio in a 0.3 s slot
    p = timeline.plan("cut_off", 25, fps, {"a": audio}, rate, [seg])
    assert p.seconds == 1.0
    assert list(p.audio[500:700]) == list(range(101, 301))
    assert set(p.audio[:500]) == {0} and set(p.audio[700:]) == {0}


def test_render_silence_pads_and_probe(media, tmp_path):
    out = str(tmp_path / "o.mp4")
    audios = {"a": sbmedia.decode_audio(media["short"])}
    info = sbmedia.render(media["video"], audios, out, sync_mode="silence")
    assert info["output_frames"] == 50
    probe = sbmedia.probe(out)
    assert probe["frames"] == 50 and abs(probe["duration"] - 2.0) < 0.04 and probe["has_audio"]
    openings = sbmedia.mouth_openings(out)
    assert min(openings[:29]) > 0.8 and max(openings[31:]) < 0.1  # audio is 1.2 s = 30 frames


def test_render_webm_and_video_with_own_audio(media, tmp_path):
    out = str(tmp_path / "o.webm")
    sbmedia.render(media["video_audio"], {"a": sbmedia.decode_audio(media["video_audio"])}, out,
                   sync_mode="cut_off", fmt="webm")
    probe = sbmedia.probe(out)
    assert probe["frames"] == 25 and probe["width"] == 160


def test_probe_inputs(media):
    v = sbmedia.probe(media["video"])
    assert (v["frames"], v["fps"], v["width"], v["height"], v["has_audio"]) == (50, 25.0, 160, 120, False)
    a = sbmedia.probe(media["tone"])
    assert a["has_video"] is False and abs(a["audio_seconds"] - 3.0) < 1e-3


def test_tone_fixture_gate(tmp_path):
    path = make_tone_wav(tmp_path / "t.wav", 1.0, on_off_period=0.4)
    samples = sbmedia.decode_audio(path)
    rms = timeline.frame_rms(samples, sbmedia.AUDIO_RATE, 25.0, 25)
    for i, level in enumerate(rms):
        t0, t1 = i / 25, (i + 1) / 25 - 1e-6
        if tone_is_on(t0, 0.4) == tone_is_on(t1, 0.4):
            assert (level > 0.3) == tone_is_on(t0, 0.4)


def test_undecodable_input_raises(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(sbmedia.MediaError):
        sbmedia.decode_video(str(bad))
    with pytest.raises(sbmedia.MediaError):
        sbmedia.decode_audio(str(bad))


def test_speaker_boxes_place_mouth_in_lower_face():
    sp = timeline.Speaker(boxes=[[0, 0, 40, 40], None])
    assert sp.point_for(0) == (20.0, 30.0)
    assert sp.point_for(1) is None and sp.point_for(5) is None
    assert timeline.Speaker(point=(3.0, 4.0)).point_for(7) == (3.0, 4.0)


def test_own_sandbox_lifecycle_and_admin_over_http(tmp_path):
    import httpx

    from sandbox import Sandbox

    with Sandbox(port=0, keys=("k1", "id:secret"), workdir=str(tmp_path)) as sb:
        assert sb.port and sb.base_url("fal") == f"http://127.0.0.1:{sb.port}/fal"
        with httpx.Client() as c:
            r = c.post(f"{sb.url}/_sandbox/config", json={"provider": "fal", "concurrency": 3})
            settings = r.json()["settings"]
            assert settings["fal"]["concurrency"] == 3 and settings["sync"]["concurrency"] is None
            assert c.post(f"{sb.url}/_sandbox/config", json={"bogus": 1}).status_code == 400
            h = {"Authorization": "Key id:secret"}
            assert c.put(f"{sb.base_url('fal')}/fal-ai/sync-lipsync/requests/x/cancel", headers=h).status_code == 404
            assert c.get(f"{sb.url}/nope").status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sb.url}/_sandbox/stats", timeout=1)
