"""A job record is untrusted input (issue #13): records crafted as if from someone else's .blend.

Each crafted record is a copy of a record the add-on wrote, in flight (so re-attach would poll
it), with one field set straight through RNA to something the add-on never writes. Opening the
file (load_post re-attaches in background mode) must send nothing for any of them, write nothing
outside //lipsync/, mark each with a sentence naming its field, keep the panel and the Jobs list
drawing, refuse Retry and manual Re-attach, and still re-attach the good records of the file.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import types
import uuid

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.sandbox import SANDBOX_KEY
from tests.fixtures.workflow import LayoutRecorder, add_shot, record_job, use_sandbox

PREFIX = "This job record is damaged or from another version: its "
FIELDS = ("provider", "model", "options_json", "resume_json", "placement_json", "sound_strips_json",
          "segment_overrides_json", "source_strip", "out_dir", "out_stem", "use_segments", "created", "estimate",
          "handle_frames", "group")


def _request_with_format(fmt):
    def build(rna):
        models = lipsync("client.models")
        return models.JobRequest(provider=rna.provider, model=rna.model, video="video.mp4",
                                 audio=[models.AudioInput(id="a1", path="a1.mp3")],
                                 options=models.Options(output_format=fmt), client_key=rna.client_key).to_json()
    return build


# name: (fields set on the copy, words the record's message must hold after "its ")
CASES = {
    "stem_escape": ({"out_stem": "/../../escaped"}, "output name is not a plain file name"),
    "stem_dots": ({"out_stem": "..escaped"}, "output name is not a plain file name"),
    "remote_slash": ({"remote_id": "job/../../v2/generate"}, "remote id is not a job id"),
    "remote_10k": ({"remote_id": "a" * 10240}, "remote id is not a job id"),
    "remote_with_key": ({"remote_id": "job-" + SANDBOX_KEY}, "remote id is not a job id"),
    "key_looking": ({"client_key": "sk_live_" + "A1b2C3d4" * 5}, "idempotency key is not one"),
    "job_id_path": ({"job_id": "../../../escaped_work"}, "job id is not one"),
    "cost_nan": ({"cost": math.nan}, "cost is not an amount"),
    "estimate_inf": ({"estimate": math.inf}, "estimate is not an amount"),
    "created_nan": ({"created": math.nan}, "creation time is not a number"),
    "progress_nan": ({"progress": math.nan}, "progress is not a number"),
    "attempts_negative": ({"attempts": -5}, "attempt count is not a number"),
    "provider_unknown": ({"provider": "evilcorp"}, "provider is not one of sync, runware"),
    "model_unknown": ({"model": "lipsync-9"}, "model is not one of"),
    "placement_broken": ({"placement_json": '{"scene": '}, "placement is not valid JSON"),
    "options_deep": ({"options_json": "[" * 50000 + "]" * 50000}, "options is not valid JSON"),
    "options_unknown": ({"options_json": '{"upload_to": "https://evil"}'}, "options are not options"),
    "output_format": ({"options_json": '{"output_format": "/../../x"}'}, "options name an output format"),
    "request_format": ({"request_json": _request_with_format("/../../x")}, "saved request's options name an output"),
    "request_other_key": ({"request_json": lambda rna: _request_with_format("MP4")(rna).replace(
        rna.client_key, str(uuid.uuid4()))}, "saved request is for another provider, model or key"),
    "resume_list": ({"resume_json": "[1, 2]"}, "resume should be a JSON object"),
    "sounds_numbers": ({"sound_strips_json": "[1, 2]"}, "sound_strips should be a list of names"),
    "out_dir_elsewhere": ({"out_dir": "{tmp}/elsewhere"}, "output folder is not this file's //lipsync"),
}



def _base_fields(addon, scene, media, tmp_path):
    """The fields of a record the add-on itself wrote (records.create), saved beside a .blend."""
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    movie = add_shot(addon, scene, media)
    rec, _plan = record_job(scene, movie)
    fields = {name: getattr(rec.rna, name) for name in FIELDS}
    scene.lipsync.jobs.remove(len(scene.lipsync.jobs) - 1)
    return fields


def _craft(scene, base, name, changes, tmp_path):
    """A copy of `base` in flight (it has a remote id: re-attach would poll it), then `changes`."""
    rna = scene.lipsync.jobs.add()
    for field, value in base.items():
        setattr(rna, field, value)
    rna.name = name
    rna.job_id, rna.client_key = str(uuid.uuid4()), str(uuid.uuid4())
    rna.remote_id = f"crafted-{name.replace('_', '-')}"
    rna.status, rna.progress, rna.cost = "QUEUED", 0.3, -1.0
    for field, value in changes.items():
        if callable(value):
            value = value(rna)
        if isinstance(value, str):
            value = value.replace("{tmp}", str(tmp_path))
        setattr(rna, field, value)
    return rna.job_id


def _draw_jobs(scene):
    """Draw the Jobs panel with each record selected and every row of the list; the texts drawn."""
    panels = lipsync("panels")
    settings = scene.lipsync
    log = []
    for index, rec in enumerate(settings.jobs):
        settings.jobs_index = index
        panels.LIPSYNC_PT_jobs.draw(types.SimpleNamespace(layout=LayoutRecorder(log)), bpy.context)
        panels.LIPSYNC_UL_jobs.draw_item(None, bpy.context, LayoutRecorder(log), settings, rec, 0, settings,
                                         "jobs_index", 0)
    return [str(kw.get("text", "")) for _n, _a, kw in log]


def _outside_files(tmp_path):
    """Files a crafted record would have written outside //lipsync/."""
    return [p for p in (tmp_path.parent / "escaped.mp4", tmp_path / "escaped.mp4", tmp_path / "elsewhere",
                        os.path.join(tempfile.gettempdir(), "escaped_work"), "/escaped_work",
                        tmp_path / "lipsync" / ".." / ".." / "x") if os.path.exists(p)]


