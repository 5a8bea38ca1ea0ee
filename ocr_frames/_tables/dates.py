"""Parsing of the platform's date strings: single dates and idcard validity periods.

Accepted date forms (surrounding whitespace ignored, ASCII digits only)::

    2018-07-06   2018-7-6   2018/07/06   2018.07.06   20180706
    2018年1月1日  2018年01月01日  (the final 日 may be missing)

A date whose calendar values are impossible (``2018-02-30``) does not parse.

A validity period is ``<date><separator><date | 长期>`` where the separator is one or two
of ``- — – － ~ ～`` or ``至``, optionally surrounded by spaces: ``20171025-20271025``,
``2017.10.25-2027.10.25``, ``20171025-长期``, ``2017.10.25 至 2027.10.25``.

Dates are returned as day numbers since 1970-01-01 (what Arrow's ``date32`` stores), so
the caller can build Arrow arrays without creating ``datetime.date`` objects.
:func:`date_arrays` and :func:`validity_arrays` turn whole string columns into ``date32``
columns: each distinct string is parsed once (``dictionary_encode``), with a vectorised
cast when every distinct string has the usual shape.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["date_arrays", "parse_date", "parse_days", "split_validity", "validity_arrays"]

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
#: 0001-01-01 in days since 1970-01-01: the first day Python's ``date`` can hold.
_FIRST_DAY: Final = date(1, 1, 1).toordinal() - _EPOCH_ORDINAL

# One alternative per layout; a separator must be the same on both sides (\2).
_DATE_RE: Final = re.compile(
    r"([0-9]{4})"
    r"(?:([-/.])([0-9]{1,2})\2([0-9]{1,2})"
    r"|([0-9]{2})([0-9]{2})"
    r"|年([0-9]{1,2})月([0-9]{1,2})日?)"
)
# The same layouts without groups: only used to cut a validity period in two.
_DATE_SHAPE: Final = (
    r"[0-9]{4}(?:[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{4}|年[0-9]{1,2}月[0-9]{1,2}日?)"
)
_VALIDITY_RE: Final = re.compile(
    rf"({_DATE_SHAPE})\s*(?:[-—–－~～]{{1,2}}|至)\s*({_DATE_SHAPE}|长期(?:有效)?)"
)
#: Longest string worth matching: anything longer is not a date (guards regex time).
_MAX_LEN: Final = 64


def parse_date(text: str) -> date | None:
    """The date written in ``text``, or None if it is not one of the accepted forms."""
    days = parse_days(text)
    return None if days is None else date.fromordinal(days + _EPOCH_ORDINAL)


def parse_days(text: str) -> int | None:
    """Like :func:`parse_date`, as days since 1970-01-01 (Arrow ``date32``)."""
    # Fast paths for the platform's usual shapes, ~10x cheaper than the regex; on these
    # exact shapes they accept exactly what the regex accepts.
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            return None
    if len(text) == 8 and text.isascii() and text.isdigit():
        return _ordinal_days(int(text[:4]), int(text[4:6]), int(text[6:]))
    match = _DATE_RE.fullmatch(text.strip()) if len(text) <= _MAX_LEN else None
    if match is None:
        return None
    year, _, m1, d1, m2, d2, m3, d3 = match.groups()
    return _ordinal_days(int(year), int(m1 or m2 or m3), int(d1 or d2 or d3))


def _ordinal_days(year: int, month: int, day: int) -> int | None:
    try:
        return date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:  # 2018-02-30, year 0000, month 13...
        return None


def split_validity(text: str) -> tuple[int | None, int | None, bool | None]:
    """Split an idcard validity period into ``(start_days, end_days, long_term)``.

    ``"20171025-20271025"`` gives both dates and ``long_term=False``; ``"20171025-长期"``
    gives the start, ``end=None`` and ``long_term=True``.  Anything that does not parse
    completely (including an impossible calendar date on either side) gives
    ``(None, None, None)``.
    """
    text = text.strip()
    if len(text) in (11, 17) and text[8] == "-":  # the usual 20171025-20271025 / -长期
        start_text, end_text = text[:8], text[9:]
    else:
        match = _VALIDITY_RE.fullmatch(text) if len(text) <= 2 * _MAX_LEN else None
        if match is None:
            return None, None, None
        start_text, end_text = match.groups()
    start = parse_days(start_text)
    if start is None:
        return None, None, None
    if end_text in ("长期", "长期有效"):
        return start, None, True
    end = parse_days(end_text)
    if end is None:
        return None, None, None
    return start, end, False


# --- whole columns ----------------------------------------------------------------


def date_arrays(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(date32, raw)`` of a string column: each distinct string is parsed once."""
    encoded = pc.dictionary_encode(texts)
    days = _iso_days(encoded.dictionary)
    if days is not None:  # every distinct value is a valid YYYY-MM-DD: nothing failed
        return days.take(encoded.indices).cast(pa.date32()), pa.nulls(len(texts), pa.string())
    distinct = encoded.dictionary.to_pylist()
    parsed = [parse_days(text) for text in distinct]
    failed = [
        text if day is None and text.strip() else None
        for text, day in zip(distinct, parsed, strict=True)
    ]
    dates = pa.array(parsed, type=pa.int32()).take(encoded.indices).cast(pa.date32())
    if any(text is not None for text in failed):
        raw = pa.array(failed, type=pa.string()).take(encoded.indices)
    else:
        raw = pa.nulls(len(texts), type=pa.string())
    return dates, raw


