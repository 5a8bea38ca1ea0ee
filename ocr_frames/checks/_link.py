"""``link``: the same person or vehicle across two document tables.

Supported pairs (the mapping's keys are the kinds):

* ``{"idcard": ..., "drivinglicense": ...}`` - a person.  Compared fields: ``id_number``,
  ``name``, ``birth_date`` (ID card: from the ID number; licence: its ``birth_date``, else
  from its ID number) and ``sex`` (``gender`` / ``sex``, as 男/女).
* ``{"driving": ..., "platenum": ...}`` - a vehicle.  Compared field: ``plate``
  (registration ``plate_num``, plate image ``number``, normalised).

Every value is normalised as for the checks (NFKC, no whitespace or separators such as
the middle dot of 阿卜杜·热合曼, upper-case) before it is compared.

By default rows are paired by the document number (``id_number`` / ``plate``), so that
field agrees by construction and the others are what is tested.  ``on="customer_id"``
pairs rows by a column of your own present in both frames (a case or customer id), and
then the document numbers are compared too: a licence whose ID number differs from the
customer's ID card shows up as ``match_id_number`` False.

Only rows with ``errcode == 0`` and a key take part.  The result has one row per pair of
rows sharing a key, plus one row per unpaired row (the other side NA), sorted by key:

``key``, ``status`` (``match``, ``mismatch``, ``only_<kind>``), ``<kind>_row`` (0-based
row positions, as for ``df.iloc``), then per field ``<kind>_<field>`` for each side and
``match_<field>`` (boolean; NA when a side lacks the value).  ``match`` means every
comparable field agrees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd

from ocr_frames._numbers.compact import compact_array
from ocr_frames._numbers.ric import normalise_sex, ric_result
from ocr_frames.checks._common import (
    BOOL,
    DATE,
    INT,
    STR,
    arrow_text,
    as_text,
    date_array,
    row_ok,
)


def _birth_from_id(number: str) -> date | None:
    result = ric_result(number, date.max)
    return result.birth_date if result.format_ok else None


Reader = Callable[[pd.DataFrame], list[Any]]


def _texts(column: str, then: Callable[[str], Any] | None = None) -> Reader:
    """Reads ``column`` normalised by :func:`compact` (vectorised), then ``then`` of each."""

    def read(df: pd.DataFrame) -> list[Any]:
        if column not in df.columns:
            raise ValueError(f"link: the table has no {column!r} column")
        values: list[str | None] = compact_array(arrow_text(df[column])).to_pylist()
        if then is None:
            return [v or None for v in values]
        memo: dict[str, Any] = {}
        out: list[Any] = []
        for value in values:
            if value and value not in memo:
                memo[value] = then(value)
            out.append(memo[value] if value else None)
        return out

    return read


def _dates(column: str, fallback: Reader | None = None) -> Reader:
    def read(df: pd.DataFrame) -> list[Any]:
        days: list[Any] = date_array(df, column).tolist()
        if fallback is None:
            return days
        backup = fallback(df)
        return [d if d is not None else b for d, b in zip(days, backup, strict=True)]

    return read


@dataclass(frozen=True)
class _Pair:
    kinds: tuple[str, str]
    number: str  # the field that is the default key
    fields: dict[str, tuple[Reader, Reader]]
    types: dict[str, Any]


_PERSON: Final = _Pair(
    ("idcard", "drivinglicense"),
    "id_number",
    {
        "id_number": (_texts("id"), _texts("id_num")),
        "name": (_texts("name"), _texts("name")),
        "birth_date": (
            _texts("id", _birth_from_id),
            _dates("birth_date", _texts("id_num", _birth_from_id)),
        ),
        "sex": (_texts("gender", normalise_sex), _texts("sex", normalise_sex)),
    },
    {"id_number": STR, "name": STR, "birth_date": DATE, "sex": STR},
)
_VEHICLE: Final = _Pair(
    ("driving", "platenum"),
    "plate",
    {"plate": (_texts("plate_num"), _texts("number"))},
    {"plate": STR},
)
_PAIRS: Final = {frozenset(p.kinds): p for p in (_PERSON, _VEHICLE)}


def _side(df: pd.DataFrame, kind: str, pair: _Pair, index: int, on: str | None) -> pd.DataFrame:
    values = {field: readers[index](df) for field, readers in pair.fields.items()}
    if on is None:
        keys = values[pair.number]
    elif on in df.columns:
        keys = [as_text(v) for v in df[on].tolist()]
    else:
        raise ValueError(f"link: the {kind} table has no column {on!r}")
    side = pd.DataFrame({"key": keys, f"{kind}_row": np.arange(len(df)), **values})
    keep = row_ok(df) & side["key"].notna().to_numpy()
    kept: pd.DataFrame = side[keep].rename(columns={f: f"{kind}_{f}" for f in pair.fields})
    return kept


def link(frames: Mapping[str, pd.DataFrame], *, on: str | None = None) -> pd.DataFrame:
    """Pair the rows of two document tables and say which fields agree (module docstring)."""
    pair = _PAIRS.get(frozenset(frames))
    if pair is None or len(frames) != 2:
        supported = " or ".join(str(sorted(p.kinds)) for p in _PAIRS.values())
        raise ValueError(f"link: expected frames for the kinds {supported}, got {sorted(frames)}")
    left, right = pair.kinds
    merged = pd.merge(
        _side(frames[left], left, pair, 0, on),
        _side(frames[right], right, pair, 1, on),
        on="key",
        how="outer",
        sort=True,
    )
    out: pd.DataFrame = pd.DataFrame(index=pd.RangeIndex(len(merged)))
    out["key"] = pd.array(merged["key"].astype(object).tolist(), dtype=STR)
    has_left = merged[f"{left}_row"].notna().to_numpy()
    has_right = merged[f"{right}_row"].notna().to_numpy()
    for kind in pair.kinds:
        out[f"{kind}_row"] = pd.array(merged[f"{kind}_row"].astype(object).tolist(), dtype=INT)
    any_mismatch = np.zeros(len(merged), dtype=bool)
    for field, dtype in pair.types.items():
        a = merged[f"{left}_{field}"].astype(object).where(merged[f"{left}_{field}"].notna(), None)
        b = (
            merged[f"{right}_{field}"]
            .astype(object)
            .where(merged[f"{right}_{field}"].notna(), None)
        )
        a_list, b_list = a.tolist(), b.tolist()
        out[f"{left}_{field}"] = pd.array(a_list, dtype=dtype)
        out[f"{right}_{field}"] = pd.array(b_list, dtype=dtype)
        known = np.array(
            [x is not None and y is not None for x, y in zip(a_list, b_list, strict=True)],
            dtype=bool,
        )
        same = np.array([x == y for x, y in zip(a_list, b_list, strict=True)], dtype=bool)
        match = pd.array(same & known, dtype=BOOL)
        match[~known] = pd.NA
        out[f"match_{field}"] = match
        any_mismatch |= known & ~same
    status = np.where(any_mismatch, "mismatch", "match").astype(object)
    status[~has_right] = f"only_{left}"
    status[~has_left] = f"only_{right}"
    out.insert(1, "status", pd.array(status.tolist(), dtype=STR))
    return out
