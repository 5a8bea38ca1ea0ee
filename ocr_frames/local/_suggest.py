"""Checksum-aware suggestions: a valid reading of a number that failed its check.

For the numbers with a check character (ID numbers, GB 11643; credit codes, GB 32100;
VINs, ISO 3779; bank cards, Luhn: the ``suggested`` fields of
:class:`~ocr_frames.kinds.KindSpec`), when the value read fails its check, the
recogniser's runners-up (:mod:`._chars`) for its least certain characters are tried in
their place: one character, then two.  A candidate counts only if it passes the very
check :mod:`ocr_frames.checks` applies (for ID numbers that includes a real birth date
and a known region code).  Candidates are ranked by the recogniser's probability of the
whole reading; the best becomes ``suggested[field]`` only if it is clearly the best (at
least :data:`MARGIN` times as likely as the next valid one), since a wrong suggestion
costs a reviewer more than none.

The value read is never changed, and a failed check never becomes a pass: the suggestion
is for the reviewer (``<field>_suggested`` and the reason ``suggestion: <field>``).  Only
substitutions are tried: a missing or an extra character is left to the reviewer.

Luhn is weaker evidence than the others: one card number in ten passes it by chance, and
real cards exist that fail it.  Bank cards therefore get one-character suggestions only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, Final

from ocr_frames._numbers.bank import card_result
from ocr_frames._numbers.compact import compact
from ocr_frames._numbers.ric import ric_result
from ocr_frames._numbers.uscc import USCC, reg_num_result
from ocr_frames._numbers.vehicle import vin_result
from ocr_frames.kinds import spec
from ocr_frames.local._confidence import UNMATCHED, Index

__all__ = ["MARGIN", "suggestions"]

#: How many times likelier than the runner-up a suggestion must be.
MARGIN: Final = 4.0
#: Characters (the least certain first) whose runners-up are tried.
TRIED: Final = 6
#: A character this sure is never replaced.
SURE: Final = 0.995


def _id_valid(number: str) -> bool:
    # judged on the day the answer is made (an engine knows no run's ``as_of``): a birth
    # date in the future is not a suggestion on any day
    return ric_result(number, date.today()).valid


def _uscc_valid(number: str) -> bool:
    result = reg_num_result(number)
    return result.type == USCC and bool(result.uscc_valid)


def _vin_valid(number: str) -> bool:
    return vin_result(number).valid


def _card_valid(number: str) -> bool:
    return card_result(number).valid


#: field → (its check, characters replaced at most at once)
_CHECKS: Final[dict[str, tuple[Callable[[str], bool], int]]] = {
    "id": (_id_valid, 2),
    "id_num": (_id_valid, 2),
    "reg_num": (_uscc_valid, 2),
    "vin": (_vin_valid, 2),
    "number": (_card_valid, 1),
}


def _options(value: str, index: Index) -> list[tuple[int, float, list[tuple[str, float]]]]:
    """(position, probability of the letter there, [(other reading, its probability)])
    of the least certain characters of ``value`` that have other readings."""
    found = index.match(value)
    out = []
    for position, (line, at) in found.items():
        chosen, alternatives = line.chars[at]
        readings = [(line.keys[at], chosen), *alternatives]
        here = value[position]
        p = max([q for alt, q in readings if compact(alt) == here], default=UNMATCHED)
        others = [(compact(alt), q) for alt, q in readings]
        others = [(alt, q) for alt, q in others if len(alt) == 1 and alt != here]
        if others and p < SURE:
            out.append((position, p, others))
    out.sort(key=lambda option: option[1])
    return out[:TRIED]


def suggest(value: str, index: Index, valid: Callable[[str], bool], most: int) -> str | None:
    """The clearly best valid reading of ``value`` (compacted) with at most ``most``
    characters replaced by runners-up, or None."""
    if valid(value):
        return None
    options = _options(value, index)
    best: dict[str, float] = {}  # candidate → its best weight (two runners-up may agree)
    for count in range(1, most + 1):
        for chosen in itertools.combinations(options, count):
            for picks in itertools.product(*(runners for _, _, runners in chosen)):
                letters = list(value)
                weight = 0.0
                for (position, p, _), (alt, q) in zip(chosen, picks, strict=True):
                    letters[position] = alt
                    weight += math.log(max(q, 1e-9)) - math.log(max(p, 1e-9))
                candidate = "".join(letters)
                if candidate != value and valid(candidate):
                    best[candidate] = max(weight, best.get(candidate, -math.inf))
        if best:  # fewer changes first: a one-letter fix beats any two-letter one
            break
    if not best:
        return None
    ranked = sorted(((w, c) for c, w in best.items()), reverse=True)
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < math.log(MARGIN):
        return None
    return ranked[0][1]


def suggestions(kind: str, fields: Mapping[str, Any], index: Index) -> dict[str, str]:
    """``{field: suggested reading}`` for the kind's checked numbers that fail their check."""
    out: dict[str, str] = {}
    for name in spec(kind).suggested:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip() or name not in _CHECKS:
            continue
        valid, most = _CHECKS[name]
        found = suggest(compact(value), index, valid, most)
        if found is not None:
            out[name] = found
    return out
