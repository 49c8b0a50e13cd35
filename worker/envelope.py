"""A dialogue part's gain envelope (its volume animation) and where dialogue parts overlap.

Pure functions, no bpy. vse/dialogue.py samples a sound strip's volume F-curve on the main thread
into plain (seconds, gain) points; worker/ffmpeg.py turns them into an ffmpeg `volume` expression
applied while cutting (docs/blender.md §9). Between points the gain is linear, before the first and
after the last it holds: Blender's audio reads the volume once per frame and interpolates
between frames, so points one frame apart follow what it plays.

Example: a fade-out keyed 1.0 at 0 s and 0.0 at 0.5 s, silence until 1.5 s, back to 1.0 at 1.6 s
-> points ((0, 1), (0.5, 0), (1.5, 0), (1.6, 1)) -> gain 0.5 at 0.25 s, 0 on 0.5..1.5 s.
"""

from __future__ import annotations

Points = tuple[tuple[float, float], ...]


def simplify(points, tolerance: float = 1e-4) -> Points:
    """`points` (sorted by time) without the ones on the line between their neighbours.

    >>> simplify([(0, 1.0), (1, 0.5), (2, 0.0), (3, 0.0), (4, 0.0)])
    ((0, 1.0), (2, 0.0), (4, 0.0))
    """
    points = list(points)
    if len(points) <= 2:
        return tuple(points)
    kept = [points[0]]
    for index in range(1, len(points) - 1):
        (t0, g0), (t1, g1), (t2, g2) = kept[-1], points[index], points[index + 1]
        if t2 == t0:
            continue
        expected = g0 + (g2 - g0) * (t1 - t0) / (t2 - t0)
        if abs(expected - g1) > tolerance:
            kept.append(points[index])
    kept.append(points[-1])
    return tuple(kept)


def shift(points: Points, seconds: float) -> Points:
    """The same envelope for a part that starts `seconds` later (a piece cut from its head)."""
    return tuple((t - seconds, g) for t, g in points)


def silent(points: Points) -> bool:
    return bool(points) and all(g <= 0.0 for _t, g in points)


def expression(points: Points) -> str:
    """An ffmpeg expression of the gain at time `t` (seconds from the part's first sample).

    A flat sum of one term per stretch, never nested: ffmpeg's parser refuses nesting deeper than
    100, and a long fade sampled per frame has hundreds of points.

    >>> expression(((0.0, 1.0), (0.5, 0.0)))
    'lt(t,0.000000)*1.000000+gte(t,0.000000)*lt(t,0.500000)*(1.000000+(t-0.000000)*-2.000000)+gte(t,0.500000)*0.000000'
    """
    (first_t, first_g), (last_t, last_g) = points[0], points[-1]
    terms = [f"lt(t,{first_t:.6f})*{first_g:.6f}"]
    for (t0, g0), (t1, g1) in zip(points, points[1:]):
        if t1 <= t0:
            continue
        slope = (g1 - g0) / (t1 - t0)
        terms.append(f"gte(t,{t0:.6f})*lt(t,{t1:.6f})*({g0:.6f}+(t-{t0:.6f})*{slope:.6f})")
    terms.append(f"gte(t,{last_t:.6f})*{last_g:.6f}")
    return "+".join(terms)


def shared_frames(parts) -> list[tuple[int, int]]:
    """Timeline frame ranges [start, end) where two or more dialogue parts are heard at once.

    >>> from types import SimpleNamespace as P
    >>> shared_frames([P(frame_start=10, frame_end=50), P(frame_start=40, frame_end=70),
    ...                P(frame_start=80, frame_end=90)])
    [(40, 50)]
    """
    edges = sorted([(p.frame_start, 1) for p in parts] + [(p.frame_end, -1) for p in parts],
                   key=lambda edge: (edge[0], edge[1]))
    found, depth, opened = [], 0, None
    for frame, step in edges:
        depth += step
        if depth >= 2 and opened is None:
            opened = frame
        elif depth < 2 and opened is not None:
            if frame > opened:
                found.append((opened, frame))
            opened = None
    return found


def overlap_note(parts) -> str:
    """What the artist is told about overlapping dialogue, "" when none overlaps.

    Example: "Two voices share frames 40-49 (mixed in the upload)".
    """
    ranges = shared_frames(parts)
    if not ranges:
        return ""
    where = ", ".join(f"{a}-{b - 1}" if b - a > 1 else f"{a}" for a, b in ranges)
    return f"Two voices share frames {where} (mixed in the upload)"


def voices(spans) -> list[tuple[float, float, list[int]]]:
    """`spans` ((start, end) seconds, one per dialogue part) cut where a part starts or ends into
    (start, end, indices of the parts heard) with at least one part heard, in time order.

    >>> voices([(0.0, 1.0), (0.8, 2.0), (3.0, 4.0)])
    [(0.0, 0.8, [0]), (0.8, 1.0, [0, 1]), (1.0, 2.0, [1]), (3.0, 4.0, [2])]
    """
    cuts = sorted({t for span in spans for t in span})
    found = []
    for a, b in zip(cuts, cuts[1:]):
        heard = [i for i, (s, e) in enumerate(spans) if s < b and e > a]
        if heard:
            found.append((a, b, heard))
    return found
