"""The add-on as an extension: enable/disable, preferences, keys, online access, compat."""

import json
import os
import subprocess
import sys
import warnings

import bpy
import pytest

from tests.fixtures.addon import ADDON, ROOT, lipsync

KNOWN_KEY = "sk-FOUNDATION-LEAKCHECK-7f3a91"


def test_enable_disable_is_clean(addon):
    assert hasattr(bpy.types.Scene, "lipsync")
    assert bpy.ops.preferences.addon_disable(module=ADDON) == {"FINISHED"}
    try:
        assert not hasattr(bpy.types.Scene, "lipsync")
        assert not hasattr(bpy.ops.lipsync, "submit_selected") or \
            "submit_selected" not in dir(bpy.ops.lipsync)
    finally:
        assert bpy.ops.preferences.addon_enable(module=ADDON) == {"FINISHED"}
    assert hasattr(bpy.types.Scene, "lipsync")


# Runs in a fresh interpreter: the test process itself has imported httpx and the client already.
_LIGHT_REGISTER = r"""
import json, os, pathlib, socket, sys, uuid
attempts = []
def refuse(self, *a, **k):
    attempts.append(repr(a))
    raise OSError("network during register")
socket.socket.connect = refuse
socket.create_connection = lambda *a, **k: refuse(None, *a)
import bpy
before = set(sys.modules)
repo = pathlib.Path(sys.argv[2])
repo.mkdir()
(repo / "vse_lipsync").symlink_to(sys.argv[1], target_is_directory=True)
bpy.context.preferences.extensions.repos.new(name="lipsync_dev", module="lipsync_dev",
                                             custom_directory=str(repo), source="USER")
result = bpy.ops.preferences.addon_enable(module="bl_ext.lipsync_dev.vse_lipsync")
heavy = sorted(m for m in set(sys.modules) - before
               if m.split(".")[0] in ("httpx", "pydantic", "httpcore", "anyio", "imageio_ffmpeg"))
PREFIX = "bl_ext.lipsync_dev.vse_lipsync."
JOB_CODE = ("vse.records", "vse.launch", "vse.apply", "vse.money", "vse.snapshot", "vse.reattach", "vse.folders",
            "vse.takes", "worker.runtime", "worker.events", "worker.plan", "client.models", "client.events",
            "client.capabilities")
def job_code():
    return [name for name in JOB_CODE if PREFIX + name in sys.modules]
stages = {"enable": job_code()}
folder = pathlib.Path(sys.argv[2]).parent
bpy.ops.wm.read_homefile(use_empty=True)              # load_post of a file without lip-sync records
bpy.context.scene.sequence_editor_create()
bpy.ops.wm.save_as_mainfile(filepath=str(folder / "plain.blend"))    # save_pre
bpy.ops.wm.open_mainfile(filepath=str(folder / "plain.blend"))
stages["plain file"] = job_code()
job = bpy.context.scene.lipsync.jobs.add()            # a job in flight that never got a remote id
job.job_id, job.name, job.provider, job.model, job.status = str(uuid.uuid4()), "shot", "sync", "lipsync-2", "PROCESSING"
job.client_key = str(uuid.uuid4())
bpy.ops.wm.save_as_mainfile(filepath=str(folder / "records.blend"))
bpy.ops.wm.open_mainfile(filepath=str(folder / "records.blend"))
reopened = bpy.context.scene.lipsync.jobs[0]
stages["records file"] = job_code()
reopened = [reopened.status, reopened.message]
bpy.ops.preferences.addon_disable(module="bl_ext.lipsync_dev.vse_lipsync")
print("RESULT" + json.dumps({"enabled": sorted(result), "heavy": heavy, "network": attempts, "stages": stages,
                             "reopened": reopened}))
"""


def test_register_does_no_network_and_no_heavy_imports(tmp_path):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, "-c", _LIGHT_REGISTER, str(ROOT), str(tmp_path / "repo")],
                          capture_output=True, text=True, env=env, timeout=120)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")), None)
    assert line, proc.stdout + proc.stderr
    result = json.loads(line[len("RESULT"):])
    stages = result.pop("stages")
    reopened = result.pop("reopened")
    assert result == {"enabled": ["FINISHED"], "heavy": [], "network": []}
    # the job code loads at first use (docs/architecture.md "Start-up"): not at enable, not for
    # files without lip-sync records, and at once for a file that has them (its jobs re-attach)
    assert stages["enable"] == [] and stages["plain file"] == [], stages
    assert "vse.reattach" in stages["records file"], stages
    assert reopened[0] == "UNKNOWN", reopened      # re-attach ran: never confirmed, so Needs Attention, nothing sent


