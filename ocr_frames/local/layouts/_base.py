"""Geometry shared by the layouts: a deskewed page of text tokens, printed labels split off,
and the values that belong to each label by position.

OCR gives text lines with quadrilaterals.  A :class:`Page` rotates them by the page's skew
(the median slope of the longer lines) so that rows are horizontal, splits every known
printed label off the lines (``"性别男"`` → label ``性别`` + text ``男``) and then answers
"what is written to the right of this label, up to the next label" (:meth:`Page.value`),
optionally continued on the lines below (multi-line addresses, business scopes) or found
just below the label.  Each token is consumed at most once, so a value is never given to
two labels.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ocr_frames.local._geometry import Centred, Point, point_in_quad
from ocr_frames.local._ocr import TextBox

__all__ = ["Page", "Token", "compact", "same_row"]

_SPACE: Final = re.compile(r"\s+")


def compact(text: str) -> str:
    """Text without whitespace and without pictographs (☑, ★: specks read as symbols)."""
    return "".join(c for c in _SPACE.sub("", text) if unicodedata.category(c) != "So")


@dataclass(frozen=True, slots=True)
class Token(Centred):
    """A piece of a recognised line in the deskewed frame; ``label`` is set for labels."""

    text: str
    left: float
    right: float
    top: float
    bottom: float
    index: int
    label: str | None = None
    region: int = -1

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)


def same_row(a: Token, b: Token, ratio: float = 0.5) -> bool:
    """Whether two tokens share a text row (vertical overlap of half the smaller height)."""
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= ratio * min(a.height, b.height)


def _skew(boxes: Sequence[TextBox]) -> float:
    """Median slope (radians) of the top edges of lines at least twice as long as high."""
    angles = []
    for box in boxes:
        (x1, y1), (x2, y2), _, (x4, y4) = box.quad
        if math.hypot(x2 - x1, y2 - y1) > 2 * math.hypot(x4 - x1, y4 - y1):
            angles.append(math.atan2(y2 - y1, x2 - x1))
    if not angles:
        return 0.0
    angles.sort()
    return angles[len(angles) // 2]


class Page:
    """The lines of one image as tokens in a deskewed frame, with labels split off.

    ``labels`` maps printed label text to a field key; a label is recognised at the start
    of a line, and also inside a line when its key is in ``inside`` (labels that OCR tends
    to merge with the value before them).  ``regions`` (quadrilaterals in image
    coordinates) tag each token with the region holding its centre, and a value is only
    looked for in its label's region.
    """

    def __init__(
        self,
        boxes: Sequence[TextBox],
        labels: Mapping[str, str] | None = None,
        *,
        inside: Iterable[str] = (),
        regions: Sequence[Sequence[Point]] = (),
    ) -> None:
        self._labels = sorted((labels or {}).items(), key=lambda kv: -len(kv[0]))
        self._inside = frozenset(inside)
        self.tokens: list[Token] = []
        self.used: set[int] = set()
        located = [
            (
                box,
                next((i for i, q in enumerate(regions) if point_in_quad((box.cx, box.cy), q)), -1),
            )
            for box in boxes
        ]
        # each region (a card, a page) is deskewed by its own slant
        angles = {
            region: _skew([box for box, r in located if r == region])
            for region in {r for _, r in located}
        }
        for index, (box, region) in enumerate(located):
            cos, sin = math.cos(-angles[region]), math.sin(-angles[region])
            pts = [(x * cos - y * sin, x * sin + y * cos) for x, y in box.quad]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            bounds = (min(xs), max(xs), min(ys), max(ys))
            self.tokens.extend(self._split(compact(box.text), bounds, index, region))

    def _split(
        self, text: str, bounds: tuple[float, float, float, float], index: int, region: int
    ) -> list[Token]:
        left, right, top, bottom = bounds
        width = (right - left) / max(1, len(text))
        pieces: list[tuple[int, int, str | None]] = []
        start = i = 0
        while i < len(text):
            found = next(
                (
                    (name, key)
                    for name, key in self._labels
                    if text.startswith(name, i) and (i == 0 or key in self._inside)
                ),
                None,
            )
            if found is None:
                i += 1
                continue
            if i > start:
                pieces.append((start, i, None))
            pieces.append((i, i + len(found[0]), found[1]))
            i = start = i + len(found[0])
        if start < len(text):
            pieces.append((start, len(text), None))
        return [
            Token(text[a:b], left + a * width, left + b * width, top, bottom, index, key, region)
            for a, b, key in pieces
        ]

    # --- queries ----------------------------------------------------------------------
    def labels(self, key: str) -> list[Token]:
        """The label tokens of a field key, top to bottom."""
        return sorted((t for t in self.tokens if t.label == key), key=lambda t: (t.top, t.left))

    def free(self) -> list[Token]:
        """Text tokens not consumed yet, in reading order."""
        return self.reading_order(
            t for t in self.tokens if t.label is None and id(t) not in self.used
        )

    def take(self, tokens: Iterable[Token]) -> str:
        """Mark tokens as consumed and return their text joined."""
        parts = []
        for token in tokens:
            self.used.add(id(token))
            parts.append(token.text)
        return "".join(parts)

    @staticmethod
    def rows(tokens: Iterable[Token]) -> list[list[Token]]:
        """Tokens grouped into rows (top to bottom), each row left to right."""
        rows: list[list[Token]] = []
        for token in sorted(tokens, key=lambda t: t.cy):
            row = next((r for r in rows if same_row(r[0], token)), None)
            if row is None:
                rows.append([token])
            else:
                row.append(token)
        for row in rows:
            row.sort(key=lambda t: t.left)
        rows.sort(key=lambda r: min(t.top for t in r))
        return rows

    @classmethod
    def reading_order(cls, tokens: Iterable[Token]) -> list[Token]:
        return [t for row in cls.rows(tokens) for t in row]

    def _limit(self, label: Token) -> float:
        """Right edge of the label's column: the next label further right (on any row)."""
        lefts = [
            t.left
            for t in self.tokens
            if t.label is not None
            and t.region == label.region
            and t.left > label.right + 4 * label.height
            and abs(t.cy - label.cy) < 12 * label.height
        ]
        return min(lefts, default=math.inf)

    def right_of(self, label: Token, *, max_gap: float = 10.0) -> list[Token]:
        """Unused tokens right of ``label`` on its row, until the next label or a wide gap."""
        row = sorted(
            (
                t
                for t in self.tokens
                if t is not label
                and id(t) not in self.used
                and t.region == label.region
                and t.left >= label.right - 0.6 * label.height
                and same_row(label, t)
            ),
            key=lambda t: t.left,
        )
        out: list[Token] = []
        edge = label.right
        for token in row:
            gap_allowed = (max_gap if not out else 2.5) * label.height
            if token.label is not None or token.left - edge > gap_allowed:
                break
            out.append(token)
            edge = token.right
        return out

    def below(self, label: Token, *, lines: int = 2) -> list[Token]:
        """Unused text tokens just below ``label`` (within ``lines`` line heights)."""
        h = label.height
        candidates = [
            t
            for t in self.tokens
            if id(t) not in self.used
            and t.label is None
            and t.region == label.region
            and label.bottom - 0.3 * h < t.top < label.bottom + lines * h
            and t.left < label.right + 2 * h
            and t.right > label.left - h
        ]
        if not candidates:
            return []
        first = min(candidates, key=lambda t: t.top)
        return sorted((t for t in candidates if same_row(first, t)), key=lambda t: t.left)

    def continuation(self, label: Token, first: list[Token]) -> list[list[Token]]:
        """Further lines of a multi-line value, left-aligned with its first line; they end
        at the next label of the same column, at a gap, or at a line out of alignment."""
        h = max(t.height for t in first)
        x0 = min(t.left for t in first)
        limit = self._limit(label)

        def in_column(t: Token) -> bool:
            return t.region == label.region and t.right > label.left - h and t.left < limit

        column_labels = [t for t in self.tokens if t.label is not None and in_column(t)]
        bottom = max(t.bottom for t in first)
        lines: list[list[Token]] = []
        while True:
            band = [
                t
                for t in self.tokens
                if id(t) not in self.used
                and t.label is None
                and in_column(t)
                and t.right > x0 - h
                and bottom - 0.4 * h < t.top < bottom + 1.0 * h
            ]
            if not band:
                return lines
            top_row = min(band, key=lambda t: t.top)
            if any(
                same_row(top_row, t) or bottom - 0.4 * h < t.top <= top_row.top
                for t in column_labels
            ):
                return lines  # the next field's row (its label may sit a little lower)
            row = sorted(
                (t for t in band if same_row(top_row, t) and t.left > x0 - 1.2 * h),
                key=lambda t: t.left,
            )
            if not row:
                return lines
            lines.append(row)
            self.used.update(id(t) for t in row)
            bottom = max(t.bottom for t in row)

    def value(
        self, key: str, *, multiline: bool = False, below: bool = False, occurrence: int = 0
    ) -> str | None:
        """The text printed for a label: right of it (and continued below when
        ``multiline``), or just below it when nothing is to the right and ``below``.
        None when the label is not on the page."""
        found = self.labels(key)
        if len(found) <= occurrence:
            return None
        label = found[occurrence]
        return self.value_of(label, multiline=multiline, below=below)

    def value_of(self, label: Token, *, multiline: bool = False, below: bool = False) -> str:
        first = self.right_of(label)
        if not first and below:
            first = self.below(label)
        text = self.take(first)
        if multiline and first:
            text += "".join(self.take(line) for line in self.continuation(label, first))
        return text
