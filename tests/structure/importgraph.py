"""The add-on's import graph, read from the source with `ast` (late imports included), no import run.

A node is a module of the add-on by its path inside the package ("vse.launch", "client.jobs",
"__init__"); an edge is an import, with the line it is on and whether it sits inside a function
(a late import). Imports of other packages are kept by their top-level name ("bpy", "httpx").
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# the add-on's own code; sandbox/, tools/ and tests/ are not shipped (blender_manifest.toml)
SHIPPED = ("__init__.py", "preferences.py", "props.py", "client", "worker", "vse", "operators", "panels")


@dataclasses.dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    late: bool
    comment: str   # the comment on the import's line or the line above it


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] or ["__init__"]
    return ".".join(parts)


def shipped_files() -> list[pathlib.Path]:
    files = []
    for name in SHIPPED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return files


def _package_of(path: pathlib.Path) -> list[str]:
    name = module_name(path)
    parts = [] if name == "__init__" else name.split(".")
    return parts if path.name == "__init__.py" else parts[:-1]


def _resolve(path: pathlib.Path, node: ast.ImportFrom, alias: str, known: set[str]) -> str:
    base = _package_of(path)
    if node.level:
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not node.level:
        return target.split(".")[0]            # another package: its top-level name
    candidate = f"{target}.{alias}" if target else alias
    return candidate if candidate in known else (target or "__init__")


def _comment(lines: list[str], lineno: int) -> str:
    here = lines[lineno - 1]
    above = lines[lineno - 2] if lineno >= 2 else ""
    parts = [here.split("#", 1)[1] if "#" in here else "", above.strip()[1:] if above.strip().startswith("#") else ""]
    return " ".join(p.strip() for p in parts if p.strip())


def edges() -> list[Edge]:
    files = shipped_files()
    known = {module_name(p) for p in files}
    found = []
    for path in files:
        text = path.read_text("utf-8")
        lines = text.splitlines()
        tree = ast.parse(text, str(path))
        late_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        source = module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    continue
                targets = [_resolve(path, node, a.name, known) for a in node.names]
            else:
                continue
            for target in dict.fromkeys(targets):
                found.append(Edge(source, target, node.lineno, id(node) in late_nodes, _comment(lines, node.lineno)))
    return found


def graph(include_late: bool = True) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in edges():
        if include_late or not e.late:
            out.setdefault(e.source, set()).add(e.target)
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in g.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def reaches(g: dict[str, set[str]], start: str, forbidden: set[str]) -> list[str] | None:
    """A path of imports from `start` to a forbidden module, or None."""
    seen, todo = {start}, [[start]]
    while todo:
        path = todo.pop()
        for w in sorted(g.get(path[-1], ())):
            if w in forbidden:
                return path + [w]
            if w in g and w not in seen:
                seen.add(w)
                todo.append(path + [w])
    return None