def _iso_days(distinct: pa.Array) -> pa.Array | None:
    """Days of ``distinct`` if all are valid ``YYYY-MM-DD`` dates (vectorised), else None.

    Arrow's string → date32 cast accepts exactly that shape and checks the calendar, a
    subset of what :func:`parse_days` accepts, with the same result;
    except year 0, which Python's ``date`` (and so the slow path) refuses.
    """
    try:
        days = distinct.cast(pa.date32()).cast(pa.int32())
    except pa.ArrowInvalid:
        return None
    low = pc.min(days).as_py()
    return days if low is None or low >= _FIRST_DAY else None


def validity_arrays(texts: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``(start, end, long_term)`` of a column of idcard validity periods."""
    encoded = pc.dictionary_encode(texts)
    parts = _usual_validity(encoded.dictionary)
    if parts is None:
        rows = [split_validity(text) for text in encoded.dictionary.to_pylist()]
        start, end, long_term = zip(*rows, strict=True) if rows else ((), (), ())
        parts = (
            pa.array(start, type=pa.int32()),
            pa.array(end, type=pa.int32()),
            pa.array(long_term, type=pa.bool_()),
        )
    start, end, long_term = (part.take(encoded.indices) for part in parts)
    return start.cast(pa.date32()), end.cast(pa.date32()), long_term


def _usual_validity(distinct: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """Vectorised :func:`split_validity` when every distinct value has
    the usual shape ``YYYYMMDD-YYYYMMDD`` or ``YYYYMMDD-长期``, with valid dates; else None.
    """
    usual = pc.match_substring_regex(distinct, r"^[0-9]{8}-(?:[0-9]{8}|长期)$")
    if pc.all(usual).as_py() is False:
        return None
    long_term = pc.equal(pc.utf8_slice_codeunits(distinct, 9), "长期")
    ends = pc.if_else(long_term, None, pc.utf8_slice_codeunits(distinct, 9))
    start, end = _iso_days(_yyyymmdd_to_iso(distinct)), _iso_days(_yyyymmdd_to_iso(ends))
    if start is None or end is None:  # an impossible date: the slow path nulls the row
        return None
    return start, end, long_term


def _yyyymmdd_to_iso(texts: pa.Array) -> pa.Array:
    def piece(start: int, stop: int) -> pa.Array:
        return pc.utf8_slice_codeunits(texts, start, stop)

    return pc.binary_join_element_wise(piece(0, 4), piece(4, 6), piece(6, 8), "-")
