"""Helpers for the workflow tests: tiny media, a trimmed shot, the sandbox env, a fresh Blender.

The shot (`add_shot`): scene at 25 fps; a 30 fps, 160x120, 60-frame clip (so strip fps != scene
fps) placed at frame 11 and trimmed by 5 frames at the head and 7 at the tail -> visible on
16..64 (48 frames = 1.92 s of timeline). Dialogue strips sit at odd offsets:
- one sound: starts at 13 (before the video) and runs 1.6 s (40 frames) -> 13..53;
- two sounds: 13..37 (0.96 s) and 41..69 (1.12 s, past the video's end).
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import wave

import bpy
import imageio_ffmpeg

from addon_env import LOAD_ADDON, ROOT

FF = imageio_ffmpeg.get_ffmpeg_exe()
SCENE_FPS = 25
CLIP = dict(frames=60, fps=30, size=(160, 120))
MOVIE_AT, HEAD, TAIL = 11, 5, 7
VISIBLE = (MOVIE_AT + HEAD, MOVIE_AT + CLIP["frames"] - TAIL)   # (16, 64)
SOUND_LAYOUTS = {
    1: [(13, 1.6)],
    2: [(13, 0.96), (41, 1.12)],
}
MODEL_FOR = {"sync": "lipsync-2", "runware": "lipsync-2", "wavespeed": "lipsync-2",
             "foxapi": "lipsync-2", "fal": "lipsync-2"}
PROVIDERS = tuple(MODEL_FOR)


def make_clip(path, frames=CLIP["frames"], fps=CLIP["fps"], size=CLIP["size"]):
    if not os.path.exists(path):
        w, h = size
        subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size={w}x{h}:rate={fps}", "-frames:v", str(frames),
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                        os.fspath(path)], check=True)
    return os.fspath(path)


def make_wav(path, seconds, tone=330.0, rate=48000):
    """Speech-like bursts: a tone gated 120 ms on / 80 ms off."""
    if not os.path.exists(path):
        n = int(round(seconds * rate))
        frames = bytearray()
        for i in range(n):
            t = i / rate
            amp = 0.4 if (t % 0.2) < 0.12 else 0.0
            frames += struct.pack("<h", int(amp * 32767 * math.sin(2 * math.pi * tone * t)))
        with wave.open(os.fspath(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(bytes(frames))
    return os.fspath(path)


def strips_of(scene):
    sed = scene.sequence_editor_create()
    return sed.strips if hasattr(sed, "strips") else sed.sequences


def add_shot(addon, scene, media_dir, n_sounds=1, name="shot", channel=2, at=MOVIE_AT, select=True):
    compat = sys.modules[addon.__name__ + ".compat"]
    scene.render.fps, scene.render.fps_base = SCENE_FPS, 1.0
    strips = strips_of(scene)
    clip = make_clip(os.path.join(media_dir, "clip.mp4"))
    movie = strips.new_movie(name=name, filepath=clip, channel=channel, frame_start=at)
    compat.set_timing(movie, "frame_offset_start", HEAD)
    compat.set_timing(movie, "frame_offset_end", TAIL)
    shift = at - MOVIE_AT
    # distinct dialogue per shot (tone from the name): real shots differ, and identical inputs
    # would be de-duplicated by upload caches
    variant = sum(map(ord, name)) % 97
    for i, (start, seconds) in enumerate(SOUND_LAYOUTS[n_sounds]):
        tone = 300 + 60 * i + 3 * variant
        wav = make_wav(os.path.join(media_dir, f"line{i}_{seconds}_{tone}.wav"), seconds, tone=tone)
        strips.new_sound(name=f"{name}_line{i}", filepath=wav, channel=channel - 1 if i == 0 else channel + 10 + i,
                         frame_start=start + shift)
    movie.select = select
    scene.sequence_editor.active_strip = movie
    scene.frame_start, scene.frame_end = 1, at + CLIP["frames"] + 10
    return movie


def expected_segments(n_sounds, at=MOVIE_AT):
    """(start, end) seconds in the uploaded video of each dialogue strip, from timeline frames."""
    left, right = VISIBLE[0] + at - MOVIE_AT, VISIBLE[1] + at - MOVIE_AT
    out = []
    for start, seconds in SOUND_LAYOUTS[n_sounds]:
        s = start + at - MOVIE_AT
        e = s + seconds * SCENE_FPS
        out.append(((max(s, left) - left) / SCENE_FPS, (min(e, right) - left) / SCENE_FPS))
    return out


def use_sandbox(monkeypatch, sandbox, provider, key="sandbox-key"):
    """Point `provider` at the sandbox. The add-on's upload cache is cleared: the sandbox forgets
    its files on reset, a real provider keeps them for the cache's TTL."""
    from client.config import ENV_KEYS
    for name, module in list(sys.modules.items()):
        if name.endswith("vse_lipsync.client.uploads"):
            module.DEFAULT_CACHE.clear()
    monkeypatch.setenv(f"LIPSYNC_{provider.upper()}_BASE_URL", sandbox.base_url(provider))
    monkeypatch.setenv(ENV_KEYS[provider], key)
    monkeypatch.setenv("LIPSYNC_POLL_INTERVAL", "0.05")


