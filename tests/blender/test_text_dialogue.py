"""Dialogue from text (issue 17) in real bpy against the sandbox: a Text strip over a movie strip
is spoken by the provider's TTS, the take lands as usual and the spoken line is placed as a new
sound strip in sync with it; the Text strip and the original dialogue are untouched; each bad
input is refused before anything is recorded or sent.

The shot is workflow_kit's (25 fps scene, movie visible on 16..64). The sandbox speaks a line as
0.3 s of tone + 0.1 s of pause per word (sandbox/media.py `synth_speech`) and paints the mouth
from the audio it lip-syncs to, so the take's mouth and the placed sound must agree frame by frame.
"""

import os

import bpy
import pytest

from tests.fixtures import oracle
from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import SCENE_FPS, VISIBLE, add_shot, strips_of, takes, use_sandbox, visible

LINE = "one two three"           # three words: 1.2 s of sandbox speech
SPEAKERS = [("sync", "lipsync-2"), ("sync", "sync-3"), ("runware", "sync-3")]


def _shot(addon, scene, media_dir, *, keep_sound=False):
    movie = add_shot(addon, scene, media_dir)
    if not keep_sound:
        strips = strips_of(scene)
        strips.remove(strips["shot_line0"])
    return movie


def _text(scene, start=VISIBLE[0], length=40, text=LINE, name="line", channel=5):
    strip = lipsync("vse.compat").new_effect(strips_of(scene), name, "TEXT", channel, start, length)
    strip.text = text
    return strip


def _sounds_of_job(scene, job_id):
    sed = scene.sequence_editor
    every = sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all
    return [s for s in every if s.type == "SOUND" and s.lipsync.job_id == job_id]


def _mixdown(scene, path, first, last):
    scene.frame_start, scene.frame_end = first, last - 1
    assert bpy.ops.sound.mixdown(filepath=path, container="WAV", codec="PCM", format="S16",
                                 accuracy=1024) == {"FINISHED"}
    return oracle.rms_per_frame(oracle.decode_audio(path), SCENE_FPS)


@pytest.mark.parametrize("provider,model", SPEAKERS)
def test_text_strip_becomes_a_take_and_a_sound_strip(addon, scene, online, clean_env, sandbox, tmp_path_factory,
                                                     provider, model):
    from sandbox import media as sbmedia

    use_sandbox(clean_env, sandbox, provider)
    media_dir = str(tmp_path_factory.mktemp("media"))
    movie = _shot(addon, scene, media_dir)
    text = _text(scene)
    scene.lipsync.voice_id = "voice-42"
    scene.lipsync.use_tts_settings, scene.lipsync.tts_stability = True, 0.3
    before = (text.text, text.channel, visible(text))

    assert bpy.ops.lipsync.submit_selected(provider=provider, model=model) == {"FINISHED"}

    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    [take] = takes(scene)
    [line] = _sounds_of_job(scene, rec.job_id)
    assert line.sound.filepath == take.filepath and line.lipsync.source == movie.name
    assert visible(line) == visible(take)
    assert lipsync("vse.compat").get_timing(line, "frame_start") == lipsync("vse.compat").get_timing(
        take, "frame_start")
    assert (text.text, text.channel, visible(text)) == before and not text.mute     # the Text strip as it was
    # the source keeps its timing; it is muted by the add-on while its take plays (issue 14's stack)
    assert visible(movie) == VISIBLE and movie.mute and movie.lipsync.muted_by_take
    [job] = sandbox.stats()["jobs"]
    [spoken] = job["inputs"]["audio"]
    assert spoken["tts"] and spoken["duration"] == pytest.approx(1.2, abs=0.01)   # the three words, spoken
    if provider == "runware":
        assert job["options"]["settings"]["tts"] == {"provider": "elevenlabs", "stability": 0.3,
                                                     "similarityBoost": 0.75}
    # the mouth moves with the speech, and the placed sound is heard on exactly those frames
    opened = sbmedia.mouth_openings(bpy.path.abspath(take.filepath))
    left, right = visible(take)
    loud = _mixdown(scene, os.path.join(media_dir, "mix.wav"), left, right)
    frames = min(len(opened), len(loud))
    assert frames >= 25
    compared = [(o > 0.5, rms > 0.05) for o, rms in zip(opened[:frames], loud[:frames])
                if (o > 0.5 or o < 0.1) and (rms > 0.05 or rms < 0.01)]
    assert len(compared) >= frames * 0.7
    assert sum(1 for mouth, sound in compared if mouth != sound) == 0, list(zip(opened, loud))
    assert sum(1 for mouth, _ in compared if mouth) >= 9 and sum(1 for mouth, _ in compared if not mouth) >= 3


