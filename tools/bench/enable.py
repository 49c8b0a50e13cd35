"""Add-on enable time: `import bpy` + enable vse_lipsync vs `import bpy` + enable an empty extension.

Each run is a fresh interpreter (what a Blender start costs). Both extensions load from a local
extension repo (docs/blender.md §6); runs alternate between the two and each variant keeps its
own BLENDER_USER_RESOURCES, warmed by one unmeasured run, so the one-off unpacking of the bundled
wheels at install time is not counted (a user pays it once, at install). Target: median difference
<= +30 ms. The in-process clock starts before `import bpy` and stops after `addon_enable`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import common

EMPTY_MANIFEST = """schema_version = "1.0.0"
id = "empty_ext"
version = "0.1.0"
name = "Empty"
tagline = "An empty extension (benchmark reference)"
maintainer = "Bench <bench@example.com>"
type = "add-on"
blender_version_min = "4.2.0"
license = ["SPDX:GPL-3.0-or-later"]
"""

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
import bpy
t1 = time.perf_counter()
bpy.context.preferences.extensions.repos.new(name={repo!r}, module={repo!r}, custom_directory={folder!r},
                                             source="USER")
t2 = time.perf_counter()
assert bpy.ops.preferences.addon_enable(module={module!r}) == {{"FINISHED"}}
t3 = time.perf_counter()
heavy = sorted(m for m in ("httpx", "pydantic", "imageio_ffmpeg") if m in sys.modules)
sys.stdout.write("RESULT " + json.dumps({{"import": t1 - t0, "repo": t2 - t1, "enable": t3 - t2, "total": t3 - t0,
                                          "heavy": heavy}}) + "\n")
sys.stdout.flush()
os._exit(0)
"""


def make_repos(base: Path) -> dict:
    empty = base / "repo_empty"
    (empty / "empty_ext").mkdir(parents=True)
    (empty / "empty_ext" / "blender_manifest.toml").write_text(EMPTY_MANIFEST)
    (empty / "empty_ext" / "__init__.py").write_text("def register():\n    pass\n\n\ndef unregister():\n    pass\n")
    ours = base / "repo_ours"
    ours.mkdir()
    (ours / "vse_lipsync").symlink_to(common.ROOT, target_is_directory=True)
    return {
        "empty": dict(repo="bench_empty", folder=str(empty), module="bl_ext.bench_empty.empty_ext",
                      user=base / "user_empty"),
        "ours": dict(repo="bench_ours", folder=str(ours), module="bl_ext.bench_ours.vse_lipsync",
                     user=base / "user_ours"),
    }


def run_once(spec: dict) -> dict:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(spec["user"]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)     # a real Blender keeps .pyc files: measure that
    code = CHILD.format(repo=spec["repo"], folder=spec["folder"], module=spec["module"])
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=tempfile.gettempdir())
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"enable child failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def main() -> None:
    args = common.parse_args(runs=9)
    runs = 2 if args.quick else args.runs
    base = Path(tempfile.mkdtemp(prefix="lipsync_bench_enable_"))
    try:
        specs = make_repos(base)
        for spec in specs.values():               # warm-up: wheels unpacked, .pyc written
            run_once(spec)
        samples = {"empty": [], "ours": []}
        for i in range(runs):
            order = ("empty", "ours") if i % 2 == 0 else ("ours", "empty")
            for name in order:
                samples[name].append(run_once(specs[name]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    med = {name: {k: common.median([s[k] for s in runs_]) for k in ("import", "repo", "enable", "total")}
           for name, runs_ in samples.items()}
    # The enable step alone carries the difference; `import bpy` is the same work in both and
    # only adds noise, so the verdict uses the enable medians (totals are reported alongside).
    delta_ms = (med["ours"]["enable"] - med["empty"]["enable"]) * 1000
    ours_total, ref_total = med["ours"]["total"] * 1000, med["empty"]["total"] * 1000
    common.log(f"enable: ours {ours_total:.0f} ms vs empty {ref_total:.0f} ms (enable step +{delta_ms:.1f} ms)")
    common.write_rows(args.out, [common.row(
        "enable", "add-on enable time (import bpy + enable)", ours_total, ref_total, unit="ms",
        ratio=delta_ms, target="<= +30 ms", ok=delta_ms <= 30.0,
        runs=runs, enable_ms={k: v["enable"] * 1000 for k, v in med.items()},
        import_bpy_ms={k: v["import"] * 1000 for k, v in med.items()},
        repo_new_ms={k: v["repo"] * 1000 for k, v in med.items()},
        total_delta_ms=ours_total - ref_total,
        heavy_modules_after_enable=samples["ours"][-1]["heavy"])])


if __name__ == "__main__":
    common.run(main)