def test_crafted_records_send_nothing_on_load_and_say_why(addon, scene, online, clean_env, sandbox, tmp_path,
                                                          tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    lipsync("client.errors").register_secret(SANDBOX_KEY)     # as the key in the preferences is
    base = _base_fields(addon, scene, str(tmp_path_factory.mktemp("media")), tmp_path)
    ids = {name: _craft(scene, base, name, changes, tmp_path) for name, (changes, _words) in CASES.items()}
    _draw_jobs(scene)                                # crafted and not yet checked: the panel still draws
    lipsync("vse.records").failed(scene)             # ... and Retry Failed Only's poll() still answers
    bpy.ops.wm.save_mainfile()
    assert sandbox.stats()["requests"] == 0

    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "shot.blend"))    # load_post re-attaches
    runtime = lipsync("worker.runtime").RUNTIME
    scene = bpy.context.scene
    started = [i for i in ids.values() if runtime.is_active(i)]
    time.sleep(0.3)                                  # a worker, had one started, would have polled by now
    assert started == [] and sandbox.stats()["requests"] == 0

    by_name = {rec.name: rec for rec in scene.lipsync.jobs}
    for name, (_changes, words) in CASES.items():
        rec = by_name[name]
        assert rec.status == "UNKNOWN", (name, rec.status, rec.message)
        assert rec.message.startswith(PREFIX + words) and rec.message.endswith("nothing was sent"), (name, rec.message)
        assert "aaaaaaaaaa" not in rec.message and SANDBOX_KEY not in rec.message and "A1b2C3d4" not in rec.message
    assert _outside_files(tmp_path) == []

    texts = _draw_jobs(scene)                        # the panel draws the sentence, the list every row
    assert sum(t.startswith("This job record is damaged") for t in texts) == len(CASES)

    # nothing the artist can press sends them either: Retry, Retry Failed Only, manual Re-attach
    launch, reattach, records = lipsync("vse.launch"), lipsync("vse.reattach"), lipsync("vse.records")
    assert records.failed(scene) == []
    count = len(scene.lipsync.jobs)
    for name in CASES:
        job = records.find(ids[name])[1] if name != "job_id_path" else records.JobRecord(by_name[name])
        refused = launch.rerun(scene, job)
        assert refused.job_ids == [] and refused.refused[0][1].startswith(PREFIX), (name, refused.refused)
        assert reattach.reattach_all(job.job_id, manual=True) == []
    assert len(scene.lipsync.jobs) == count and sandbox.stats()["requests"] == 0
    assert _outside_files(tmp_path) == []


