"""Per-field confidence: how sure the local engine is that each value is exactly right.

A value is found again in the lines it was read from (the parsers cut, join and clean
lines, so each value is aligned with :class:`difflib.SequenceMatcher` against the lines
that share most of its characters).  Each letter or digit of the value then has the
recogniser's probability for it (:mod:`._chars`; a traditional form of the same
character counts for it, since values are converted to simplified).  A letter the
parsers put there themselves (a corrected seal ending, a confusable letter read as a
digit) counts with the recogniser's probability for that letter, or :data:`UNMATCHED`
when it had none.  Spaces are left out; punctuation counts (a ``:`` read for a ``;``
makes the value wrong).  A value outside the shapes its field can hold (a name running
into the next line's text, see :mod:`._plausible`) has its raw score cut.

The *raw* score of a value is the product of its letters' probabilities (the chance that
every letter is right if the errors were independent); :func:`calibrate` maps it to the
confidence reported, a piecewise-linear curve fitted by isotonic regression on the
tuning split of ``bench/datasets`` (``python -m bench.trust --fit``), so that a
confidence of 0.9 means about 9 values in 10 are exactly right.  How well that holds on
documents the curve was not fitted on is in BENCHMARKS.md ("Trust").

A field every document of the kind prints (:attr:`~ocr_frames.kinds.KindSpec.key_fields`
and :attr:`~ocr_frames.kinds.KindSpec.expected`) that was not found gets 0.0; another
field not found gets no confidence (many are optional).
"""

from __future__ import annotations

import bisect
import functools
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any, Final

from ocr_frames.kinds import CORNERS, FIELD_BOXES, spec
from ocr_frames.local._chars import Char
from ocr_frames.local._ocr import TextBox
from ocr_frames.local._plausible import IMPLAUSIBLE, plausible
from ocr_frames.local.layouts._fix import simplified_text

__all__ = [
    "CALIBRATION",
    "UNMATCHED",
    "Index",
    "calibrate",
    "confidences",
    "field_box",
    "raw_score",
]

#: Probability given to a letter of a value that no line holds (the parsers wrote it).
UNMATCHED: Final = 0.2
#: A menu price overlapping its dish's row by less than this share of the smaller height
#: may belong to the next dish (a photo's slant): the item's raw score is multiplied by
#: UNSURE_PAIR.
PAIRED_ROW: Final = 0.7
UNSURE_PAIR: Final = 0.5
#: Lines aligned with each value at most (those sharing most of its characters).
CANDIDATE_LINES: Final = 40
#: (raw score, confidence) knots of the calibration curve, raw ascending (see the module
#: docstring; refitted with ``python -m bench.trust --fit``).
CALIBRATION: Final[tuple[tuple[float, float], ...]] = (
    # fitted on the tune split, 240 images, 2,436 fields with a confidence (2026-12-07)
    (0.0, 0.0),
    (0.0, 0.0385),
    (0.05, 0.0385),
    (0.09, 0.6111),
    (0.5109, 0.6111),
    (0.5121, 0.8529),
    (0.7945, 0.8529),
    (0.804, 0.963),
    (0.9577, 0.963),
    (0.9585, 0.9979),
    (0.9995, 0.9979),
    (0.9995, 0.9989),
    (1.0, 0.9989),
)
#: Fields whose value is a decision rather than printed text: their confidence is the
#: best of the row's other fields (the side of an ID card follows from what was read).
_DECIDED: Final = {"idcard": frozenset({"type"})}


def calibrate(raw: float) -> float:
    """The calibrated confidence of a raw score (piecewise linear through the knots)."""
    xs = [x for x, _ in CALIBRATION]
    i = bisect.bisect_right(xs, raw)
    if i == 0:
        return CALIBRATION[0][1]
    if i == len(CALIBRATION):
        return CALIBRATION[-1][1]
    (x0, y0), (x1, y1) = CALIBRATION[i - 1], CALIBRATION[i]
    return y0 if x1 == x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0)


@functools.cache
def _key(char: str) -> str:
    return unicodedata.normalize("NFKC", char).upper()


@functools.cache
def _simple_key(char: str) -> str:
    """The key of a character's simplified form (runners-up are often traditional)."""
    return _key(simplified_text(char))


def _counted(char: str) -> bool:
    return not char.isspace()


class _Line:
    """One recognised line, keyed for alignment, with each character's probability and,
    when it was read from the whole page, its quadrilateral there."""

    __slots__ = ("chars", "keys", "probs", "quad")

    def __init__(self, box: TextBox, placed: bool = True) -> None:
        self.quad = box.quad if placed else None
        text = box.text
        converted = simplified_text(text)
        if len(converted) != len(text):
            converted = text
        self.keys = "".join(_key(c)[:1] or c for c in converted)
        self.chars = box.chars
        self.probs = [_probability(c, char) for c, char in zip(self.keys, box.chars, strict=True)]


