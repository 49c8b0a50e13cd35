"""End to end in real bpy against the sandbox over HTTP, for every provider.

A trimmed 30 fps strip in a 25 fps scene (workflow_kit: visible 16..64) with one and with two
overlapping dialogue strips: the take lands directly above the source (a strip there moves up one
channel, so it stays above), on exactly 16..64, and plays in the source's place (the source muted);
the sandbox received a 48-frame video and the segment times of the dialogue strips to the frame.
"""

import json
import os

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import (MODEL_FOR, PROVIDERS, SCENE_FPS, VISIBLE, add_shot, expected_segments, takes,
                          use_sandbox, visible)

FRAME = 1.0 / SCENE_FPS


@pytest.mark.parametrize("n_sounds", [1, 2])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_submit_selected_places_frame_exact_take(addon, scene, online, clean_env, sandbox, tmp_path_factory,
                                                 provider, n_sounds):
    use_sandbox(clean_env, sandbox, provider)
    media = tmp_path_factory.mktemp("media")
    movie = add_shot(addon, scene, str(media), n_sounds=n_sounds)
    # a strip already on channel 3 over the range: it moves up to 4 and the take goes on 3 (between)
    blocker = lipsync("vse.compat").new_effect(scene.sequence_editor.strips if hasattr(scene.sequence_editor, "strips")
                                      else scene.sequence_editor.sequences, "blocker", "COLOR", 3, 30, 5)
    assert visible(movie) == VISIBLE and movie.fps == 30

    assert bpy.ops.lipsync.submit_selected(provider=provider, model=MODEL_FOR[provider]) == {"FINISHED"}

    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    assert rec.provider == provider and rec.remote_id and rec.client_key
    [take] = takes(scene)
    assert take.channel == 3 and visible(take) == VISIBLE and not take.mute
    assert take.lipsync.job_id == rec.job_id and take.lipsync.remote_id == rec.remote_id
    assert take.lipsync.provider == provider and take.lipsync.model == MODEL_FOR[provider]
    # the source's content and timing untouched; only muted while its take plays
    assert visible(movie) == VISIBLE and movie.channel == 2 and movie.mute and movie.lipsync.muted_by_take
    assert visible(blocker) == (30, 35) and blocker.channel == 4

    [job] = sandbox.stats()["jobs"]
    frames = VISIBLE[1] - VISIBLE[0]
    assert job["inputs"]["video"]["frames"] == frames
    assert abs(job["inputs"]["video"]["duration"] - frames / SCENE_FPS) < FRAME / 2
    if job["segments"]:
        got = [(s["start"], s["end"]) for s in job["segments"]]
        want = expected_segments(n_sounds)
        assert len(got) == len(want)
        for (gs, ge), (ws, we) in zip(got, want):
            assert abs(gs - ws) < FRAME / 2 and abs(ge - we) < FRAME / 2, (got, want)
    else:   # providers without segments get one mixed track as long as the video
        assert provider not in ("sync", "runware") or n_sounds == 1
        assert abs(job["inputs"]["audio"][0]["duration"] - frames / SCENE_FPS) < FRAME


def test_estimate_and_options_recorded(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    settings = scene.lipsync
    settings.provider, settings.model = "sync", "lipsync-2"
    settings.use_temperature, settings.temperature = True, 0.3
    settings.speaker_mode = "AUTO"
    lipsync("vse.segments").refresh_estimate(scene)   # background: computed on demand (no app timers)
    assert "about $" in settings.estimate_text
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    rec = settings.jobs[0]
    options = json.loads(rec.options_json)
    assert options == {"temperature": 0.3, "active_speaker": {"auto": True}}
    assert rec.estimate > 0 and rec.input_hash and rec.out_dir
    assert "sandbox-key" not in rec.request_json and "sandbox-key" not in json.dumps(
        {k: str(getattr(rec, k)) for k in rec.bl_rna.properties.keys()})
    [job] = sandbox.stats()["jobs"]
    assert job["options"].get("temperature") == 0.3
    video = json.loads(rec.request_json)["video"]             # the cut upload files are cleaned up
    assert rec.job_id in video and not os.path.exists(os.path.dirname(video))
