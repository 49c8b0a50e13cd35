"""The demo: `python3 tools/demo.py [--provider sync] [--model lipsync-2]` from a fresh clone.

1. Builds (once) the Blender 4.5 venv with tools/venvs.py (bpy from PyPI, ~400 MB).
2. Re-runs itself inside that venv (`--inside`), which:
   - starts the bundled sandbox in-process on a free loopback port (no account, no internet);
   - generates a talking-head-like 30 fps clip (ffmpeg lavfi drawing) and two dialogue WAVs
     (speech-like tone bursts);
   - builds a 25 fps .blend: the clip trimmed on both ends, two dialogue strips at odd offsets;
   - loads the add-on from this source tree as an extension, turns online access on, and runs
     `bpy.ops.lipsync.submit_selected()` headless (blocking, as a pipeline TD would);
   - saves demo_out/lipsync_demo.blend with the take placed above the clip (results in
     demo_out/lipsync/), and prints where the .blend and the result videos are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo_out"


def outside(argv) -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    import venvs
    python = venvs.ensure_venv(venvs.TARGETS["4.5"])
    env = dict(os.environ)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # Enabling the add-on unpacks its wheels (~175 MB) into Blender's user folder; the inner process
    # ends with os._exit, so this process owns the scratch folders and removes them.
    scratch = Path(tempfile.mkdtemp(prefix="lipsync_demo_"))
    env["BLENDER_USER_RESOURCES"] = str(scratch / "user")
    env["LIPSYNC_DEMO_SCRATCH"] = str(scratch)
    try:
        return subprocess.call([str(python), str(Path(__file__).resolve()), "--inside", *argv], cwd=ROOT, env=env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- inside the venv ------------------------------------------------------------------------------
SCENE_FPS = 25
CLIP_FPS, CLIP_SECONDS, SIZE = 30, 4, (320, 240)


def make_clip(ff: str, path: Path) -> None:
    """A face-ish drawing: head, eyes, a mouth; 30 fps so the strip's rate differs from the scene."""
    w, h = SIZE
    boxes = ["drawbox=x=100:y=40:w=120:h=160:color=0xe0b090:t=fill",
             "drawbox=x=125:y=90:w=20:h=12:color=white:t=fill", "drawbox=x=175:y=90:w=20:h=12:color=white:t=fill",
             "drawbox=x=131:y=93:w=8:h=8:color=black:t=fill", "drawbox=x=181:y=93:w=8:h=8:color=black:t=fill",
             "drawbox=x=135:y=146:w=50:h=8:color=0x802020:t=fill"]
    subprocess.run([ff, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                    "-i", f"color=c=0x3a4a5a:s={w}x{h}:r={CLIP_FPS}:d={CLIP_SECONDS}", "-vf", ",".join(boxes),
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], check=True)


def make_dialogue(path: Path, seconds: float, pitch: float) -> None:
    """Speech-like: syllables of a gliding tone, 90-160 ms on, short gaps."""
    import math
    import struct
    import wave
    rate = 48000
    data = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        syllable = int(t / 0.19)
        on = (t % 0.19) < (0.09 + 0.07 * ((syllable * 7) % 3) / 2)
        f = pitch * (1 + 0.15 * math.sin(2 * math.pi * 1.3 * t))
        amp = 0.35 if on else 0.0
        data += struct.pack("<h", int(amp * 32767 * math.sin(2 * math.pi * f * t)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(data))


def load_addon():
    """Enable the add-on from this source tree as an extension (as the tests do)."""
    import bpy
    repo = Path(os.environ["LIPSYNC_DEMO_SCRATCH"]) / "repo"
    repo.mkdir()
    (repo / "vse_lipsync").symlink_to(ROOT, target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(name="lipsync_demo", module="lipsync_demo",
                                                 custom_directory=str(repo), source="USER")
    module = "bl_ext.lipsync_demo.vse_lipsync"
    assert bpy.ops.preferences.addon_enable(module=module) == {"FINISHED"}
    return module


def inside(args) -> int:
    sys.path.insert(0, str(ROOT))
    import imageio_ffmpeg

    from client.config import ENV_KEYS
    from sandbox import Sandbox

    OUT.mkdir(exist_ok=True)
    media = OUT / "media"
    media.mkdir(exist_ok=True)
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    clip = media / "talking_head.mp4"
    make_clip(ff, clip)
    lines = [media / "line1.wav", media / "line2.wav"]
    make_dialogue(lines[0], 1.3, 180.0)
    make_dialogue(lines[1], 1.1, 240.0)

    key = "demo-key"
    sb = Sandbox(port=0, queue_seconds=0.2, processing_seconds=1.0, keys=(key,))
    sb.start()
    os.environ[f"LIPSYNC_{args.provider.upper()}_BASE_URL"] = sb.base_url(args.provider)
    os.environ[ENV_KEYS[args.provider]] = key
    print(f"[demo] sandbox for {args.provider} at {sb.base_url(args.provider)}")

    import bpy
    module = load_addon()
    bpy.context.preferences.system.use_online_access = True
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = SCENE_FPS, 1.0
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    sed = scene.sequence_editor_create()
    strips = sed.strips if hasattr(sed, "strips") else sed.sequences
    movie = strips.new_movie(name="talking_head", filepath=str(clip), channel=2, frame_start=7)
    compat = sys.modules[module + ".vse.compat"]
    compat.set_timing(movie, "frame_offset_start", 9)    # visible from frame 16
    compat.set_timing(movie, "frame_offset_end", 6)      # 120 source frames -> visible 16..121
    strips.new_sound(name="line1", filepath=str(lines[0]), channel=1, frame_start=13)   # starts before the cut
    strips.new_sound(name="line2", filepath=str(lines[1]), channel=3, frame_start=61)
    for strip in strips:
        strip.select = strip == movie
    sed.active_strip = movie
    left, right = compat.visible_range(movie)
    scene.frame_start, scene.frame_end = left, right - 1
    blend = OUT / "lipsync_demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))   # saved first: results go to demo_out/lipsync/

    print(f"[demo] lip-syncing \"{movie.name}\" (frames {left}..{right}) with line1 and line2 "
          f"via {args.provider} / {args.model} ...")
    bpy.ops.lipsync.submit_selected(provider=args.provider, model=args.model)
    bpy.ops.wm.save_mainfile()

    scene = bpy.context.scene
    takes = [s for s in compat.strips_all(scene.sequence_editor) if s.lipsync.is_take]
    for rec in scene.lipsync.jobs:
        cost = f"${rec.cost:.3f}" if rec.cost >= 0 else "n/a"
        print(f"[demo] job {rec.name}: {rec.status} remote id {rec.remote_id} cost {cost} {rec.message}")
    print(f"[demo] .blend: {blend}")
    for take in takes:
        print(f"[demo] take \"{take.name}\" on channel {take.channel}, frames {compat.visible_range(take)}: "
              f"{bpy.path.abspath(take.filepath)}")
    ok = bool(takes) and all(r.status == "COMPLETED" for r in scene.lipsync.jobs)
    sb.stop()
    bpy.ops.preferences.addon_disable(module=module)
    sys.stdout.flush()
    os._exit(0 if ok else 1)   # skip bpy's exit path (4.5 can hang there, docs/blender.md §4)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", default="sync", choices=("sync", "runware", "wavespeed", "foxapi", "fal"))
    parser.add_argument("--model", default="lipsync-2")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        return inside(args)
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--inside"]
    return outside(passthrough)


if __name__ == "__main__":
    sys.exit(main())
