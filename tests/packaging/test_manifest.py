"""blender_manifest.toml: fixed fields, honest permissions, build excludes, generated wheel list."""

import re
import tomllib

from tests.packaging.packaging_env import ROOT, build

MANIFEST = tomllib.loads((ROOT / "blender_manifest.toml").read_text())


def _shipped_tags(tags_py):
    namespace = {}
    exec(compile(tags_py.read_text(), str(tags_py), "exec"), namespace)
    return namespace["addons"]


def test_identity_fields():
    assert MANIFEST["schema_version"] == "1.0.0"
    assert MANIFEST["id"] == "vse_lipsync"
    assert MANIFEST["type"] == "add-on"
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])
    assert MANIFEST["blender_version_min"] == "4.5.0"
    assert MANIFEST["license"] == ["SPDX:GPL-3.0-or-later"]
    assert 0 < len(MANIFEST["tagline"]) <= 64 and not MANIFEST["tagline"].endswith(".")


def test_platforms_are_the_build_matrix():
    assert MANIFEST["platforms"] == ["linux-x64", "windows-x64", "macos-arm64", "macos-x64"]
    assert list(build.PLATFORMS) == MANIFEST["platforms"]


def test_tags_are_valid_for_this_blender(blender_ext):
    valid = _shipped_tags(blender_ext[1])
    assert MANIFEST["tags"] and set(MANIFEST["tags"]) <= valid, set(MANIFEST["tags"]) - valid


def test_permissions_are_declared_with_honest_reasons():
    perms = MANIFEST["permissions"]
    assert set(perms) == {"network", "files"}
    for key, reason in perms.items():
        assert reason.strip() and len(reason) <= 64 and not reason.endswith("."), (key, reason)
    assert "upload" in perms["network"].lower() and "download" in perms["network"].lower()
    assert "read" in perms["files"].lower() and "write" in perms["files"].lower()


def test_build_excludes_dev_only_paths(blender_ext_module):
    match = blender_ext_module.PathPatternMatch(MANIFEST["build"]["paths_exclude_pattern"])
    excluded = ["tests/", "sandbox/", "tools/", ".venv/", ".git/", ".ci/", "dist/", "build/",
                "__pycache__/", "client/__pycache__/", "client/x.pyc", ".pytest_cache/",
                "pyproject.toml", "old.zip"]
    kept = ["__init__.py", "blender_manifest.toml", "client/", "client/jobs.py", "operators/",
            "panels/", "README.md"]
    assert [p for p in excluded if not match.test_path(p)] == []
    assert [p for p in kept if match.test_path(p)] == []


def test_generated_wheels_block_matches_the_lock(lock):
    assert build.check_problems(check_wheels=False) == []
    assert MANIFEST["wheels"] == sorted(w.manifest_path for w in lock.wheels)


def test_lock_ships_every_dependency_for_every_platform_and_python(lock, blender_ext, monkeypatch):
    # One version per package; each platform x Python gets the whole set; blender_ext.py of THIS
    # Blender maps each platform wheel to the zip it was locked for.
    monkeypatch.setenv("LIPSYNC_BLENDER_EXT", str(blender_ext[0]))
    monkeypatch.setenv("LIPSYNC_BLENDER_TAGS", str(blender_ext[1]))
    assert build.lock_problems(lock.wheels) == []
    names = {w.name for w in lock.wheels}
    assert {"httpx", "httpcore", "h11", "anyio", "idna", "certifi", "typing-extensions", "imageio-ffmpeg"} <= names
    assert not names & {"pydantic", "pydantic-core"}  # the client's models are plain dataclasses
    for platform in build.PLATFORMS:
        ffmpeg = [w for w in lock.wheels if w.name == "imageio-ffmpeg" and platform in w.platforms]
        assert len(ffmpeg) == 1 and not ffmpeg[0].is_pure, (platform, ffmpeg)


def test_runtime_pins_match_the_test_venvs(lock):
    # The suite tests against tools/requirements/dev.txt: it must be what the zips ship.
    def pins(path):
        found = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                found[name.strip().lower().replace("_", "-")] = version.strip()
        return found
    shipped = pins(ROOT / "tools" / "lock" / "requirements.in")
    dev = pins(ROOT / "tools" / "requirements" / "dev.txt")
    assert {k: dev.get(k) for k in shipped} == shipped
    locked = {w.name: w.version for w in lock.wheels}
    assert {k: locked[k] for k in shipped} == shipped


def test_check_catches_a_hand_edited_wheel_list(tmp_path, monkeypatch):
    edited = tmp_path / "blender_manifest.toml"
    text = (ROOT / "blender_manifest.toml").read_text()
    edited.write_text(text.replace('  "./wheels/httpx-0.28.1-py3-none-any.whl",\n', ""))
    monkeypatch.setattr(build, "MANIFEST", edited)
    problems = build.check_problems(check_wheels=False)
    assert len(problems) == 1 and "generated wheels block differs" in problems[0]
