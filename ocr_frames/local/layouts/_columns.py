"""Reading order of text set in columns: menus in two or three columns, printed pages in two.

Row by row over the whole page interleaves the columns (left column's line 1, right
column's line 1, ...).  People read a column to its end first.  :func:`reading_order`
finds the gutters (vertical strips that almost no text crosses, with text on both sides),
treats the few lines that do cross them (a centred title, a full-width heading or
footer) as section breaks, and reads each section column by column, each column row by
row.  A page without gutters reads row by row, as before.
"""

from __future__ import annotations

import itertools
import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace

from ocr_frames.local.layouts._base import Page, Token

__all__ = ["gutters", "reading_order"]


def gutters(boxes: Sequence[Token], *, min_width: float | None = None) -> list[float]:
    """The x positions (centres) of the page's gutters, left to right.

    A gutter is a strip at least ``min_width`` wide (default: 0.6 median line heights)
    crossed by at most one line in twelve (a title, a footer), with at least a tenth
    of the lines on each side of it, and lines on each side (their median) at least twice
    as wide as the strip.
    """
    if len(boxes) < 4:
        return []
    height = statistics.median(b.height for b in boxes)
    min_width = 0.6 * height if min_width is None else min_width
    allowed = max(1, len(boxes) // 12)
    edges = sorted({round(b.left) for b in boxes} | {round(b.right) for b in boxes})
    found: list[float] = []
    start: float | None = None
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        crossing = sum(1 for x in boxes if x.left < mid < x.right)
        if crossing <= allowed:
            start = a if start is None else start
            end = b
            continue
        if start is not None:
            _keep(found, boxes, start, end, min_width)
            start = None
    return found


def _keep(
    found: list[float], boxes: Sequence[Token], start: float, end: float, width: float
) -> None:
    if end - start < width:
        return
    left = [b.right - b.left for b in boxes if b.cx < start]
    right = [b.right - b.left for b in boxes if b.cx > end]
    if min(len(left), len(right)) < max(2, len(boxes) // 10):
        return
    # columns of text are much wider than the gutter between them; a form's labels and
    # values, or a receipt's items and amounts, are not (they read row by row)
    if min(statistics.median(left), statistics.median(right)) >= 2 * (end - start):
        found.append((start + end) / 2)


def reading_order(
    boxes: Sequence[Token], may_break: Callable[[Token], bool] = lambda box: False
) -> list[Token]:
    """``boxes`` in reading order: sections top to bottom, columns left to right.

    Sections are separated by the lines that cross a gutter, and by the boxes for which
    ``may_break`` is true (a menu's headings) that are alone at their height: nothing
    in another column beside them, as when a heading is set above all the columns.
    """
    straight = _unsheared(boxes)
    originals = {id(s): b for s, b in zip(straight, boxes, strict=True)}
    ordered = _order(straight, lambda box: may_break(originals[id(box)]))
    return [originals[id(b)] for b in ordered]


def _slant(boxes: Sequence[Token]) -> float:
    """How far left edges drift sideways per pixel down (a photo taken at an angle leans
    the columns while the lines stay level): the median drift between left-aligned boxes
    a few rows apart, 0 when there are none."""
    slopes = []
    by_left = sorted(boxes, key=lambda box: box.left)
    lefts = [box.left for box in by_left]
    for a in by_left:
        reach = 3 * a.height  # |drift| < 0.25 * dy and dy < 12 heights
        for b in by_left[bisect_left(lefts, a.left - reach) : bisect_right(lefts, a.left + reach)]:
            dy = b.cy - a.cy
            if a.height < dy < 12 * a.height and abs(b.left - a.left) < 0.25 * dy:
                slopes.append((b.left - a.left) / dy)
    return statistics.median(slopes) if len(slopes) >= 4 else 0.0


def _unsheared(boxes: Sequence[Token]) -> list[Token]:
    """The boxes with the columns' lean taken out (x shifted by the slant times y)."""
    slant = _slant(boxes)
    if abs(slant) < 0.01:
        return list(boxes)
    return [replace(b, left=b.left - slant * b.cy, right=b.right - slant * b.cy) for b in boxes]


def _order(boxes: Sequence[Token], may_break: Callable[[Token], bool]) -> list[Token]:
    cuts = gutters(boxes)
    if not cuts:
        return [b for row in Page.rows(boxes) for b in row]
    bounds = list(zip([-math.inf, *cuts], [*cuts, math.inf], strict=True))

    columns = {
        id(box): next(i for i, (lo, hi) in enumerate(bounds) if lo <= box.cx < hi) for box in boxes
    }

    def column(box: Token) -> int:
        return columns[id(box)]

    def crosses(box: Token) -> bool:
        return any(box.left < x < box.right for x in cuts)

    def alone(box: Token) -> bool:
        """Nothing beside the box in another column, and below it every column starts a
        row at the same height (a grid under a heading set across the columns; a heading
        in one column of a menu set in columns has the other columns run on beside it)."""
        if any(
            other is not box
            and column(other) != column(box)
            and other.top < box.bottom
            and other.bottom > box.top
            for other in boxes
        ):
            return False
        firsts = []
        for i in range(len(bounds)):
            below = [b for b in boxes if column(b) == i and b.top >= box.bottom - 0.2 * box.height]
            if below:
                firsts.append(min(b.top for b in below))
        return len(firsts) > 1 and max(firsts) - min(firsts) < 0.5 * box.height

    breakers = sorted(
        (b for b in boxes if crosses(b) or (may_break(b) and alone(b))), key=lambda b: b.top
    )
    chosen = {id(b) for b in breakers}
    rest = [b for b in boxes if id(b) not in chosen]
    out: list[Token] = []
    for breaker in [*breakers, None]:
        limit = breaker.cy if breaker is not None else math.inf
        section = [b for b in rest if b.cy < limit]
        rest = [b for b in rest if b.cy >= limit]
        for i in range(len(bounds)):
            out.extend(b for row in Page.rows(b for b in section if column(b) == i) for b in row)
        if breaker is not None:
            out.append(breaker)
    return out
