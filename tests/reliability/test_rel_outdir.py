"""A job record from someone else's .blend cannot choose where Re-attach writes its result."""

from __future__ import annotations

import os
import tempfile

import bpy

from conftest import addon_module


def test_recorded_output_folder_is_honoured_only_when_it_is_ours(addon, scene, tmp_path):
    results = addon_module(addon, "operators.results")
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
    unsaved = os.path.join(tempfile.gettempdir(), "vse_lipsync_unsaved", "0123abcd")
    assert results.trusted_out_dir(unsaved) == unsaved


def test_the_worker_is_given_the_trusted_folder(addon):
    # jobs.start hands the worker trusted_out_dir(rec.out_dir), never the raw recorded string.
    import inspect
    jobs = addon_module(addon, "operators.jobs")
    source = inspect.getsource(jobs)
    assert "out_dir=results.trusted_out_dir(rec.out_dir)" in source
    assert "bpy.path.abspath(rec.out_dir)" not in source