def _probability(key: str, char: Char) -> float:
    """The chosen character's probability plus its runners-up that are the same letter
    (a traditional form, a full-width digit)."""
    p, alternatives = char
    for alt, q in alternatives:
        if _key(alt) == key or _simple_key(alt) == key:
            p += q
    return min(p, 1.0)


#: Where each character of a value was read: index in the value → (line, index in it).
Found = dict[int, tuple[_Line, int]]


class Index:
    """The page's lines, found by the characters they share with a value."""

    def __init__(self, boxes: Iterable[TextBox], unplaced: Iterable[TextBox] = ()) -> None:
        """``boxes``: the page's lines; ``unplaced``: lines a parser read from a part of
        the page (their quadrilaterals are not in the page's pixels: no field box)."""
        lines = [(box, True) for box in boxes] + [(box, False) for box in unplaced]
        self.lines = [
            _Line(box, placed)
            for box, placed in lines
            if box.chars and len(box.chars) == len(box.text)
        ]
        self.by_char: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines):
            for key in set(line.keys):
                self.by_char.setdefault(key, []).append(i)

    def match(self, value: str) -> Found:
        """Where each character of ``value`` was read: index in value → (line, index).

        A character the parsers replaced (a confusable letter read as a digit) maps to
        the character it replaced, when the two readings have the same length there."""
        keys = "".join(_key(c)[:1] or c for c in value)
        wanted = sum(map(_counted, value))
        shared: Counter[int] = Counter()
        for key in set(keys):
            shared.update(self.by_char.get(key, ()))
        needed = min(3, wanted)
        aligned = []
        for line_index, _ in shared.most_common(CANDIDATE_LINES):
            line = self.lines[line_index]
            matcher = SequenceMatcher(None, keys, line.keys, autojunk=False)
            blocks = matcher.get_matching_blocks()
            longest = max(size for _, _, size in blocks)
            if longest < needed and longest < len(line.keys):
                continue  # a digit or two in common with an unrelated line proves nothing
            matched = sum(size for _, _, size in blocks)
            # the line the value was read from shares most of the value and is mostly it:
            # a date inside an ID number's line shares all of the date, but is not it
            aligned.append((matched, matched / len(line.keys), line, matcher))
        aligned.sort(key=lambda a: (a[0], a[1]), reverse=True)
        found: Found = {}
        for _, _, line, matcher in aligned:
            if len(found) >= len(value):
                break
            for tag, a0, a1, b0, b1 in matcher.get_opcodes():
                if tag == "equal" or (tag == "replace" and a1 - a0 == b1 - b0):
                    for k in range(a1 - a0):
                        found.setdefault(a0 + k, (line, b0 + k))
        return found

    def fit(self, value: str, found: Found | None = None) -> tuple[float, float]:
        """How well ``value`` was found (``found``: its :meth:`match`, if already made):
        (share of its characters found, share of the line holding most of them that they
        make up)."""
        found = self.match(value) if found is None else found
        if not found:
            return 0.0, 0.0
        line, at = _main_line(found)
        return len(found) / len(value), len(at) / len(line.keys)

    def probabilities(self, value: str, found: Found | None = None) -> list[float]:
        """The probability of each counted letter of ``value`` (see the module docstring;
        ``found``: its :meth:`match`, if already made)."""
        found = self.match(value) if found is None else found
        out = []
        for i, c in enumerate(value):
            if not _counted(c):
                continue
            line, at = found.get(i, (None, 0))
            out.append(UNMATCHED if line is None else _probability_of(c, line, at))
        return out


def _main_line(found: Found) -> tuple[_Line, list[int]]:
    """The line holding most of a found value (the first such, in the value's order), and
    where in it the value's characters are."""
    per_line = Counter(id(line) for line, _ in found.values())
    top = per_line.most_common(1)[0][0]
    line = next(line for line, _ in found.values() if id(line) == top)
    return line, [at for held, at in found.values() if held is line]


def _probability_of(char: str, line: _Line, at: int) -> float:
    """The recogniser's probability for ``char`` where ``line`` has character ``at``: its
    own when the line has that character, a runner-up's when the parsers put the
    runner-up there, else :data:`UNMATCHED`."""
    key = _key(char)[:1] or char
    if line.keys[at] == key:
        return line.probs[at]
    candidates = [q for alt, q in line.chars[at][1] if _key(alt) == key]
    return max([UNMATCHED, *candidates])


