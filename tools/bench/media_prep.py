"""Media preparation: a 20 s range of a 60 s 1080p25 H.264 clip, the untrimmed pass-through, and
the uploaded audio bytes. Runs in bpy with the add-on loaded as an extension.

- "prep": `strips.snapshot_job` (main thread) + `media.prepare_media` (worker code) for a movie
  strip trimmed to 20 s of the clip, with the clip's own sound as the dialogue strip, against the
  plain `ffmpeg -ss S -t 20 -i clip -c:v libx264 -preset veryfast -c:a aac` of the same range.
  Alternating order, best of N each. Target: <= 1.0x.
- "passthrough": the same clip untrimmed in a 25 fps scene: snapshot + the video step of
  prepare_media (the MP4 header check; no ffmpeg may run for the video). Target: < 50 ms. The
  dialogue's own MP3 cut is reported alongside (it is the audio figure's business).
- "audio": bytes of the audio files prepare_media writes for the 20 s range vs a 16-bit 48 kHz
  mono PCM WAV of the same range written by ffmpeg. Target: <= 1/6.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import tempfile
import time

import common

FPS = 25


def make_clip(seconds: float, size) -> str:
    w, h = size
    name = f"clip_{seconds:g}s_{w}x{h}p{FPS}.mp4"
    frames = int(round(seconds * FPS))
    return common.cached(name, lambda out: common.ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s={w}x{h}:r={FPS}:d={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=220:beep_factor=4:sample_rate=48000:duration={seconds}",
        "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart", "-f", "mp4", out))


def main() -> None:
    args = common.parse_args(repeats=5)
    seconds, span, size = (6.0, 2.0, (320, 180)) if args.quick else (60.0, 20.0, (1920, 1080))
    repeats = 1 if args.quick else args.repeats
    clip = make_clip(seconds, size)

    exec(common.load_addon_source(), globals())      # defines `bpy` and `addon`
    pkg = addon.__name__                                         # noqa: F821 - from LOAD_ADDON
    strips = importlib.import_module(pkg + ".vse.snapshot")
    media = importlib.import_module(pkg + ".worker.media")
    compat = importlib.import_module(pkg + ".vse.compat")
    bpy.ops.wm.read_homefile(use_empty=True)                     # noqa: F821
    scene = bpy.context.scene                                    # noqa: F821
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    sed = scene.sequence_editor_create()
    coll = sed.strips if hasattr(sed, "strips") else sed.sequences
    total = int(round(seconds * FPS))
    head = int(round((seconds - span) / 2 * FPS))            # the middle 20 s: frames 500..1000
    frames = int(round(span * FPS))
    trimmed = coll.new_movie(name="trimmed", filepath=clip, channel=2, frame_start=1)
    compat.set_timing(trimmed, "frame_offset_start", head)
    compat.set_timing(trimmed, "frame_offset_end", total - head - frames)
    sound = coll.new_sound(name="dialogue", filepath=clip, channel=1, frame_start=1)
    whole = coll.new_movie(name="whole", filepath=clip, channel=4, frame_start=1)
    whole_sound = coll.new_sound(name="dialogue_whole", filepath=clip, channel=3, frame_start=1)
    start_s = head / FPS

    work = tempfile.mkdtemp(prefix="lipsync_bench_media_")
    ff = common.ffmpeg_exe()
    reference_cmd = [ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{start_s:g}",
                     "-t", f"{span:g}", "-i", clip, "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac",
                     os.path.join(work, "reference.mp4")]

    def ours():
        t0 = time.perf_counter()
        job = strips.snapshot_job(scene, trimmed, [sound])
        t1 = time.perf_counter()
        out = os.path.join(work, f"ours_{time.monotonic_ns()}")
        prepared = media.prepare_media(job, out, use_segments=True)
        t2 = time.perf_counter()
        return t2 - t0, t1 - t0, prepared, out

    def reference():
        t0 = time.perf_counter()
        subprocess.run(reference_cmd, check=True)
        return time.perf_counter() - t0

    try:
        # warm-up, not measured: first-use imports (client models, imageio-ffmpeg), disk cache
        shutil.rmtree(ours()[3], ignore_errors=True)
        reference()
        ours_times, ref_times, snapshot_times = [], [], []
        prepared = None
        for i in range(repeats):
            for which in (("ours", "ref") if i % 2 == 0 else ("ref", "ours")):
                if which == "ref":
                    ref_times.append(reference())
                else:
                    took, snap, prepared, out = ours()
                    ours_times.append(took)
                    snapshot_times.append(snap)
                    if i < repeats - 1:
                        shutil.rmtree(out, ignore_errors=True)
        assert not prepared.passthrough
        best_ours, best_ref = min(ours_times), min(ref_times)
        rows = [common.row(
            "prep", f"media prep, {span:g} s of {seconds:g} s {size[1]}p{FPS} H.264", best_ours * 1000,
            best_ref * 1000, unit="ms", target="<= 1.0x", ok=best_ours <= best_ref,
            ours_runs_ms=[t * 1000 for t in ours_times], reference_runs_ms=[t * 1000 for t in ref_times],
            mean_ratio=sum(ours_times) / sum(ref_times),
            snapshot_ms=min(snapshot_times) * 1000, reference_cmd=" ".join(reference_cmd[1:]),
            timings_ms={k: v * 1000 for k, v in prepared.timings.items()})]

        # uploaded audio bytes for the range vs 16-bit 48 kHz mono PCM WAV of the same range
        wav = os.path.join(work, "reference.wav")
        subprocess.run([ff, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{start_s:g}",
                        "-t", f"{span:g}", "-i", clip, "-vn", "-ac", "1", "-ar", "48000", "-c:a", "pcm_s16le",
                        wav], check=True)
        audio_bytes = sum(os.path.getsize(a.path) for a in prepared.audio)
        wav_bytes = os.path.getsize(wav)
        rows.append(common.row(
            "audio", f"uploaded audio bytes, {span:g} s", audio_bytes, wav_bytes, unit="bytes",
            target="<= 1/6 (0.167)", ok=audio_bytes * 6 <= wav_bytes,
            files=[os.path.basename(a.path) for a in prepared.audio]))

        # untrimmed strip of an accepted file: snapshot + the video step, best of N
        pass_times, full_times = [], []
        for _ in range(max(3, repeats)):
            t0 = time.perf_counter()
            job = strips.snapshot_job(scene, whole, [whole_sound])
            snap = time.perf_counter() - t0
            out = os.path.join(work, f"whole_{time.monotonic_ns()}")
            result = media.prepare_media(job, out, use_segments=True)
            assert result.passthrough, "the untrimmed accepted clip was re-encoded"
            pass_times.append(snap + result.timings["video_check"])
            full_times.append(snap + result.timings["total"])
        best = min(pass_times)
        rows.append(common.row(
            "passthrough", f"media prep, untrimmed {seconds:g} s MP4 (video)", best * 1000, None, unit="ms",
            target="< 50 ms, no re-encode", ok=best < 0.050 and result.passthrough,
            runs_ms=[t * 1000 for t in pass_times], with_dialogue_mp3_ms=min(full_times) * 1000,
            video_is_source_file=result.video_path == clip))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        common.log(f"{r['name']}: ours {r['ours']:.1f} {r['unit']} vs {r['reference']}")
    common.write_rows(args.out, rows)


if __name__ == "__main__":
    common.run(main)
