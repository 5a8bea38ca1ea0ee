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
from collections.abc import Callable, Sequence

from ocr_frames.local.layouts._base import Page, Token

__all__ = ["gutters", "reading_order"]


def gutters(boxes: Sequence[Token], *, min_width: float | None = None) -> list[float]:
    """The x positions (centres) of the page's gutters, left to right.

    A gutter is a strip at least ``min_width`` wide (default: 1.2 median line heights)
    crossed by at most one line in twenty, with at least a fifth of the text's rows on each
    side of it.
    """
    if len(boxes) < 4:
        return []
    height = statistics.median(b.height for b in boxes)
    min_width = 1.2 * height if min_width is None else min_width
    allowed = max(1, len(boxes) // 20)
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
    left = sum(1 for b in boxes if b.right <= start)
    right = sum(1 for b in boxes if b.left >= end)
    if min(left, right) >= max(2, len(boxes) // 5):
        found.append((start + end) / 2)


def reading_order(
    boxes: Sequence[Token], may_break: Callable[[Token], bool] = lambda box: False
) -> list[Token]:
    """``boxes`` in reading order: sections top to bottom, columns left to right.

    Sections are separated by the lines that cross a gutter, and by the boxes for which
    ``may_break`` is true (a menu's headings) that are alone at their height: nothing
    in another column beside them, as when a heading is set above all the columns.
    """
    cuts = gutters(boxes)
    if not cuts:
        return [b for row in Page.rows(boxes) for b in row]
    bounds = list(zip([-math.inf, *cuts], [*cuts, math.inf], strict=True))

    def column(box: Token) -> int:
        return next(i for i, (lo, hi) in enumerate(bounds) if lo <= box.cx < hi)

    def crosses(box: Token) -> bool:
        return any(box.left < x < box.right for x in cuts)

    def alone(box: Token) -> bool:
        return not any(
            other is not box
            and column(other) != column(box)
            and other.top < box.bottom
            and other.bottom > box.top
            for other in boxes
        )

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
