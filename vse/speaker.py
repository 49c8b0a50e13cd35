"""Where the speaker's face is, in the source video's pixels, for a click in the sequencer preview.

Stores the frame (of the uploaded video: timeline frame minus the strip's first visible frame,
one uploaded frame per timeline frame, see vse/snapshot.py) and the point in the SOURCE VIDEO's pixel
space (x right, y down from the top-left pixel, what providers take), undoing the strip's
transform on the way.

Preview coordinates (View2D of the preview region, docs/blender.md §2) are scene pixels with
the origin at the centre of the frame, y up. Blender draws a strip's image centred, then around
its origin (fractions of the image, 0.5/0.5 = centre) scales, rotates, and finally moves it by
offset; crop only hides pixels, it does not move the rest. So for a click P:

    q = pivot + R(-rotation) * (P - offset - pivot) / scale       (image-centred, y up)
    x = W/2 + q.x,  y = H/2 - q.y                                  (flips mirror q first)

Example: a 160x120 source at scale 2.0 in a 320x240 scene, no offset: a click at (40, 20)
(right of and above centre) is q = (20, 10) -> source pixel (100, 50).
"""

from __future__ import annotations

import math


def preview_to_source(px: float, py: float, *, width: int, height: int, offset=(0.0, 0.0),
                      scale=(1.0, 1.0), rotation: float = 0.0, origin=(0.5, 0.5),
                      flip=(False, False)) -> tuple[float, float]:
    """Source-pixel (x, y) of preview point (px, py); may lie outside the picture."""
    pivot = ((origin[0] - 0.5) * width, (origin[1] - 0.5) * height)  # image-centred, unscaled
    dx, dy = px - offset[0] - pivot[0], py - offset[1] - pivot[1]
    cos, sin = math.cos(-rotation), math.sin(-rotation)
    rx, ry = dx * cos - dy * sin, dx * sin + dy * cos
    qx = pivot[0] + rx / (scale[0] or 1.0)
    qy = pivot[1] + ry / (scale[1] or 1.0)
    if flip[0]:
        qx = -qx
    if flip[1]:
        qy = -qy
    return width / 2 + qx, height / 2 - qy


def strip_to_source(strip, px: float, py: float) -> tuple[float, float, int, int]:
    """(x, y, width, height) in the source picture of `strip` for preview point (px, py)."""
    width, height = (strip.elements[0].orig_width, strip.elements[0].orig_height) if len(strip.elements) else (0, 0)
    t = strip.transform
    x, y = preview_to_source(px, py, width=width, height=height, offset=(t.offset_x, t.offset_y),
                             scale=(t.scale_x, t.scale_y), rotation=t.rotation, origin=tuple(t.origin),
                             flip=(strip.use_flip_x, strip.use_flip_y))
    return x, y, width, height
