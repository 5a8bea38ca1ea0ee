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

#: How many of the longest lines vote (each in up to three pieces; the classifier costs
#: ~1.5 ms a piece, so at most ~36 ms a page).
VOTERS: Final = 8
#: Width of a classifier piece, in line heights (the classifier reads 192 x 48 pixels).
PIECE: Final = 4
#: A box this much longer one way than the other is a line laid that way.
ELONGATED: Final = 1.5

#: Text-line crops (flat, BGR) → (label, score) per crop; label "0" or "180".
Classifier = Callable[[list[np.ndarray]], Sequence[tuple[str, float]]]


def _axes(quad: Quad) -> tuple[np.ndarray, np.ndarray]:
    """The box's longer side and its shorter side as vectors, whichever corner the
    detector listed first (a tilted photo's boxes do not start at their top-left)."""
    (x0, y0), (x1, y1), _, (x3, y3) = quad
    a, b = np.array([x1 - x0, y1 - y0]), np.array([x3 - x0, y3 - y0])
    return (a, b) if np.hypot(*a) >= np.hypot(*b) else (b, a)


def _line(quad: Quad) -> tuple[float, bool] | None:
    """(length, laid up-and-down) of a text box elongated enough to be a line, else None:
    the direction is that of the box's longer side."""
    along, across = _axes(quad)
    long, short = float(np.hypot(*along)), float(np.hypot(*across))
    if long < ELONGATED * short:
        return None
    return long, abs(along[1]) > abs(along[0])


def _crop(image: np.ndarray, quad: Quad, tall: bool) -> np.ndarray | None:
    """The line of ``quad`` cut out and laid flat: along its longer side, turned counter-
    clockwise when it runs up and down (as :func:`numpy.rot90` turns a page on its side),
    so a tilted photo's line is not cut with pieces of its neighbours."""
    import cv2  # the local extra

    along, across = _axes(quad)
    length, thickness = float(np.hypot(*along)), float(np.hypot(*across))
    if length < 4 or thickness < 4:
        return None
    v = along / length
    if (v[1] if tall else v[0]) < 0:  # runs down the page (tall) or rightwards (flat)
        v = -v
    w = np.array([-v[1], v[0]])  # the crop's downward direction
    centre = np.mean(np.asarray(quad, dtype=np.float64), axis=0)
    half_l, half_t = length / 2 * v, thickness / 2 * w
    src = np.array(
        [
            centre - half_l - half_t,
            centre + half_l - half_t,
            centre + half_l + half_t,
            centre - half_l + half_t,
        ],
        dtype=np.float32,
    )
    size = (max(4, round(length)), max(4, round(thickness)))
    dst = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return np.ascontiguousarray(cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_LINEAR))


def _pieces(crop: np.ndarray) -> list[np.ndarray]:
    """A long line cut into up to three pieces of about the classifier's shape (4:1): a
    whole line squeezed into 192 x 48 pixels is often misjudged."""
    height, width = crop.shape[:2]
    size = PIECE * height
    if width <= 1.5 * size:
        return [crop]
    count = min(3, int(width // size))
    starts = np.linspace(0, width - size, count).astype(int)
    return [np.ascontiguousarray(crop[:, s : s + size]) for s in starts]


def quarter_turns(image: np.ndarray, quads: Sequence[Quad], classify: Classifier) -> int:
    """The counter-clockwise quarter turns (0..3) that make ``image`` upright, from its
    text boxes ``quads`` (as detected on ``image``)."""
    lines = []
    for quad in quads:
        line = _line(quad)
        if line is not None:
            lines.append((*line, quad))
    tall_length = sum(length for length, tall, _ in lines if tall)
    on_side = tall_length > sum(length for length, tall, _ in lines if not tall)
    chosen = sorted((line for line in lines if line[1] == on_side), key=lambda line: -line[0])
    crops = [
        piece
        for _, tall, q in chosen[:VOTERS]
        if (c := _crop(image, q, tall)) is not None
        for piece in _pieces(c)
    ]
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


def map_back(
    answer: dict[str, Any],
    turns: int,
    width: int,
    height: int,
    sent: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """``answer`` read on the image turned upright by ``turns``, with every ``pos``
    quadrilateral and ``img_size`` in the coordinates of the image as read (``width`` x
    ``height``), scaled to ``sent`` (width, height) when the image was read scaled down.
    Corner names stay the document's own: ``left_top`` is the corner that is top left when
    the document is read upright."""
    scale = sent[0] / width if sent and width else 1.0
    size = {"w": sent[0], "h": sent[1]} if sent else {"w": width, "h": height}

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "pos" and isinstance(item, dict):
                out[key] = {
                    name: _corner(p, turns, width, height, scale) for name, p in item.items()
                }
            elif key == "img_size" and isinstance(item, dict):
                out[key] = dict(size)
            else:
                out[key] = walk(item)
        return out

    mapped: dict[str, Any] = walk(answer)
    return mapped


def _corner(
    point: dict[str, int], turns: int, width: int, height: int, scale: float
) -> dict[str, int]:
    x, y = turn_point((point["x"], point["y"]), turns, width, height)
    return {"x": round(x * scale), "y": round(y * scale)}
