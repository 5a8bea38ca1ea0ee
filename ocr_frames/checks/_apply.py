"""``add_checks``: the check columns of each kind, assembled into the table.

In two parts, so that a stream of chunks gets the very columns a whole table gets:
:func:`row_columns` judge each row alone (a chunk at a time is fine), the duplicate
columns (:class:`~ocr_frames.checks._duplicates.DuplicateKeys`) need every row first, and
:class:`Verdict` sums up the boolean columns of both into ``check_passed`` and
``check_problems``, adding them part by part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ocr_frames._numbers import bank as _bank
from ocr_frames._numbers import ric as _ric
from ocr_frames._numbers import uscc as _uscc
from ocr_frames._numbers import vehicle as _vehicle
from ocr_frames.checks import _duplicates
from ocr_frames.checks import _validity as _dates
from ocr_frames.checks._catalogue import CHECKS
from ocr_frames.checks._common import (
    BOOL,
    DATE,
    INT,
    STR,
    Codes,
    Column,
    date_array,
    encode,
    evaluate,
    row_ok,
    spread,
    spread_objects,
    text_column,
)
from ocr_frames.kinds import check_kind

Ok = npt.NDArray[np.bool_]


class _Values:
    """Per-distinct results of one check function, spread back over the rows on demand."""

    def __init__(self, codes: Codes, results: list[Any]) -> None:
        self.codes = codes
        self.results = results

    def attr(self, name: str) -> list[Any]:
        return list(map(attrgetter(name), self.results))

    def column(self, column: str, attr: str, dtype: Any, detail: str | None = None) -> Column:
        values = spread(self.attr(attr), self.codes, dtype)
        return Column(column, values, self.objects(detail) if detail else None)

    def objects(self, attr: str) -> npt.NDArray[np.object_]:
        return spread_objects(self.attr(attr), self.codes)


class _Table:
    """The table being checked: which rows are usable, each text column encoded once."""

    def __init__(self, df: pd.DataFrame, kind: str, as_of: date) -> None:
        self.df, self.kind, self.as_of = df, kind, as_of
        self.ok: Ok = row_ok(df)
        self._encoded: dict[str, tuple[Codes, list[str]]] = {}

    def encoded(self, column: str) -> tuple[Codes, list[str]]:
        """Codes and distinct normalised values of ``column`` (see :func:`encode`)."""
        if column not in self._encoded:
            self._encoded[column] = encode(text_column(self.df, column), self.ok)
        return self._encoded[column]

    def values(self, column: str, fn: Callable[[str], Any]) -> _Values:
        """``fn`` of each distinct normalised value of ``column``."""
        codes, texts = self.encoded(column)
        return _Values(codes, evaluate(texts, fn))


def _equal(left: npt.NDArray[np.object_], right: npt.NDArray[np.object_]) -> Any:
    """Elementwise ``left == right``; NA where either side is None."""
    known = ~pd.isnull(left) & ~pd.isnull(right)
    values = pd.array(np.asarray(left == right, dtype=bool) & known, dtype=BOOL)
    values[~known] = pd.NA
    return values


def _same_day(left: npt.NDArray[np.datetime64], right: npt.NDArray[np.datetime64]) -> Any:
    known = ~np.isnat(left) & ~np.isnat(right)
    values = pd.array(left == right, dtype=BOOL)
    values[~known] = pd.NA
    return values


def _valid(values: _Values, name: str) -> Column:
    return Column(name, spread([r.valid for r in values.results], values.codes, BOOL))


def _ric_columns(table: _Table) -> list[Column]:
    number, sex = ("id", "gender") if table.kind == "idcard" else ("id_num", "sex")
    as_of = table.as_of
    ric = table.values(number, lambda text: _ric.ric_result(text, as_of))
    card_sex = table.values(sex, _ric.normalise_sex)
    columns = [
        _valid(ric, "check_id_valid"),
        ric.column("check_id_format", "format_ok", BOOL, detail="problem"),
        ric.column("check_id_checksum", "checksum_ok", BOOL),
        ric.column("check_id_birth_date", "birth_date", DATE),
        ric.column("check_id_birth_date_valid", "birth_date_ok", BOOL),
        ric.column("check_id_age", "age", INT),
        ric.column("check_id_sex", "sex", STR),
        Column(
            "check_id_sex_match",
            _equal(ric.objects("sex"), spread_objects(card_sex.results, card_sex.codes)),
        ),
        ric.column("check_id_region_known", "region_known", BOOL),
        ric.column("check_id_province", "province", STR),
    ]
    if table.kind == "drivinglicense":
        nat = np.datetime64("NaT")
        births = [np.datetime64(d, "D") if d else nat for d in ric.attr("birth_date")]
        from_id = np.array([*births, nat], dtype="datetime64[D]")[ric.codes]
        printed = date_array(table.df, "birth_date")
        columns.append(Column("check_id_birth_date_match", _same_day(from_id, printed)))
    return columns


def _card_columns(table: _Table) -> list[Column]:
    card = table.values("number", _bank.card_result)
    return [
        _valid(card, "check_card_valid"),
        card.column("check_card_format", "format_ok", BOOL),
        card.column("check_card_length", "length_ok", BOOL),
        card.column("check_card_luhn", "luhn_ok", BOOL),
        card.column("check_card_bank", "bank", STR),
    ]


def _reg_num_columns(table: _Table) -> list[Column]:
    reg = table.values("reg_num", _uscc.reg_num_result)
    return [
        reg.column("check_reg_num_type", "type", STR),
        reg.column("check_uscc_valid", "uscc_valid", BOOL, detail="problem"),
    ]


def _vin_columns(table: _Table) -> list[Column]:
    vin = table.values("vin", _vehicle.vin_result)
    return [
        _valid(vin, "check_vin_valid"),
        vin.column("check_vin_format", "format_ok", BOOL, detail="problem"),
        vin.column("check_vin_checksum", "checksum_ok", BOOL),
    ]


def _plate_columns(table: _Table, column: str) -> list[Column]:
    plate = table.values(column, _vehicle.plate_result)
    return [
        plate.column("check_plate_valid", "valid", BOOL),
        plate.column("check_plate_type", "type", STR),
    ]


def _kind_columns(table: _Table) -> list[Column]:
    kind, df, ok = table.kind, table.df, table.ok
    if kind in ("idcard", "drivinglicense"):
        columns = _ric_columns(table)
    elif kind == "bankcard":
        columns = _card_columns(table)
    elif kind == "bizlicense":
        columns = _reg_num_columns(table)
    elif kind == "driving":
        columns = [*_vin_columns(table), *_plate_columns(table, "plate_num")]
    elif kind == "platenum":
        columns = _plate_columns(table, "number")
    else:  # comm, menu: nothing of their own to check
        columns = []
    if kind in _dates.EXPIRY:
        columns.append(_dates.not_expired(df, kind, ok, table.as_of))
    if kind in _dates.ORDER:
        columns.append(_dates.dates_ordered(df, kind, ok))
    return columns


class Verdict:
    """``check_passed`` and ``check_problems`` of ``n`` rows, from boolean check columns
    added in output order (a failing row's problems are listed in that order)."""

    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self.checked = np.zeros(n, dtype=bool)
        self.problems = np.full(n, None, dtype=object)

    @classmethod
    def resume(cls, passed: Sequence[bool | None], problems: Sequence[str | None]) -> Verdict:
        """The verdict of earlier columns, from the ``check_passed`` / ``check_problems``
        they gave."""
        verdict = cls(len(passed))
        verdict.failed = np.array([p is False for p in passed], dtype=bool)
        verdict.checked = np.array([p is not None for p in passed], dtype=bool)
        verdict.problems = np.array([*problems, None], dtype=object)[: len(passed)]
        return verdict

    def add(self, columns: Sequence[Column]) -> Verdict:
        """Take the boolean ``columns`` into account (the others are skipped)."""
        problems = self.problems
        for column in columns:
            if column.values.dtype != BOOL:
                continue
            na = np.asarray(column.values.isna(), dtype=bool)
            values = column.values.to_numpy(dtype=bool, na_value=True)
            fails = ~na & ~np.asarray(values, dtype=bool)
            self.failed |= fails
            self.checked |= ~na
            info = CHECKS[column.name]
            rows = np.flatnonzero(fails)
            if info.composite or not len(rows):
                continue
            reasons = np.full(len(rows), info.problem, dtype=object)
            if column.detail is not None:
                detail = column.detail[rows]
                reasons = np.where(pd.isnull(detail), reasons, detail)
            before = problems[rows]
            later = ~pd.isnull(before)
            reasons[later] = before[later] + "; " + reasons[later]
            problems[rows] = reasons
        return self

    def columns(self) -> list[Column]:
        passed_all = pd.array(~self.failed, dtype=BOOL)
        passed_all[~self.checked] = pd.NA
        return [
            Column("check_passed", passed_all),
            Column("check_problems", pd.array(self.problems, dtype=STR)),
        ]


def row_columns(
    df: pd.DataFrame, kind: str, as_of: date, keys: _duplicates.DuplicateKeys | None = None
) -> list[Column]:
    """The check columns of ``kind`` that judge each row alone (all but the duplicate
    columns), in output order; ``keys``, if given, takes the rows' duplicate keys."""
    table = _Table(df, check_kind(kind), as_of)
    columns = _kind_columns(table)
    if keys is not None:
        number = _duplicates.NUMBER_COLUMNS.get(table.kind)
        keys.add(df, table.ok, table.encoded(number) if number else None)
    return columns


def check_columns(df: pd.DataFrame, kind: str, as_of: date) -> list[Column]:
    """Every check column of ``kind`` for ``df`` (in output order)."""
    keys = _duplicates.DuplicateKeys(check_kind(kind))
    columns = [*row_columns(df, kind, as_of, keys), *keys.columns()]
    return [*columns, *Verdict(len(df)).add(columns).columns()]
