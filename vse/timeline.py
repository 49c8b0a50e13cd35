"""The timeline index: strips by kind, channel and frame range, built once per change of the timeline.

MAIN THREAD. A feature is 1,000-2,000 shots on one timeline (issue #16): walking every strip for
every selected movie made the panel's estimate cost seconds. `index(scene)` reads each strip
once, in one pass that is also the change stamp (name, type, channel, content start, handles,
mute, selection, a meta's children, a sound's volume: everything the snapshot's strip finding and
the panel's estimate depend on), and rebuilds the index only when that pass differs from the
last one. Overlap queries are interval searches (`Intervals`), so a query costs its answer, not
the timeline.

The index holds names and numbers only, never RNA objects: strips are looked up by name
(`strips_all.get`, a hash lookup in Blender) when a query is answered, so a deleted strip, an undo
or a file load can never leave a dangling pointer behind, and a stale index is impossible as long
as the stamp covers what it stores.

`pinned(scene)`: inside it the timeline is not edited (a submit, an estimate), so the first
`index(scene)` is reused by every later one without reading the strips again.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Mapping

import bpy

from . import compat

# rows of the stamp: one tuple per strip, in strips_all order
NAME, TYPE, CHANNEL, CONTENT_START, LEFT, RIGHT, MUTE, SELECT = range(8)
_GEOMETRY = slice(0, 6)           # what the index is built from (mute and selection are read live)


class Intervals:
    """Static interval search over half-open frame ranges [left, right).

    The ranges are sorted by left; each node of the implicit balanced tree over that array (the
    middle of a slice) keeps the largest right end of its slice, so a query skips every slice that
    ends before it: O(log n + answers). Long strips (a music bed under the whole reel) cost
    nothing extra, unlike a search bounded by the longest strip.
    """

    def __init__(self, items) -> None:
        items = sorted(items, key=lambda item: (item[0], item[1]))
        self._lefts = [item[0] for item in items]
        self._rights = [item[1] for item in items]
        self._values = [item[2] for item in items]
        self._max = [0] * len(items)
        stack = [(0, len(items), False)]
        while stack:                     # post-order without recursion: children before parents
            lo, hi, done = stack.pop()
            if lo >= hi:
                continue
            mid = (lo + hi) // 2
            if not done:
                stack += [(lo, hi, True), (lo, mid, False), (mid + 1, hi, False)]
                continue
            best = self._rights[mid]
            if lo < mid:
                best = max(best, self._max[(lo + mid) // 2])
            if mid + 1 < hi:
                best = max(best, self._max[(mid + 1 + hi) // 2])
            self._max[mid] = best

    def __len__(self) -> int:
        return len(self._values)

    def overlapping(self, left, right) -> list:
        """Values of the ranges with r_left < right and r_right > left, in no particular order."""
        out, stack = [], [(0, len(self._values))]
        lefts, rights, values, most = self._lefts, self._rights, self._values, self._max
        while stack:
            lo, hi = stack.pop()
            if lo >= hi:
                continue
            mid = (lo + hi) // 2
            if most[mid] <= left:        # nothing in this slice reaches past `left`
                continue
            stack.append((lo, mid))
            if lefts[mid] < right:       # the right half starts at or after lefts[mid]
                if rights[mid] > left:
                    out.append(values[mid])
                stack.append((mid + 1, hi))
        return out


class _Data:
    """The index proper: plain Python built from one stamp (see `_build`). `generation` is the same
    number for the same stamp, a new one for any change (what caches are keyed by)."""

    __slots__ = ("generation", "stamp", "geometry", "rows", "metas", "kind", "channel", "range", "parent", "_trees",
                 "_kinds")

    def tree(self, key) -> Intervals:
        """The interval search over one kind ("SOUND"), one channel (an int) or every strip (None)."""
        found = self._trees.get(key)
        if found is None:
            if key is None:
                names = self.kind
            elif isinstance(key, str):
                names = [n for n, k in self.kind.items() if k == key]
            else:
                names = [n for n, c in self.channel.items() if c == key]
            found = self._trees[key] = Intervals((*self.range[n], n) for n in names)
        return found

    def of_kind(self, kind: str) -> list[str]:
        """Names of one kind, in strips_all order (built once per geometry)."""
        if self._kinds is None:
            self._kinds = {}
            for row in self.rows:
                self._kinds.setdefault(row[TYPE], []).append(row[NAME])
        return self._kinds.get(kind, [])

    def restamped(self, stamp, generation: int) -> "_Data":
        """The same geometry with the selection, mute and volumes of a newer stamp."""
        data = _Data()
        for field in self.__slots__:
            setattr(data, field, getattr(self, field))
        data.stamp, data.rows, data.generation = stamp, stamp[0], generation
        return data


def _timing_names() -> tuple[str, str, str]:
    """Content start and handle names of this Blender (5.2 renamed them, docs/blender.md §2)."""
    props = bpy.types.Strip.bl_rna.properties
    if "left_handle" in props:
        return "content_start", "left_handle", "right_handle"
    return "frame_start", "frame_final_start", "frame_final_end"


_ROW = operator.attrgetter("name", "type", "channel", *_timing_names(), "mute", "select")


def _stamp(sed) -> tuple[list, tuple, tuple]:
    """One pass over the strips: (rows, meta children, sound volumes). Measured on bpy 4.5 with
    4,000 strips: see tools/bench/scale.py (the stamp is part of every figure)."""
    rows, metas, volumes = [], [], []
    for strip in compat.strips_all(sed):
        row = _ROW(strip)
        rows.append(row)
        kind = row[TYPE]
        if kind == "SOUND":
            volumes.append(strip.volume)
        elif kind == "META":
            metas.append((row[NAME], tuple(child.name for child in compat.strips(strip))))
    return rows, tuple(metas), tuple(volumes)


def _build(stamp, geometry: list, generation: int) -> _Data:
    rows, metas, _volumes = stamp
    data = _Data()
    data.generation, data.stamp, data.geometry, data.rows, data.metas = generation, stamp, geometry, rows, metas
    data._trees, data._kinds = {}, None
    data.kind = {row[NAME]: row[TYPE] for row in rows}
    data.channel = {row[NAME]: row[CHANNEL] for row in rows}
    visible = {row[NAME]: (int(row[LEFT]), int(row[RIGHT])) for row in rows}
    data.parent = {child: meta for meta, children in metas for child in children}
    data.range = dict(visible)
    for name in data.parent:             # a meta's handles hide what lies outside them
        left, right = visible[name]
        meta, depth = data.parent.get(name), 0
        while meta is not None and depth < 64:
            m_left, m_right = visible.get(meta, (left, right))
            left, right = max(left, m_left), min(right, m_right)
            meta, depth = data.parent.get(meta), depth + 1
        data.range[name] = (left, right)
    return data


class MetaParents(Mapping):
    """Strip name -> the meta strip holding it, looked up when asked (snapshot.py's `parents`)."""

    def __init__(self, parent: dict, sed) -> None:
        self._parent, self._sed = parent, sed

    def __getitem__(self, name):
        meta = compat.strips_all(self._sed).get(self._parent[name])
        if meta is None:
            raise KeyError(name)
        return meta

    def __contains__(self, name) -> bool:
        return name in self._parent

    def __iter__(self):
        return iter(self._parent)

    def __len__(self) -> int:
        return len(self._parent)


class Timeline:
    """The index of one scene's strips, bound to its sequence editor for this call."""

    def __init__(self, data: _Data, sed) -> None:
        self._data, self._sed = data, sed
        self.generation = data.generation     # the same number while the stamp stays the same
        self.parents = MetaParents(data.parent, sed)

    def strip(self, name: str):
        return compat.strips_all(self._sed).get(name)

    def strips(self, names) -> list:
        get = compat.strips_all(self._sed).get
        return [s for s in map(get, names) if s is not None]

    def kind(self, name: str) -> str | None:
        return self._data.kind.get(name)

    def parent(self, name: str) -> str | None:
        """Name of the meta holding the strip, None at the top level."""
        return self._data.parent.get(name)

    def range(self, name: str) -> tuple[int, int] | None:
        """Visible range clipped by the metas holding the strip (snapshot.effective_range)."""
        return self._data.range.get(name)

    def names(self, kind: str | None = None) -> list[str]:
        """Every strip (of one kind), in strips_all order."""
        return [row[NAME] for row in self._data.rows] if kind is None else list(self._data.of_kind(kind))

    def overlapping(self, left, right, kind: str | None = None, channel: int | None = None) -> list[str]:
        """Names of the strips (of one kind, or on one channel) whose visible range overlaps [left, right)."""
        found = self._data.tree(kind if channel is None else channel).overlapping(left, right)
        if kind is not None and channel is not None:
            found = [n for n in found if self._data.kind[n] == kind]
        return found

    def selected(self, kind: str | None = None) -> list[str]:
        """Names of the selected strips (of one kind), in strips_all order, as of the stamp."""
        return [row[NAME] for row in self._data.rows if row[SELECT] and (kind is None or row[TYPE] == kind)]


# scene name -> _Data of its last stamp; scene name -> Timeline while pinned (None until asked)
_cache: dict[str, _Data] = {}
_pinned: dict[str, Timeline | None] = {}
_generation = 0
builds = 0                        # how many times an index was built (tests see caching work)


def index(scene) -> Timeline | None:
    """The scene's timeline index, rebuilt when the strips changed; None without a sequence editor."""
    sed = scene.sequence_editor
    if sed is None:
        return None
    held = _pinned.get(scene.name)
    if held is not None:
        return held
    found = _restamp(scene, sed)
    if scene.name in _pinned:            # pinned: this stamp serves until the block ends
        _pinned[scene.name] = found
    return found


def _restamp(scene, sed) -> Timeline:
    global _generation, builds
    stamp = _stamp(sed)
    data = _cache.get(scene.name)
    if data is None or data.stamp != stamp:
        _generation += 1
        geometry = [row[_GEOMETRY] for row in stamp[0]]
        if data is not None and data.geometry == geometry and data.metas == stamp[1]:
            data = data.restamped(stamp, _generation)       # only selection, mute or volume changed
        else:
            data = _build(stamp, geometry, _generation)
            builds += 1
        _cache[scene.name] = data
    return Timeline(data, sed)


@contextlib.contextmanager
def pinned(scene):
    """The timeline is not edited inside: the first `index(scene)` inside stamps, every later one
    reuses it (a block that never asks reads nothing)."""
    name = scene.name
    if name in _pinned:
        yield
        return
    _pinned[name] = None
    try:
        yield
    finally:
        _pinned.pop(name, None)


@contextlib.contextmanager
def pinning():
    """`pinned` for each scene handed to the yielded function, until the block ends (a loop over
    records of several scenes, none of which edits the timeline)."""
    with contextlib.ExitStack() as stack:
        held: set[str] = set()

        def pin(scene) -> None:
            if scene is not None and scene.name not in held:
                held.add(scene.name)
                stack.enter_context(pinned(scene))
        yield pin


def forget() -> None:
    """Drop every cached index (file load, unregister)."""
    _cache.clear()
    _pinned.clear()