def _lerp(a: Sequence[float], b: Sequence[float], t: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def field_box(found: Found) -> dict[str, Any] | None:
    """Where a value was read (``found``: its :meth:`Index.match`): the stretch of the
    line holding most of it, as ``{"pos": {corner: {x, y}}}`` in the page's pixels
    (characters taken as evenly spaced along the line); None when that line has no place
    on the page."""
    if not found:
        return None
    line, at = _main_line(found)
    if line.quad is None:
        return None
    start, end = min(at) / len(line.keys), (max(at) + 1) / len(line.keys)
    lt, rt, rb, lb = line.quad
    corners = (_lerp(lt, rt, start), _lerp(lt, rt, end), _lerp(lb, rb, end), _lerp(lb, rb, start))
    pos = {c: {"x": round(x), "y": round(y)} for c, (x, y) in zip(CORNERS, corners, strict=True)}
    return {"pos": pos}


def raw_score(probabilities: Sequence[float]) -> float:
    """The product of the probabilities (1.0 for none)."""
    return math.exp(sum(math.log(max(p, 1e-9)) for p in probabilities))


def _value_texts(name: str, value: Any, dates: frozenset[str]) -> list[str]:
    """How ``value`` may have been printed (empty: no value)."""
    if not isinstance(value, str) or not value.strip():
        return []
    if name in dates:  # "2019-05-11" was printed 2019-05-11, 2019年5月11日 or 20190511
        parts = value.split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            return [value, "".join(parts), parts[0] + "".join(str(int(p)) for p in parts[1:])]
    return [value]


def _item_score(index: Index, item: Mapping[str, Any]) -> float | None:
    """A comm line's text, or a menu item's name and price (aligned apart: they are
    printed apart); None for an item with nothing to score."""
    probabilities = index.probabilities(str(item.get("text") or item.get("name") or ""))
    price = item.get("price")
    if isinstance(price, (int, float)) and not isinstance(price, bool) and math.isfinite(price):
        probabilities += index.probabilities(f"{price:g}")
    return raw_score(probabilities) if probabilities else None


def _item_conf(index: Index, item: Mapping[str, Any], row: Any) -> float | None:
    raw = _item_score(index, item)
    if raw is None:
        return None
    if isinstance(row, float) and row < PAIRED_ROW:  # the price may be the next dish's
        raw *= UNSURE_PAIR
    return round(calibrate(raw), 4)


def _private_dropped(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _item(index: Index, item: dict[str, Any]) -> dict[str, Any]:
    """A list item with its ``conf``; the parser's private ``_`` keys dropped."""
    kept = _private_dropped(item)
    return {**kept, "conf": _item_conf(index, kept, item.get("_row"))}


def confidences(kind: str, fields: dict[str, Any], index: Index) -> dict[str, Any]:
    """``fields`` with the answer's ``confidence`` object added (and a ``conf`` in each
    list item); nothing added when no line carries per-character scores."""
    kind_spec = spec(kind)
    if not index.lines:  # no per-character scores: no confidence, and no private keys
        name = kind_spec.list_field
        if name and isinstance(fields.get(name), list):
            fields = {**fields, name: [_private_dropped(i) for i in fields[name]]}
        return fields
    dates = frozenset(kind_spec.dates)
    decided = _DECIDED.get(kind, frozenset())
    scores: dict[str, float | None] = {}
    boxes: dict[str, Any] = {}
    side = fields.get(kind_spec.side_field) if kind_spec.side_field else None
    keys = kind_spec.keys_for(side)
    for name in kind_spec.confidence_fields:
        texts = _value_texts(name, fields.get(name), dates)
        if not texts:
            missed = name in keys or name in kind_spec.expected
            scores[name] = 0.0 if missed else None
        elif name not in decided:
            # the form printed: the one found best, in the line that is most nearly it
            matches = {text: index.match(text) for text in texts}
            text = max(texts, key=lambda t: index.fit(t, matches[t]))
            raw = raw_score(index.probabilities(text, matches[text]))
            if (box := field_box(matches[text])) is not None:
                boxes[name] = box
            if not plausible(kind, name, fields[name]):
                raw *= IMPLAUSIBLE
            scores[name] = round(calibrate(raw), 4)
    known = [s for s in scores.values() if s is not None]
    for name in decided:
        if name in scores or not fields.get(name):
            continue
        scores[name] = max(known) if known else None
    out = {**fields, "confidence": {k: v for k, v in scores.items() if v is not None}}
    if boxes:
        out[FIELD_BOXES] = boxes
    if kind_spec.list_field and isinstance(fields.get(kind_spec.list_field), list):
        out[kind_spec.list_field] = [
            _item(index, item) if isinstance(item, dict) else item
            for item in fields[kind_spec.list_field]
        ]
    return out
