"""Find the quadrilaterals of documents (cards, licences, pages) lying on a background.

The background colour is estimated from the image border; pixels far from it form the
foreground, which is cleaned with morphology; each large outer contour is reduced to four
corners (a polygon approximation of its convex hull, or its minimum-area rectangle when no
clean 4-gon exists).  Only regions holding recognised text count as documents.  Works on
a downscaled copy; corners come back in image coordinates, ordered left-top, right-top,
right-bottom, left-bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from ocr_frames.local._geometry import Point, Quad, point_in_quad
from ocr_frames.local._ocr import TextBox

__all__ = ["find_documents", "text_bounds"]

#: Work on a copy at most this wide/high.
WORK_SIDE: Final = 640
#: A document covers at least this share of the image.
MIN_AREA: Final = 0.04


def _order(points: np.ndarray) -> Quad:
    """Four corners as left-top, right-top, right-bottom, left-bottom: clockwise around
    their centre, starting at the one nearest the top-left (each corner used once, even
    for a strongly slanted quadrilateral)."""
    pts = points.reshape(-1, 2).astype(float)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    clockwise = pts[np.argsort(angles)]  # y grows downwards: increasing angle is clockwise
    start = int(np.argmin(clockwise.sum(axis=1)))
    lt, rt, rb, lb = (clockwise[(start + i) % 4] for i in range(4))
    return (
        (float(lt[0]), float(lt[1])),
        (float(rt[0]), float(rt[1])),
        (float(rb[0]), float(rb[1])),
        (float(lb[0]), float(lb[1])),
    )


def _foreground(image: np.ndarray) -> np.ndarray:
    import cv2

    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    m = max(2, min(h, w) // 40)
    strips = (lab[:m], lab[-m:], lab[:, :m], lab[:, -m:])
    border = np.concatenate([strip.reshape(-1, 3) for strip in strips])
    background = np.median(border, axis=0)
    distance = np.linalg.norm(lab - background, axis=2)
    spread = float(np.percentile(np.linalg.norm(border - background, axis=1), 90))
    # the border's own spread (a textured desk) sets how far from it a document must be
    cut = max(2.5 * spread, 12.0)
    mask = (distance > cut).astype(np.uint8) * 255
    # heal thin dark print (ruled lines), fill every blob, then cut thin bridges so that
    # two pages a few pixels apart stay two (and specks of desk texture go away)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    solid = np.zeros_like(mask)
    cv2.drawContours(solid, contours, -1, 255, thickness=cv2.FILLED)
    return cv2.morphologyEx(solid, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))


def _corners(contour: np.ndarray) -> np.ndarray:
    import cv2

    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.04, 0.05):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            return np.asarray(approx)
    return np.asarray(cv2.boxPoints(cv2.minAreaRect(hull)))


def _cut_between(mask: np.ndarray, groups: Sequence[Sequence[TextBox]], scale: float) -> None:
    """Separate two documents that touch: cut the mask along the emptiest column (or row)
    between two groups of lines known to be on different documents."""
    first, second = (np.array([(b.cx, b.cy) for b in g]) * scale for g in groups)
    (x1, y1), (x2, y2) = first.mean(axis=0), second.mean(axis=0)
    axis = 0 if abs(x2 - x1) >= abs(y2 - y1) else 1
    low, high = sorted((first, second), key=lambda g: float(g[:, axis].mean()))
    start, stop = round(low[:, axis].max()), round(high[:, axis].min())
    if stop - start < 3:
        return
    filled = mask.sum(axis=axis)[start:stop]
    cut = start + int(np.argmin(filled))
    if axis == 0:
        mask[:, max(0, cut - 1) : cut + 2] = 0
    else:
        mask[max(0, cut - 1) : cut + 2, :] = 0


def find_documents(
    image: np.ndarray,
    boxes: Sequence[TextBox],
    limit: int = 2,
    *,
    apart: Sequence[Sequence[TextBox]] = (),
) -> list[Quad]:
    """Up to ``limit`` document quadrilaterals holding text, largest first.  ``apart``: two
    groups of lines known to be on two different documents (the pages of a 行驶证), which
    are cut apart when they lie on one foreground blob."""
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    mask = _foreground(small)
    if len(apart) == 2 and all(apart):
        _cut_between(mask, apart, scale)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    area = small.shape[0] * small.shape[1]
    found: list[tuple[float, Quad]] = []
    for contour in contours:
        size = cv2.contourArea(contour)
        if size < MIN_AREA * area:
            continue
        quad = _order(_corners(contour) / scale)
        if any(point_in_quad((b.cx, b.cy), quad) for b in boxes):
            found.append((size, quad))
    found.sort(key=lambda f: -f[0])
    return [quad for _, quad in found[:limit]]


def clamp(quad: Quad, w: int, h: int) -> Quad:
    """Corners moved inside the image."""

    def inside(p: Point) -> Point:
        return (min(max(p[0], 0.0), w - 1.0), min(max(p[1], 0.0), h - 1.0))

    return (inside(quad[0]), inside(quad[1]), inside(quad[2]), inside(quad[3]))


def text_bounds(boxes: Sequence[TextBox], margin: float = 0.1) -> Quad:
    """The upright rectangle around ``boxes``, widened by ``margin`` of its size each way."""
    left, right = min(b.left for b in boxes), max(b.right for b in boxes)
    top, bottom = min(b.top for b in boxes), max(b.bottom for b in boxes)
    dx, dy = (right - left) * margin, (bottom - top) * margin
    left, right, top, bottom = left - dx, right + dx, top - dy, bottom + dy
    return ((left, top), (right, top), (right, bottom), (left, bottom))
