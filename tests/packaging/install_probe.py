"""Install a built extension zip into a bare bpy and prove it runs from its bundled wheels.

Run by tests/packaging/test_install.py with a bare venv's python (bpy + numpy + pytest only):
    BLENDER_USER_RESOURCES=<fresh dir> python install_probe.py dist/vse_lipsync-<ver>-linux_x64.zip
Prints one line `RESULT {json}`; any failed step raises (non-zero exit).
"""

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time

PKG_ID = "vse_lipsync"
REPO = "user_default"
MODULE = f"bl_ext.{REPO}.{PKG_ID}"


def main(zip_path: str) -> dict:
    for name in ("httpx", "imageio_ffmpeg"):
        assert importlib.util.find_spec(name) is None, f"{name} importable before install: not a bare venv"

    import bpy
    import addon_utils

    result = {"bpy": bpy.app.version_string, "python": "%d.%d" % sys.version_info[:2]}
    started = time.monotonic()
    ret = bpy.ops.extensions.package_install_files(filepath=zip_path, repo=REPO, enable_on_install=True)
    result["install_seconds"] = round(time.monotonic() - started, 3)
    assert ret == {"FINISHED"}, ret
    assert MODULE in bpy.context.preferences.addons, "not enabled after install"
    assert addon_utils.check(MODULE)[1], "module not loaded"

    extensions = bpy.utils.user_resource("EXTENSIONS")
    site = os.path.join(extensions, ".local", "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    result["site_packages"] = site
    assert os.path.isdir(site), f"wheels not unpacked: {site} missing"

    import httpx
    import imageio_ffmpeg
    result["files"] = {m.__name__: m.__file__ for m in (httpx, imageio_ffmpeg)}
    result["versions"] = {"httpx": httpx.__version__, "imageio_ffmpeg": imageio_ffmpeg.__version__}

    # Blender unpacks wheels without file modes: the add-on's ffmpeg lookup must restore the
    # bundled binary's execute bit, then imageio-ffmpeg itself finds it.
    binaries = os.path.join(os.path.dirname(imageio_ffmpeg.__file__), "binaries")
    result["unpacked_modes"] = {n: oct(os.stat(os.path.join(binaries, n)).st_mode & 0o777)
                                for n in os.listdir(binaries) if n.startswith("ffmpeg")}
    media = importlib.import_module(MODULE + ".worker.ffmpeg")
    exe = media.ffmpeg_exe()
    assert exe == imageio_ffmpeg.get_ffmpeg_exe(), (exe, imageio_ffmpeg.get_ffmpeg_exe())
    proc = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result["ffmpeg"] = exe
    result["ffmpeg_version"] = proc.stdout.splitlines()[0]

    # The shipped client works from the bundled wheels alone: its job runner imports (httpx from
    # the zip) and a request survives the JSON round trip a job record makes.
    importlib.import_module(MODULE + ".client.jobs")
    models = importlib.import_module(MODULE + ".client.models")
    req = models.JobRequest(provider="sync", model="lipsync-2", video="v.mp4", audio=[{"id": "a1", "path": "a.wav"}])
    result["client_round_trip"] = models.JobRequest.from_json(req.to_json()) == req
    result["httpx_from"] = sys.modules["httpx"].__file__

    assert bpy.ops.preferences.addon_disable(module=MODULE) == {"FINISHED"}
    assert MODULE not in bpy.context.preferences.addons

    repo_index = [i for i, r in enumerate(bpy.context.preferences.extensions.repos) if r.module == REPO][0]
    assert bpy.ops.extensions.package_uninstall(repo_index=repo_index, pkg_id=PKG_ID) == {"FINISHED"}
    pkg_dir = os.path.join(bpy.context.preferences.extensions.repos[repo_index].directory, PKG_ID)
    assert not os.path.exists(pkg_dir), f"{pkg_dir} left after uninstall"
    result["left_in_site_packages"] = sorted(os.listdir(site)) if os.path.isdir(site) else []
    return result


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1])), flush=True)
