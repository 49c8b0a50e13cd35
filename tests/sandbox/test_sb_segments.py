"""Segments place each (cropped) audio at its time range; the active speaker moves the mouth."""

from __future__ import annotations

from sandbox import media as sbmedia

FPS = 25


def _download(http, url, tmp_path):
    path = tmp_path / "out.mp4"
    path.write_bytes(http.get(url).content)
    return str(path)


def test_sync_segments_timing(sandbox, driver, media, http, tmp_path):
    d = driver("sync")
    v, tone, quiet = d.upload(media["video"]), d.upload(media["short"]), d.upload(media["silence"])
    body = {"model": "lipsync-2",
            "input": [{"type": "video", "assetId": v}, {"type": "audio", "assetId": tone, "refId": "tone"},
                      {"type": "audio", "assetId": quiet, "refId": "quiet"}],
            "segments": [{"startTime": 0.0, "endTime": 0.6, "audioInput": {"refId": "quiet"}},
                         # the 1.2 s tone cropped to 0.2-1.0 s, placed at 0.6-1.4 s
                         {"startTime": 0.6, "endTime": 1.4, "audioInput": {"refId": "tone", "startTime": 0.2,
                                                                           "endTime": 1.0},
                          "optionsOverride": {"temperature": 0.7}}]}
    r = d.c.post(f"{d.base}/v2/generate", headers=d.h, json=body)
    assert r.status_code == 201, r.text
    state, gen = d.wait(r.json()["id"])
    assert state == "completed" and gen["segments"] == body["segments"]
    info = sbmedia.analyze(_download(http, gen["outputUrl"], tmp_path))
    assert info["frames"] == 50  # with segments the output keeps the video's length
    opened = [i for i, o in enumerate(info["openings"]) if o > 0.5]
    assert opened == list(range(15, 35))  # frames 15..34 = 0.6 s .. 1.4 s
    assert all(info["loudness"][i] > 0.2 for i in opened)
    (job,) = sandbox.stats()["jobs"]
    assert job["segments"][1] == {"start": 0.6, "end": 1.4, "audio_id": "tone", "audio_start": 0.2,
                                  "audio_end": 1.0}


def test_runware_segments_and_crop_rules(sandbox, driver, media, http, tmp_path):
    d = driver("runware")
    v, tone = d.upload(media["video"]), d.upload(media["short"])
    seg = [{"startTime": 1.0, "endTime": 2.0, "audio": tone, "audioStartTime": 0.0, "audioEndTime": 0.5}]
    r = d.submit(v, tone, sync={"segments": seg})
    state, body = d.wait(d.job_id(r))
    assert state == "completed"
    info = sbmedia.analyze(_download(http, d.output_url(body), tmp_path))
    opened = [i for i, o in enumerate(info["openings"]) if o > 0.5]
    assert opened == list(range(25, 38))  # 0.5 s of tone from 1.0 s (frames 25..37), then padding silence
    bad = [dict(seg[0], audioEndTime=None)]
    del bad[0]["audioEndTime"]
    r = d.submit(v, tone, sync={"segments": bad})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "invalidAudioStartTime"


def test_active_speaker_point_moves_mouth(sandbox, driver, media, http, tmp_path):
    d = driver("sync")
    v, tone = d.upload(media["video"]), d.upload(media["short"])
    r = d.submit(v, tone, sync_mode="cut_off",
                 options={"active_speaker_detection": {"frame_number": 0, "coordinates": [40, 30]}})
    state, body = d.wait(d.job_id(r))
    out = _download(http, d.output_url(body), tmp_path)
    at_point = sbmedia.mouth_openings(out, point=(40, 30))
    lower_centre = sbmedia.mouth_openings(out)
    assert min(at_point) > 0.8  # the 1.2 s tone is always on
    assert max(lower_centre) < 0.1
    assert sandbox.stats()["jobs"][0]["active_speaker"]["point"] == [40.0, 30.0]


def test_sync_tts_input_drives_mouth(sandbox, driver, media, http, tmp_path):
    d = driver("sync")
    v = d.upload(media["video"])
    r = d.c.post(f"{d.base}/v2/generate", headers=d.h, json={
        "model": "lipsync-2", "options": {"sync_mode": "silence"},
        "input": [{"type": "video", "assetId": v},
                  {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "hello there"}}]})
    assert r.status_code == 201, r.text
    state, body = d.wait(r.json()["id"])
    info = sbmedia.analyze(_download(http, d.output_url(body), tmp_path))
    # two words: 0.3 s tone + 0.1 s pause each, then silence to the video's 2 s
    assert info["openings"][3] > 0.8 and info["openings"][12] > 0.8 and info["openings"][30] < 0.1
