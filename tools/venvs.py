"""Per-Blender-target virtual environments, built from pinned requirement files.

One venv per target because each bpy wheel is tied to one Python version
(bpy 4.5/5.0 -> CPython 3.11, bpy 5.2 -> CPython 3.13; docs/blender.md §1).
A venv is rebuilt only when its requirement files change (a stamp holds their hash).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "tools" / "requirements"
VENVS = ROOT / ".venv"


@dataclass(frozen=True)
class Target:
    name: str            # "4.5"
    python: str          # "3.11"
    requirements: str    # file name under tools/requirements
    kind: str = "blender"  # venv folder prefix: "blender" (test venvs) or "bare" (BARE_TARGETS)

    @property
    def venv(self) -> Path:
        # bare venvs one level down (.venv/bare/4.5), so `.venv/*/bin/python` are the test venvs
        return VENVS / "bare" / self.name if self.kind == "bare" else VENVS / f"{self.kind}-{self.name}"

    @property
    def python_exe(self) -> Path:
        return self.venv / "bin" / "python"


TARGETS = {
    "4.5": Target("4.5", "3.11", "blender-4.5.txt"),
    "5.0": Target("5.0", "3.11", "blender-5.0.txt"),
    "5.2": Target("5.2", "3.13", "blender-5.2.txt"),
}

# bpy + numpy + pytest only, no httpx/imageio-ffmpeg: tests/packaging/test_install.py installs
# the linux zip there, so those imports can only come from the zip's bundled wheels (a venv copy
# would shadow them, docs/blender.md §6). Not test targets: tools/test.py never runs pytest here.
# Their files live in tools/requirements/bare/ so adding them does not rebuild the test venvs.
BARE_TARGETS = {
    "4.5": Target("4.5", "3.11", "bare/blender-4.5.txt", kind="bare"),
    "5.0": Target("5.0", "3.11", "bare/blender-5.0.txt", kind="bare"),
    "5.2": Target("5.2", "3.13", "bare/blender-5.2.txt", kind="bare"),
}


class MissingInterpreter(SystemExit):
    pass


def _version_of(exe: str, env: dict | None = None) -> str | None:
    try:
        out = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> str:
    """Find a CPython `version` the way a user's machine offers it.

    Order: $LIPSYNC_PYTHON<major><minor> (e.g. LIPSYNC_PYTHON313), `python<version>` on PATH,
    then pyenv's installed versions (a pyenv shim for a non-global version refuses to run
    unless asked by name, so we ask pyenv for the interpreter's real path).
    """
    override = os.environ.get("LIPSYNC_PYTHON" + version.replace(".", ""))
    candidates = [override] if override else []
    candidates.append(f"python{version}")
    for exe in candidates:
        path = shutil.which(exe) if exe and not os.path.isabs(exe) else exe
        if path and _version_of(path) == version:
            return path
    pyenv = shutil.which("pyenv")
    if pyenv:
        listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True)
        for name in sorted(listed.stdout.split(), reverse=True):
            if name == version or name.startswith(version + "."):
                prefix = subprocess.run([pyenv, "prefix", name], capture_output=True, text=True)
                exe = Path(prefix.stdout.strip()) / "bin" / f"python{version}"
                if prefix.returncode == 0 and exe.exists() and _version_of(str(exe)) == version:
                    return str(exe)
    raise MissingInterpreter(
        f"error: Python {version} was not found (tried $LIPSYNC_PYTHON{version.replace('.', '')}, "
        f"python{version} on PATH and pyenv). Install CPython {version} "
        f"(e.g. `pyenv install {version}` or your distribution's python{version} package) "
        f"or point LIPSYNC_PYTHON{version.replace('.', '')} at it.")


def _requirements_hash(target: Target) -> str:
    h = hashlib.sha256()
    for name in sorted(os.listdir(REQUIREMENTS)):
        if name.endswith(".txt"):
            h.update(name.encode())
            h.update((REQUIREMENTS / name).read_bytes())
    h.update(target.requirements.encode())
    if target.kind != "blender":
        h.update((REQUIREMENTS / target.requirements).read_bytes())
    return h.hexdigest()


def ensure_venv(target: Target, log=print) -> Path:
    """Create or refresh the target's venv; return its python."""
    stamp = target.venv / ".lipsync-stamp"
    digest = _requirements_hash(target)
    if stamp.exists() and stamp.read_text() == digest and target.python_exe.exists():
        return target.python_exe
    base = find_python(target.python)
    log(f"[venv] building {target.venv.relative_to(ROOT)} with {base} (bpy download ~400 MB, once)")
    if target.venv.exists():
        shutil.rmtree(target.venv)
    subprocess.run([base, "-m", "venv", str(target.venv)], check=True)
    subprocess.run([str(target.python_exe), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS / target.requirements)], check=True, cwd=REQUIREMENTS)
    stamp.write_text(digest)
    return target.python_exe


def selected_targets(names: list[str] | None) -> list[Target]:
    if not names:
        return list(TARGETS.values())
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise SystemExit(f"error: unknown Blender target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    return [TARGETS[n] for n in names]


if __name__ == "__main__":
    # `python3 tools/venvs.py [4.5 ...]` builds test venvs (default: all); `bare-4.5` ... bare ones.
    names = sys.argv[1:]
    bare = [BARE_TARGETS[n.removeprefix("bare-")] for n in names if n.startswith("bare-")]
    rest = [n for n in names if not n.startswith("bare-")]
    for t in (selected_targets(rest) if rest or not bare else []) + bare:
        print(ensure_venv(t))