def test_good_records_of_the_same_file_still_reattach(addon, scene, online, clean_env, sandbox, tmp_path,
                                                      tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    sandbox.configure(provider="sync", processing_seconds=0.5)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    launch, apply, records = lipsync("vse.launch"), lipsync("vse.apply"), lipsync("vse.records")
    runtime = lipsync("worker.runtime").RUNTIME
    [good_id] = launch.launch(scene, launch.LaunchSpec(strip="shot", provider="sync", model="lipsync-2",
                                                      options={})).job_ids
    end = time.monotonic() + 30
    while not records.find(good_id)[1].remote_id and time.monotonic() < end:
        apply.drain(0.05)
        time.sleep(0.02)
    good = records.find(good_id)[1]
    remote = good.remote_id
    assert remote
    runtime.cancel(good_id)                          # stop following; the provider carries on
    assert runtime.wait([good_id], apply.apply_event, deadline=10)
    good = records.find(good_id)[1]
    good.status, good.message = "PROCESSING", ""     # as a file saved while it ran holds it
    assert lipsync("vse.recordcheck").problem(good) is None
    base = {name: getattr(good.rna, name) for name in FIELDS}
    bad = {name: CASES[name] for name in ("cost_nan", "remote_slash", "provider_unknown", "stem_escape")}
    for name, (changes, _words) in bad.items():
        _craft(scene, base, name, changes, tmp_path)
    bpy.ops.wm.save_mainfile()
    seen = len(sandbox.requests())

    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "shot.blend"))
    assert set(runtime.active_ids()) == {good_id}
    assert runtime.wait([good_id], apply.apply_event, deadline=30)

    scene = bpy.context.scene
    by_name = {rec.name: rec for rec in scene.lipsync.jobs}
    assert by_name["shot"].status == "COMPLETED", by_name["shot"].message
    assert by_name["shot"].remote_id == remote
    for name, (_changes, words) in bad.items():
        assert by_name[name].status == "UNKNOWN" and by_name[name].message.startswith(PREFIX + words)
    after = sandbox.requests()[seen:]
    assert after and all(r["method"] == "GET" for r in after), after      # polls and the download only
    assert all(remote in r["path"] for r in after), [r["path"] for r in after]      # the good job's, only
    texts = _draw_jobs(scene)
    assert "sync / lipsync-2" in texts and f"Remote ID: {remote}" in texts              # the good one's fields
    assert sum(t.startswith("This job record is damaged") for t in texts) == len(bad)
    outputs = records.JobRecord(by_name["shot"]).outputs
    assert outputs and all(os.path.abspath(bpy.path.abspath(o)).startswith(str(tmp_path / "lipsync") + os.sep)
                           for o in outputs)
    assert _outside_files(tmp_path) == []


def test_an_event_for_a_record_damaged_meanwhile_does_not_break_the_drain(addon, scene, tmp_path,
                                                                          tmp_path_factory):
    apply, records, events = lipsync("vse.apply"), lipsync("vse.records"), lipsync("worker.events")
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    source, _plan = record_job(scene, movie)
    source.status, source.fingerprint = "COMPLETED", "f" * 64
    source_id = source.job_id
    job, _plan = record_job(scene, movie)
    job_id = job.job_id
    records.find(source_id)[1].rna.outputs_json = '{"not": "a list"}'      # edited by a script meanwhile
    apply.apply_event(job_id, events.CacheHit(source_id, "f" * 64))       # must not raise
    job = records.find(job_id)[1]
    assert job.status != "COMPLETED" and "outputs should be a list" in job.message, (job.status, job.message)


@pytest.mark.parametrize("stem", ["shot_0123abcd", "A_long_strip_name_1_deadbeef", "x"])
def test_what_the_addon_writes_passes(addon, scene, tmp_path, tmp_path_factory, stem):
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    rec, _plan = record_job(scene, movie)
    check = lipsync("vse.recordcheck")
    assert check.problem(rec) is None
    rec.out_stem = stem
    rec.remote_id = "5c1e2f2a-9b7d-4c1e-8f00-0123456789ab"
    rec.cost, rec.progress, rec.attempts = 0.42, 1.0, 3
    rec.request = _request_with_format("MOV")(rec.rna)
    assert check.problem(rec) is None


def test_a_damaged_finished_record_is_never_a_cache_source(addon, scene, tmp_path, tmp_path_factory):
    reuse = lipsync("vse.reuse")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    result = tmp_path / "lipsync" / "result.mp4"
    result.parent.mkdir()
    result.write_bytes(b"a result")
    made = {}
    for name, cost in (("good", 0.1), ("damaged", math.nan)):
        rec, _plan = record_job(scene, movie)
        rec.status, rec.cost, rec.fingerprint = "COMPLETED", cost, ("a" if name == "good" else "d") * 64
        rec.outputs = ["//lipsync/result.mp4"]
        made[name] = rec.job_id
    assert reuse.known_results() == {"a" * 64: made["good"]}


def test_ui_reattach_over_ticks_checks_each_record_too(addon, scene, online, clean_env, sandbox, tmp_path,
                                                       tmp_path_factory):
    """In the UI load_post queues the records and an app timer re-attaches a few per tick
    (vse/reattach.py reattach_step): the same check, the same zero requests."""
    use_sandbox(clean_env, sandbox, "sync")
    reattach = lipsync("vse.reattach")
    base = _base_fields(addon, scene, str(tmp_path_factory.mktemp("media")), tmp_path)
    names = ("cost_nan", "remote_10k", "key_looking", "options_deep")
    for name in names:
        _craft(scene, base, name, CASES[name][0], tmp_path)
    try:
        assert reattach.on_load(background=False) == [] and reattach.pending() == len(names)
        while reattach.reattach_step() is not None:
            pass
    finally:
        for timer in (reattach.reattach_step, reattach.follow_in_ui):
            if bpy.app.timers.is_registered(timer):
                bpy.app.timers.unregister(timer)
    assert not lipsync("worker.runtime").RUNTIME.active_ids()
    assert sandbox.stats()["requests"] == 0
    for rec in scene.lipsync.jobs:
        assert rec.status == "UNKNOWN" and rec.message.startswith(PREFIX + CASES[rec.name][1]), (rec.name, rec.message)