def sandbox_env(sandbox, providers=PROVIDERS, key="sandbox-key") -> dict:
    from client.config import ENV_KEYS
    env = {"LIPSYNC_POLL_INTERVAL": "0.05"}
    for p in providers:
        env[f"LIPSYNC_{p.upper()}_BASE_URL"] = sandbox.base_url(p)
        env[ENV_KEYS[p]] = key
    return env


def visible(strip):
    if "left_handle" in strip.bl_rna.properties:
        return strip.left_handle, strip.right_handle
    return strip.frame_final_start, strip.frame_final_end


def timing(strip, old_name, value=None):
    """Read (or set) a timing property by its 4.x name without 5.2's DeprecationWarnings."""
    import importlib

    from addon_env import ADDON
    compat = importlib.import_module(ADDON + ".compat")
    if value is None:
        return compat.get_timing(strip, old_name)
    compat.set_timing(strip, old_name, value)


def takes(scene, source="shot"):
    sed = scene.sequence_editor
    found = [s for s in (sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all)
             if s.lipsync.is_take and s.lipsync.source == source]
    return sorted(found, key=lambda s: s.lipsync.take_index)


def run_blender(script: str, env: dict | None = None, timeout: float = 120.0) -> dict:
    """Run `script` in a fresh interpreter of this venv with the add-on loaded as in the conftest.

    The script sees `addon` and `bpy`; it sets `result = {...}` (JSON-safe), which is returned.
    The child exits with os._exit so no handler or thread can hang its shutdown (4.5, §4).
    """
    code = (LOAD_ADDON + "\nimport json, os, sys, traceback\nbpy.context.preferences.system.use_online_access = True\n"
            "result = {}\ntry:\n" + textwrap.indent(textwrap.dedent(script), "    ")
            + "\nexcept BaseException:\n    traceback.print_exc()\n    result['error'] = traceback.format_exc()\n"
            "sys.stdout.write('\\nRESULT ' + json.dumps(result) + '\\n')\nsys.stdout.flush()\nsys.stderr.flush()\n"
            "os._exit(0)\n")
    full_env = dict(os.environ)
    # the child's Blender user folder (~175 MB once the add-on's wheels are set up) is made and
    # removed here: the child ends with os._exit, so its own cleanup never runs (hundreds of
    # leaked folders filled /tmp during a day of test runs)
    import shutil
    import tempfile
    user = tempfile.mkdtemp(prefix="lipsync_bl_user_")
    full_env["BLENDER_USER_RESOURCES"] = user
    full_env.update(env or {})
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=full_env, cwd=str(ROOT), capture_output=True,
                              text=True, timeout=timeout)
    finally:
        shutil.rmtree(user, ignore_errors=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            if "error" in result:
                raise AssertionError(f"child failed:\n{result['error']}\n--- stderr ---\n{proc.stderr[-3000:]}")
            return result
    raise AssertionError(f"child produced no result (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
