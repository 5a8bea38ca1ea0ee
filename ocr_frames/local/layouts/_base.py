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

__all__ = ["Page", "Token", "compact", "row_share", "same_row"]

_SPACE: Final = re.compile(r"\s+")
#: What may stand between a label and its value (``名称：…``).
_SEPARATORS: Final = ":：;；.·、|"


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


def row_share(a: Token, b: Token) -> float:
    """The vertical overlap of two tokens over the smaller height (1: the same row)."""
    return _overlap(a, b) / max(min(a.height, b.height), 1e-9)


def same_row(a: Token, b: Token, ratio: float = 0.5) -> bool:
    """Whether two tokens share a text row (vertical overlap of half the smaller height)."""
    return row_share(a, b) >= ratio


def _starts(text: str, label: str) -> int:
    """The length of ``text``'s start that spells ``label`` (0: it does not): the label
    itself, or for a label of two or more letters, the label with one stray letter read
    between its letters (``姓生名``: a speck in a letter-spaced ``姓    名``)."""
    if text.startswith(label):
        return len(label)
    if len(label) >= 2 and len(text) > len(label):
        head = text[: len(label) + 1]
        ends = head[0] == label[0] and head[-1] == label[-1]
        if ends and any(head[:i] + head[i + 1 :] == label for i in range(1, len(label))):
            return len(label) + 1
    return 0


def _overlap(a: Token, b: Token) -> float:
    """Vertical overlap of two tokens (negative: the gap between them)."""
    return min(a.bottom, b.bottom) - max(a.top, b.top)


def _beside(row: list[Token], label: Token) -> tuple[bool, float]:
    """How well a row of tokens right of a label fits as its value: rows that start with
    text (not another label) first, then the row overlapping the label the most."""
    share = max(_overlap(t, label) / min(t.height, label.height) for t in row)
    return row[0].label is None, share


def _centred_block(rows: list[list[Token]], label: Token) -> bool:
    """Whether rows beside a label are one value of several lines set level with the
    label's middle: the lines start at the same x and the label's centre lies between the
    first line's centre and the last one's."""
    h = label.height
    starts = [row[0].left for row in rows]
    centres = [sum(t.cy for t in row) / len(row) for row in rows]
    return (
        max(starts) - min(starts) < 1.5 * h
        and centres[0] < label.cy < centres[-1]
        and abs((min(t.top for t in rows[0]) + max(t.bottom for t in rows[-1])) / 2 - label.cy)
        < 0.6 * h
    )


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
        pieces: list[tuple[str, tuple[float, float, float, float], int, int]] = []
        for index, (box, region) in enumerate(located):
            cos, sin = math.cos(-angles[region]), math.sin(-angles[region])
            pts = [(x * cos - y * sin, x * sin + y * cos) for x, y in box.quad]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            # a line still slanted after the page's deskew (a photo's perspective) keeps
            # its own thickness, not the height of its slanted bounding box
            (x0, y0), (x1, y1), _, (x3, y3) = pts
            side, thickness = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
            middle = sum(ys) / 4
            half = min(max(ys) - min(ys), min(side, thickness)) / 2
            pieces.append(
                (compact(box.text), (min(xs), max(xs), middle - half, middle + half), index, region)
            )
        for text, bounds, index, region in self._join_spaced_labels(pieces):
            self.tokens.extend(self._split(text, bounds, index, region))

    def _join_spaced_labels(
        self, pieces: list[tuple[str, tuple[float, float, float, float], int, int]]
    ) -> list[tuple[str, tuple[float, float, float, float], int, int]]:
        """Letter-spaced labels (``姓    名``) that OCR read as separate lines, joined.

        A line whose text is the start of a label is joined with the next lines to its
        right on the same row (each within four line heights) while the joined text is
        still the start of a label, and kept joined if it then starts with a label.  The
        joined label's box is the union; what follows the label in the last line stays a
        line of its own."""
        names = [name for name, _ in self._labels]
        if not names:
            return pieces
        out = list(pieces)
        order = sorted(range(len(out)), key=lambda i: out[i][1][0])
        consumed: set[int] = set()
        for i in order:
            text, (left, right, top, bottom), index, region = out[i]
            if i in consumed or not text or any(text.startswith(n) for n in names):
                continue
            if not any(n.startswith(text) and n != text for n in names):
                continue
            joined, members, edge, height = text, [i], right, bottom - top
            while True:
                nxt = min(
                    (
                        j
                        for j in order
                        if j not in consumed
                        and j not in members
                        and out[j][3] == region
                        and out[j][1][0] > left
                        and out[j][1][0] >= edge - height
                        and out[j][1][0] - edge < 4 * height
                        and min(out[j][1][3], bottom) - max(out[j][1][2], top) > 0.5 * height
                    ),
                    key=lambda j: out[j][1][0],
                    default=None,
                )
                if nxt is None:
                    break
                candidate = joined + out[nxt][0]
                done = next((n for n in names if _starts(candidate, n)), None)
                if done is None and not any(n.startswith(candidate) for n in names):
                    break
                members.append(nxt)
                joined, edge = candidate, out[nxt][1][1]
                if done is not None:
                    break
            label = next((n for n in names if _starts(joined, n)), None)
            if label is None or len(members) < 2:
                continue
            last_text, (l2, r2, t2, b2), last_index, _ = out[members[-1]]
            tail = joined[_starts(joined, label) :]
            width = (r2 - l2) / max(1, len(last_text))
            cut = r2 - len(tail) * width
            union = (
                left,
                cut,
                min(out[m][1][2] for m in members),
                max(out[m][1][3] for m in members),
            )
            consumed.update(members)
            out[i] = (label, union, index, region)
            for m in members[1:]:
                out[m] = ("", out[m][1], out[m][2], region)
            if tail:
                out[members[-1]] = (tail, (cut, r2, t2, b2), last_index, region)
        return [piece for piece in out if piece[0]]

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
        """Unused tokens right of ``label`` on its row, until the next label or a wide gap.

        A value of two lines set beside the middle of its label (a table cell whose label
        is centred vertically) is read line by line, top to bottom."""
        h = label.height
        near = [
            t
            for t in self.tokens
            if t is not label
            and id(t) not in self.used
            and t.region == label.region
            and t.left >= label.right - 0.6 * h
            and min(t.bottom, label.bottom) - max(t.top, label.top) >= 0.25 * min(h, t.height)
        ]
        rows = self.rows(near)
        if len(rows) > 1 and not _centred_block(rows, label):  # its own row only
            rows = [max(rows, key=lambda r: _beside(r, label))]
        out: list[Token] = []
        for row in rows:
            edge = label.right
            for token in row:
                gap_allowed = (max_gap if edge == label.right else 2.5) * h
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
        return text.lstrip(_SEPARATORS)