def test_api_key_is_never_saved_into_the_blend(addon_prefs, scene, tmp_path, clean_env):
    addon_prefs.sync_api_key = KNOWN_KEY
    addon_prefs.fal_api_key = KNOWN_KEY
    clean_env.setenv("RUNWARE_API_KEY", KNOWN_KEY)
    scene.sequence_editor_create()
    path = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False)
    data = path.read_bytes()
    assert len(data) > 10_000
    assert KNOWN_KEY.encode() not in data
    assert KNOWN_KEY.encode("utf-16-le") not in data


def test_env_vars_win_over_preferences(addon, addon_prefs, clean_env):
    prefs_module = lipsync("preferences")
    addon_prefs.sync_api_key = "from-preferences"
    addon_prefs.sync_base_url = "https://prefs.example"
    assert prefs_module.key_source("sync", addon_prefs) == "preferences"
    config = prefs_module.provider_config("sync", addon_prefs)
    assert config.api_key == "from-preferences"
    assert config.base_url == "https://prefs.example"

    clean_env.setenv("SYNC_API_KEY", "from-env")
    clean_env.setenv("LIPSYNC_SYNC_BASE_URL", "http://127.0.0.1:9/sync")
    assert prefs_module.key_source("sync", addon_prefs) == "env:SYNC_API_KEY"
    config = prefs_module.provider_config("sync", addon_prefs)
    assert config.api_key == "from-env"
    assert config.base_url == "http://127.0.0.1:9/sync"
    assert "from-env" not in repr(config)


def test_missing_key_is_reported_as_missing(addon, addon_prefs, clean_env):
    prefs_module = lipsync("preferences")
    addon_prefs.fal_api_key = ""
    assert prefs_module.key_source("fal", addon_prefs) == "missing"
    assert "FAL_KEY" in prefs_module._describe_key_source("fal", "missing")


def test_preferences_draw_without_errors(addon, addon_prefs, clean_env):
    clean_env.setenv("WAVESPEED_API_KEY", "x")

    class Layout:  # records what draw() asks for, the way Blender's UILayout would receive it
        def __init__(self):
            self.props, self.labels = [], []
            self.active = True

        def column(self, **_):
            return self

        row = box = column

        def prop(self, _owner, name, **_):
            self.props.append(name)

        def label(self, text="", **_):
            self.labels.append(text)

    layout = Layout()
    type(addon_prefs).draw(type("Fake", (), {"layout": layout, **{
        k: getattr(addon_prefs, k) for k in addon_prefs.bl_rna.properties.keys() if k != "rna_type"}})(),
        bpy.context)
    assert "sync_api_key" in layout.props and "fal_base_url" in layout.props
    assert any("WAVESPEED_API_KEY" in text for text in layout.labels)


def test_online_access_off_blocks_network_operators_with_a_message(addon, scene):
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.app.online_access
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.lipsync.submit_selected()


def test_online_access_switch_is_honoured(addon, online):
    assert lipsync("vse.gate").online_access()


def test_compat_timing_reads_new_names_without_deprecation_warnings(addon, scene, tmp_path):
    compat = lipsync("vse.compat")
    sed = scene.sequence_editor_create()
    strip = compat.new_effect(compat.strips(sed), "c", "COLOR", 1, 10, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert compat.visible_range(strip) == (10, 60)
        compat.set_timing(strip, "frame_final_start", 15)
        assert compat.get_timing(strip, "frame_final_start") == 15
        assert compat.get_timing(strip, "frame_final_duration") == 45
    assert compat.sequencer_scene(bpy.context) == scene


def test_disable_leaves_no_timer_behind(addon, scene):
    # A timer still registered at exit hangs bpy 4.5 forever (docs/blender.md §4), and in
    # the UI it would call into an unloaded module. The completion notice schedules one.
    notices = lipsync("vse.notices")
    reattach = lipsync("vse.reattach")
    notices._schedule_clear(bpy.context.workspace or bpy.data.workspaces[0])
    assert bpy.app.timers.is_registered(notices.clear_status)
    assert bpy.ops.preferences.addon_disable(module=ADDON) == {"FINISHED"}
    try:
        assert not bpy.app.timers.is_registered(notices.clear_status)
        assert not bpy.app.timers.is_registered(reattach.follow_in_ui)
    finally:
        assert bpy.ops.preferences.addon_enable(module=ADDON) == {"FINISHED"}
