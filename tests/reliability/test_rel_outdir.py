"""A job record from someone else's .blend cannot choose where Re-attach writes its result."""

from __future__ import annotations

import os
import tempfile

import bpy

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import add_shot, record_job


def test_recorded_output_folder_is_honoured_only_when_it_is_ours(addon, scene, tmp_path):
    results = lipsync("vse.folders")
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    ours = os.path.join(str(tmp_path), "lipsync")

    assert results.trusted_out_dir("//lipsync") == ours
    assert results.trusted_out_dir("") == ours
    elsewhere = tmp_path / "someone_elses_choice"
    assert results.trusted_out_dir(str(elsewhere)) == ours
    assert results.trusted_out_dir("//../../etc") == ours
    assert results.trusted_out_dir(os.path.expanduser("~/.config")) == ours
    # results of an unsaved session live in our own temp area: still honoured after a save
    unsaved = os.path.join(results.temp_root(), "..", "0123abcd")
    assert results.trusted_out_dir(unsaved) == unsaved
    # ... but not the shared folder of that name older versions used in the system temp folder
    shared = os.path.join(tempfile.gettempdir(), "vse_lipsync_unsaved", "0123abcd")
    assert results.trusted_out_dir(shared) == ours and not results.is_trusted_out_dir(shared)


def test_the_worker_is_given_the_trusted_folder(addon, scene, tmp_path, tmp_path_factory, monkeypatch):
    # a record whose out_dir was tampered with: launch.start must hand its worker our folder
    launch = lipsync("vse.launch")
    runtime = lipsync("worker.runtime")
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    rec, plan = record_job(scene, movie)
    elsewhere = tmp_path / "someone_elses_choice"
    rec.out_dir = str(elsewhere)
    given = []
    monkeypatch.setattr(launch, "run", lambda order, cancel, emit: given.append(order))   # no network
    launch.start(rec, plan, None)
    assert runtime.RUNTIME.wait([rec.job_id], lipsync("vse.apply").apply_event, deadline=10)
    assert given[0].out_dir == os.path.join(str(tmp_path), "lipsync") and not elsewhere.exists()
