"""Shared plumbing of the checks: dtypes, text normalisation, per-distinct-value evaluation.

Every check is a pure function of one value (an ID number, a card number...).  Tables can
hold millions of rows, so a column is *factorised* first and each distinct value is checked
once; the per-value results are then spread back over the rows with one ``take``.  Rows of
an error answer (``errcode != 0``) get the code -1, which ``take`` turns into NA.

Normalisation before any check is :func:`ocr_frames._numbers.compact.compact`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._numbers.compact import compact_array

BOOL: Final = pd.BooleanDtype()
INT: Final = pd.Int64Dtype()
STR: Final = pd.StringDtype("pyarrow")
DATE: Final = pd.ArrowDtype(pa.date32())

T = TypeVar("T")
Codes = npt.NDArray[np.intp]


def as_text(value: object) -> str | None:
    """A cell as text, or None for a missing cell (None, NA, NaN, empty after strip)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


@dataclass
class Column:
    """One check column for the rows of a table.

    ``detail``: per-row explanation used in ``check_problems`` where ``values`` is False
    (None entries fall back to the catalogue's generic text).
    """

    name: str
    values: pd.api.extensions.ExtensionArray
    detail: npt.NDArray[np.object_] | None = field(default=None)


def row_ok(df: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """True for rows whose answer is usable (``errcode == 0``; all rows without the column)."""
    if "errcode" not in df.columns:
        return np.ones(len(df), dtype=bool)
    codes = pd.to_numeric(df["errcode"], errors="coerce")
    return np.asarray(codes.eq(0).fillna(False), dtype=bool)


def arrow_text(series: pd.Series[Any]) -> pa.Array:
    """The column as an Arrow string array (non-text cells as their ``str``)."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: read them one by one
        array = None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array is None or not (
        pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_null(array.type)
    ):
        return pa.array([as_text(v) for v in series.tolist()], type=pa.string())
    return array.cast(pa.string())


def encode(
    series: pd.Series[Any], ok: npt.NDArray[np.bool_], *, normalise: bool = True
) -> tuple[Codes, list[str]]:
    """``(codes, distinct values)`` of a text column; code -1 for missing or blank cells
    and for rows that are not ``ok``.  ``normalise``: :func:`compact` the values first
    (vectorised), so that ``4401 06...`` and ``440106...`` share a code.
    """
    text = arrow_text(series)
    text = compact_array(text) if normalise else text
    keep = pc.and_(
        pa.array(ok, type=pa.bool_()), pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)
    )
    encoded = pc.if_else(keep, text, pa.scalar(None, pa.string())).dictionary_encode()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.intp)
    return codes, encoded.dictionary.to_pylist()


def evaluate(texts: Sequence[str], fn: Callable[[str], T]) -> list[T]:
    """``fn`` of each distinct text."""
    return [fn(text) for text in texts]


def spread(values: Sequence[Any], codes: Codes, dtype: Any) -> pd.api.extensions.ExtensionArray:
    """Per-distinct ``values`` as a typed array over the rows (NA where the code is -1)."""
    table = pd.array([*values, None], dtype=dtype)
    spread_out: pd.api.extensions.ExtensionArray = table.take(
        np.where(codes < 0, len(values), codes)
    )
    return spread_out


def spread_objects(values: Sequence[Any], codes: Codes) -> npt.NDArray[np.object_]:
    """Like :func:`spread` into a plain object array (for problem details)."""
    table = np.empty(len(values) + 1, dtype=object)
    table[: len(values)] = values
    return table[np.where(codes < 0, len(values), codes)]


def text_column(df: pd.DataFrame, name: str) -> pd.Series[Any]:
    """A column of the kind's schema; ValueError naming it when the frame lacks it."""
    if name not in df.columns:
        raise ValueError(f"the table has no {name!r} column (expected the kind's schema)")
    return df[name]


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):  # also pd.Timestamp; NaT is a datetime too
        return None if pd.isna(value) else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _as_date(pd.Timestamp(value))
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def date_array(df: pd.DataFrame, name: str) -> npt.NDArray[np.datetime64]:
    """A date column as ``datetime64[D]`` (NaT where missing), whatever its pandas dtype.

    Frames from :func:`ocr_frames.recognize` hold ``date32`` Arrow dates; frames read back
    from Parquet with plain pandas hold ``datetime.date`` objects; both work.
    """
    series = text_column(df, name)
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_date(dtype.pyarrow_dtype):
        chunked = series.array.__arrow_array__()
        return np.asarray(chunked.cast(pa.date32()).to_numpy(), dtype="datetime64[D]")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return np.asarray(series.to_numpy(dtype="datetime64[ns]"), dtype="datetime64[D]")
    days = [_as_date(v) for v in series.tolist()]
    return np.array([np.datetime64(d, "D") if d else np.datetime64("NaT") for d in days])


def bool_array(df: pd.DataFrame, name: str) -> npt.NDArray[np.bool_]:
    """A boolean column as numpy bool, missing → False (absent column → all False)."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    values = df[name].tolist()
    return np.array([v is True or (isinstance(v, np.bool_) and bool(v)) for v in values], bool)


def day(value: date) -> np.datetime64:
    """A ``date`` as ``datetime64[D]``."""
    return np.datetime64(value, "D")
