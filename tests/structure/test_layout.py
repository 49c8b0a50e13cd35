"""The house rules of docs/architecture.md, read from the source (no bpy, nothing imported).

- client/ and worker/ never reach bpy (or any Blender module), directly or through another
  module, late imports included; client/ never imports worker/ or the Blender side.
- No import cycles, late imports included.
- Late imports (inside a function) carry their reason in a comment.
- Functions stay within 80 lines; operators/ holds only Operator classes and their glue.
"""

import ast
import subprocess

import pytest

from tests.structure import importgraph

BLENDER_MODULES = {"bpy", "bpy_extras", "mathutils", "gpu", "gpu_extras", "aud", "bmesh", "blf", "bl_math",
                   "bl_ui", "bl_operators", "addon_utils", "idprop", "imbuf", "freestyle"}
BLENDER_SIDE = {"vse", "operators", "panels", "props", "preferences", "__init__"}


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.fixture(scope="module")
def full_graph():
    return importgraph.graph(include_late=True)


def test_the_graph_sees_the_whole_add_on(full_graph):
    # a parser that silently read nothing would pass every rule below
    assert {"vse.launch", "worker.work", "client.jobs", "operators.submit", "panels"} <= set(full_graph)
    assert "bpy" in full_graph["vse.records"] and "client.jobs" in full_graph["worker.work"]


@pytest.mark.parametrize("layer", ["client", "worker"])
def test_host_free_layers_never_reach_blender(full_graph, layer):
    for module in sorted(m for m in full_graph if _top(m) == layer):
        path = importgraph.reaches(full_graph, module, BLENDER_MODULES)
        assert path is None, f"{module} reaches Blender: {' -> '.join(path)}"
        bad = sorted(t for t in full_graph[module] if _top(t) in BLENDER_SIDE)
        assert not bad, f"{module} imports the Blender side: {bad}"


def test_client_never_imports_worker(full_graph):
    bad = [(m, t) for m in full_graph if _top(m) == "client" for t in full_graph[m] if _top(t) == "worker"]
    assert not bad


def test_no_import_cycles():
    assert importgraph.cycles(importgraph.graph(include_late=True)) == []


def test_late_imports_say_why():
    silent = [f"{e.source}:{e.line} -> {e.target}" for e in importgraph.edges() if e.late and not e.comment]
    assert not silent, "late imports without a reason: " + ", ".join(silent)


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_functions_are_at_most_80_lines():
    long = []
    for path in importgraph.shipped_files():
        tree = ast.parse(path.read_text("utf-8"))
        for fn in _functions(tree):
            lines = fn.end_lineno - fn.lineno + 1
            if lines > 80:
                long.append(f"{importgraph.module_name(path)}.{fn.name}: {lines} lines")
    assert not long, long


def test_operators_hold_only_operators_and_their_glue():
    """Top-level classes in operators/ are Operators or mixins of Operators; no other module-level
    logic than small helpers for them."""
    for path in sorted((importgraph.ROOT / "operators").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert node.name.startswith("LIPSYNC_OT_") or node.name.endswith("Mixin"), (path.name, node.name)
                if node.name.startswith("LIPSYNC_OT_"):
                    assert "bpy.types.Operator" in bases, (path.name, node.name)


def test_the_repository_tracks_no_symlink():
    """A committed symlink (a `.venv` pointing at another checkout once) replaces the ignored
    folder of that name in every checkout that merges it: git overwrites ignored files."""
    if not (importgraph.ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked zip): nothing tracked to check")
    listing = subprocess.run(["git", "ls-files", "-s"], cwd=importgraph.ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert listing.count("\n") > 100           # the listing is the whole tree, not an empty answer
    links = [line.split("\t", 1)[1] for line in listing.splitlines() if line.startswith("120000 ")]
    assert links == []
