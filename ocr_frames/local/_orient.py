"""Which way up a page lies, and answers mapped back to the image as it was sent.

EXIF orientation is applied when the image is decoded (OpenCV does it for JPEG, PNG, WebP
and TIFF; :func:`~ocr_frames.local._ocr.decode_image` for what Pillow decodes).  A page
turned by a quarter turn with no EXIF hint is found from its text lines: when most of the
text's length lies in boxes much taller than wide, the page is on its side; the longest
lines (laid flat) then go to the text-line classifier shipped with rapidocr, which tells
upright from upside-down, and the confidences vote.  Quarter turns are counted as
:func:`numpy.rot90` counts them (counter-clockwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.local._geometry import Point, Quad

__all__ = ["VOTERS", "map_back", "quarter_turns", "turn_point"]

#: How many of the longest lines vote (the classifier costs ~1.5 ms a line).
VOTERS: Final = 8
#: A box this much longer one way than the other is a line laid that way.
ELONGATED: Final = 1.5

#: Text-line crops (flat, BGR) → (label, score) per crop; label "0" or "180".
Classifier = Callable[[list[np.ndarray]], Sequence[tuple[str, float]]]


def _sides(quad: Quad) -> tuple[float, float]:
    (x0, y0), (x1, y1), _, (x3, y3) = quad
    return float(np.hypot(x1 - x0, y1 - y0)), float(np.hypot(x3 - x0, y3 - y0))


def _crop(image: np.ndarray, quad: Quad, tall: bool) -> np.ndarray | None:
    h, w = image.shape[:2]
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    left, right = max(0, int(min(xs))), min(w, int(np.ceil(max(xs))))
    top, bottom = max(0, int(min(ys))), min(h, int(np.ceil(max(ys))))
    if right - left < 4 or bottom - top < 4:
        return None
    crop = image[top:bottom, left:right]
    return np.ascontiguousarray(np.rot90(crop)) if tall else crop


def quarter_turns(image: np.ndarray, quads: Sequence[Quad], classify: Classifier) -> int:
    """The counter-clockwise quarter turns (0..3) that make ``image`` upright, from its
    text boxes ``quads`` (as detected on ``image``)."""
    lines = []
    for quad in quads:
        width, height = _sides(quad)
        if width >= ELONGATED * height:
            lines.append((width, False, quad))
        elif height >= ELONGATED * width:
            lines.append((height, True, quad))
    tall_length = sum(length for length, tall, _ in lines if tall)
    on_side = tall_length > sum(length for length, tall, _ in lines if not tall)
    chosen = sorted((line for line in lines if line[1] == on_side), key=lambda line: -line[0])
    crops = [c for _, tall, q in chosen[:VOTERS] if (c := _crop(image, q, tall)) is not None]
    if not crops:
        return 0
    vote = sum(score if "180" in label else -score for label, score in classify(crops))
    flipped = vote > 0
    if on_side:  # lines laid flat by a counter-clockwise turn read upside down: turn back
        return 3 if flipped else 1
    return 2 if flipped else 0


def turn_point(point: Point, turns: int, width: int, height: int) -> Point:
    """A point of the image turned by ``turns`` (``numpy.rot90``) → the same point in the
    image before the turn, ``width`` x ``height`` pixels."""
    x, y = point
    if turns == 1:
        return (width - y, x)
    if turns == 2:
        return (width - x, height - y)
    if turns == 3:
        return (y, height - x)
    return (x, y)


def map_back(answer: dict[str, Any], turns: int, width: int, height: int) -> dict[str, Any]:
    """``answer`` read on the image turned upright by ``turns``, with every ``pos``
    quadrilateral and ``img_size`` in the coordinates of the image as sent (``width`` x
    ``height``).  Corner names stay the document's own: ``left_top`` is the corner that is
    top left when the document is read upright."""

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "pos" and isinstance(item, dict):
                out[key] = {name: _corner(p, turns, width, height) for name, p in item.items()}
            elif key == "img_size" and isinstance(item, dict):
                out[key] = {"w": width, "h": height}
            else:
                out[key] = walk(item)
        return out

    mapped: dict[str, Any] = walk(answer)
    return mapped


def _corner(point: dict[str, int], turns: int, width: int, height: int) -> dict[str, int]:
    x, y = turn_point((point["x"], point["y"]), turns, width, height)
    return {"x": round(x), "y": round(y)}
