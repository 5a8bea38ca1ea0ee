"""Where the document is in a small colour image, and cell-grid blobs inside it.

The heuristics for glare, occlusion and a cut-off document all need "the document area",
found here without any model:

* **edges** are pixels whose gradient (``|dx| + |dy|`` of the luminance) is at least
  :data:`EDGE_FLOOR` and at least :data:`EDGE_SHARE` of the image's 99.5th percentile
  gradient: text strokes, the card's outline, printed lines;
* the **document region** is the convex hull of the first and the last edge pixel of every
  row (rows with fewer than :data:`MIN_EDGES` edge pixels are skipped).  For a document
  photographed with its outline or text near its edges this is close to the document's
  quadrilateral; for a flat scan it is the hull of the content, inside the margins.

Blobs are found on a grid of :data:`CELL` x :data:`CELL` pixel cells (4-connected), so that
a 512 px image is a grid of about 32 x 20 cells and the search is cheap in pure Python.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

__all__ = ["CELL", "CELL_INSIDE", "Layout", "largest_blob", "layout"]

EDGE_FLOOR: Final = 16.0
EDGE_SHARE: Final = 0.3
MIN_EDGES: Final = 2
CELL: Final = 16
#: A cell belongs to the document when this share of its pixels is in the region.
CELL_INSIDE: Final = 0.9

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Layout:
    """Luminance, edges and the document region of one work image, and their cell stats."""

    luma: FloatArray
    """H x W luminance 0-255."""
    edges: BoolArray
    region: BoolArray
    inside: BoolArray
    """Cells (rows x cols) at least :data:`CELL_INSIDE` of which lie in the region."""
    cell_colour: FloatArray
    """Rows x cols x 3 mean colour of each cell."""
    cell_std: FloatArray
    """Rows x cols standard deviation of the luminance in each cell."""
    cell_edges: BoolArray
    """Cells holding at least one edge pixel."""


def _gradient(luma: FloatArray) -> FloatArray:
    grad = np.zeros_like(luma)
    grad[:, :-1] += np.abs(np.diff(luma, axis=1))
    grad[:-1, :] += np.abs(np.diff(luma, axis=0))
    return grad


def _hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Convex hull of (x, y) points, counter-clockwise (Andrew's monotone chain)."""
    points = sorted(set(points))
    if len(points) <= 2:
        return points

    def half(ordered: list[tuple[int, int]]) -> list[tuple[int, int]]:
        chain: list[tuple[int, int]] = []
        for x, y in ordered:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (y - ay) - (by - ay) * (x - ax) > 0:
                    break
                chain.pop()
            chain.append((x, y))
        return chain[:-1]

    return half(points) + half(points[::-1])


def _region(edges: BoolArray) -> BoolArray:
    """The convex hull of the rows' first and last edge pixels, filled."""
    h, w = edges.shape
    rows = np.flatnonzero(np.count_nonzero(edges, axis=1) >= MIN_EDGES)
    if rows.size == 0:
        return np.zeros_like(edges)
    first = np.argmax(edges[rows], axis=1)
    last = w - 1 - np.argmax(edges[rows, ::-1], axis=1)
    points = list(zip(first.tolist(), rows.tolist(), strict=True))
    points += list(zip(last.tolist(), rows.tolist(), strict=True))
    mask = Image.new("1", (w, h), 0)
    hull = _hull(points)
    if len(hull) >= 3:
        ImageDraw.Draw(mask).polygon(hull, fill=1, outline=1)
    region: BoolArray = np.asarray(mask, dtype=bool)
    return region


def _cells(values: FloatArray) -> FloatArray:
    """Mean of ``values`` (H x W) over each whole cell: rows x cols."""
    h, w = values.shape
    rows, cols = h // CELL, w // CELL
    cut = values[: rows * CELL, : cols * CELL]
    means: FloatArray = cut.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3), dtype=np.float32)
    return means


def layout(rgb: npt.NDArray[np.uint8]) -> Layout:
    """The luminance, edges, document region and cell statistics of an H x W x 3 image."""
    channels = rgb.astype(np.float32)
    luma = channels @ np.array([0.299, 0.587, 0.114], np.float32)
    grad = _gradient(luma)
    sample = grad[::2, ::2].ravel()
    top = float(np.partition(sample, int(sample.size * 0.995))[int(sample.size * 0.995)])
    edges = grad >= max(EDGE_FLOOR, EDGE_SHARE * top)
    region = _region(edges)
    inside = _cells(region.astype(np.float32)) >= CELL_INSIDE
    colour = np.stack([_cells(channels[..., i]) for i in range(3)], axis=-1)
    spread = np.sqrt(np.maximum(_cells(luma * luma) - _cells(luma) ** 2, 0.0))
    cell_edges = _cells(edges.astype(np.float32)) > 0
    return Layout(luma, edges, region, inside, colour, spread, cell_edges)


def largest_blob(mask: BoolArray) -> int:
    """Number of cells in the largest 4-connected group of ``True`` cells of a small grid."""
    seen = np.zeros_like(mask)
    rows, cols = mask.shape
    best = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        queue, size = deque([start]), 0
        while queue:
            r, c = queue.popleft()
            size += 1
            for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= nr < rows and 0 <= nc < cols and mask[nr, nc] and not seen[nr, nc]:
                    seen[nr, nc] = True
                    queue.append((nr, nc))
        best = max(best, size)
    return best