def test_row_voice_overrides_the_panel_and_estimate_says_about(addon, addon_prefs, scene, online, clean_env, sandbox,
                                                               tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    _text(scene)
    settings = scene.lipsync
    settings.provider, settings.model = "sync", "lipsync-2"
    addon_prefs.default_voice = "pref-voice"
    segments = lipsync("vse.segments")
    assert segments.refresh_segments(scene, scene.sequence_editor.active_strip) == ""
    [row] = [r for r in settings.segments if r.is_text]
    assert row.name == "line"
    snapshot = lipsync("vse.snapshot")
    assert snapshot.snapshot_job(scene, scene.sequence_editor.active_strip).text[0].voice == "pref-voice"
    settings.voice_id = "panel-voice"
    assert snapshot.snapshot_job(scene, scene.sequence_editor.active_strip).text[0].voice == "panel-voice"
    row.voice = "row-voice"
    job = snapshot.snapshot_job(scene, scene.sequence_editor.active_strip)
    assert job.text[0].voice == "row-voice" and job.text[0].text == LINE
    segments.refresh_estimate(scene, force=True)
    assert "about $" in settings.estimate_text and "3 word(s) at 150 wpm" in settings.estimate_text
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    rec = settings.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    assert rec.estimate > 0                             # the guess from the words, before any spend
    assert '"voice": "row-voice"' in rec.request_json
    assert rec.sound_strips_json == '["line"]'


def test_text_and_original_dialogue_mix_in_segments_on_sync(addon, scene, online, clean_env, sandbox,
                                                          tmp_path_factory):
    # the original dialogue (13..53) is kept for its range, the line is spoken after it (54..64)
    use_sandbox(clean_env, sandbox, "sync")
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")), keep_sound=True)
    _text(scene, start=54, length=10, text="late")
    scene.lipsync.voice_id = "v-7"
    assert bpy.ops.lipsync.submit_selected(provider="sync", model="lipsync-2") == {"FINISHED"}
    rec = scene.lipsync.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    [job] = sandbox.stats()["jobs"]
    assert [a["tts"] for a in job["inputs"]["audio"]] == [False, True]
    assert [round(s["start"] * SCENE_FPS) for s in job["segments"]] == [0, 54 - VISIBLE[0]]
    assert len(_sounds_of_job(scene, rec.job_id)) == 1
    sound = strips_of(scene)["shot_line0"]
    assert not sound.mute and sound.lipsync.job_id == ""          # the original dialogue untouched


def _refused(scene, provider, model):
    before = len(scene.lipsync.jobs)
    with pytest.raises(RuntimeError) as info:    # the operator reports the refusal as an error
        bpy.ops.lipsync.submit_selected(provider=provider, model=model)
    assert len(scene.lipsync.jobs) == before, "a refused strip must record nothing"
    return str(info.value)


@pytest.mark.parametrize("case", ["empty", "too long", "no voice", "no tts", "text and audio", "late on runware",
                                  "one range"])
def test_each_refusal_records_and_sends_nothing(addon, addon_prefs, scene, online, clean_env, sandbox,
                                                tmp_path_factory, case):
    provider, model = {"no tts": ("fal", "lipsync-2"), "text and audio": ("runware", "sync-3"),
                       "late on runware": ("runware", "sync-3")}.get(case, ("sync", "lipsync-2"))
    use_sandbox(clean_env, sandbox, provider)
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")), keep_sound=case in ("text and audio", "one range"))
    addon_prefs.default_voice = "" if case == "no voice" else "v-1"
    scene.lipsync.voice_id = ""
    # a Text strip holds at most 512 characters in Blender: the limit is lowered to reach it
    clean_env.setenv("LIPSYNC_SYNC_MAX_TEXT_CHARS", "100")
    words = {"empty": "   ", "too long": "word " * 30}.get(case, LINE)
    _text(scene, start=30 if case == "late on runware" else VISIBLE[0], text=words)
    launch = lipsync("vse.launch")
    _jobs, why, _name = launch.plan(scene, launch.LaunchSpec(strip="shot", provider=provider, model=model, options={}))
    want = {"empty": '"line" is empty', "too long": "150 characters; lipsync-2 on sync.so speaks at most 100",
            "no voice": "no voice id",
            "no tts": "text is not supported by lipsync-2 on fal", "text and audio": "not both",
            "late on runware": "starts 14 frame(s) into \"shot\"",
            "one range": "play text and audio over the same range"}[case]
    assert want in why, why
    assert '"shot"' in why or case == "no tts"
    assert want in _refused(scene, provider, model)
    assert sandbox.stats()["requests"] == 0


@pytest.mark.parametrize("provider,model", [("sync", "lipsync-2"), ("runware", "lipsync-2"), ("fal", "sync-3")])
def test_panel_draws_text_options_or_greys_them_with_the_reason(addon, scene, online, clean_env, sandbox,
                                                                tmp_path_factory, provider, model):
    import types

    from tests.fixtures.workflow import LayoutRecorder

    panels = lipsync("panels")
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    _text(scene)
    settings = scene.lipsync
    settings.provider, settings.model = provider, model
    bpy.ops.lipsync.refresh_segments()
    settings.segments_index = [r.name for r in settings.segments].index("line")
    log = []
    for cls in (panels.LIPSYNC_PT_text, panels.LIPSYNC_PT_segments):
        cls.draw(types.SimpleNamespace(layout=LayoutRecorder(log)), bpy.context)
    for row in settings.segments:
        panels.LIPSYNC_UL_segments.draw_item(None, bpy.context, LayoutRecorder(log), settings, row, 0, settings,
                                             "segments_index", 0)
    texts = " | ".join(str(kw.get("text", "")) for _n, _a, kw in log)
    props = {a[1] for n, a, _kw in log if n == "prop" and len(a) > 1}
    assert {"voice_id", "use_tts_settings", "tts_stability", "tts_similarity_boost", "voice"} <= props
    assert "voice default" in texts
    if provider == "sync":
        assert "is not supported" not in texts
    else:   # greyed, with the capability table's reason
        assert f"text is not supported by {model}" in texts and "docs/providers.md" in texts


def test_retry_of_a_text_job_finds_its_text_strip_again(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    _text(scene)
    settings = scene.lipsync
    settings.voice_id, settings.use_cache = "v-3", False
    assert bpy.ops.lipsync.submit_selected(provider="sync", model="sync-3") == {"FINISHED"}
    first = settings.jobs[0]
    assert bpy.ops.lipsync.retry(job_id=first.job_id) == {"FINISHED"}
    second = settings.jobs[1]
    assert second.status == "COMPLETED", second.message
    assert second.sound_strips_json == '["line"]' and '"text": "one two three"' in second.request_json
    assert len(takes(scene)) == 2 and len(_sounds_of_job(scene, second.job_id)) == 1
    assert [j["inputs"]["audio"][0]["tts"] for j in sandbox.stats()["jobs"]] == [True, True]


def test_switching_the_original_dialogue_off_lets_runware_speak_the_line(addon, scene, online, clean_env, sandbox,
                                                                         tmp_path_factory):
    # "takes either an audio file or a text line": the artist switches the sound strip's row off
    use_sandbox(clean_env, sandbox, "runware")
    _shot(addon, scene, str(tmp_path_factory.mktemp("media")), keep_sound=True)
    _text(scene)
    settings = scene.lipsync
    settings.provider, settings.model, settings.voice_id = "runware", "sync-3", "v-5"
    bpy.ops.lipsync.refresh_segments()
    assert {(r.name, r.is_text) for r in settings.segments} == {("shot_line0", False), ("line", True)}
    with pytest.raises(RuntimeError, match="not both"):
        bpy.ops.lipsync.submit()
    assert len(settings.jobs) == 0
    settings.segments["shot_line0"].enabled = False
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    rec = settings.jobs[0]
    assert rec.status == "COMPLETED", rec.message
    assert [a["tts"] for a in sandbox.stats()["jobs"][0]["inputs"]["audio"]] == [True]
    assert rec.cost >= 0 and len(_sounds_of_job(scene, rec.job_id)) == 1   # Runware reports the actual cost
