"""Arrow tables → pandas frames with nullable dtypes; ``explode`` of list columns."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames.kinds import ESCALATED_BECAUSE, KINDS, spec

__all__ = ["explode", "pandas_dtype", "to_pandas"]

_MASKED_DTYPES: Final[dict[pa.DataType, Any]] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.float32(): pd.Float32Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def pandas_dtype(arrow_type: pa.DataType) -> Any:
    """The pandas dtype of an Arrow type (None: let pyarrow decide)."""
    masked = _MASKED_DTYPES.get(arrow_type)
    if masked is not None:
        return masked
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if (
        pa.types.is_date(arrow_type)
        or pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
        or pa.types.is_struct(arrow_type)
    ):
        return pd.ArrowDtype(arrow_type)
    return None


def to_pandas(table: pa.Table, index: pd.Index | None = None) -> pd.DataFrame:
    """``table`` as a DataFrame with nullable dtypes (the same on pandas 2.2 and 3.x).

    int → ``Int64``/``Int32``, float → ``Float64``, bool → ``boolean``, string →
    ``pd.StringDtype("pyarrow")``, date32 and lists → ``pd.ArrowDtype`` (dates stay
    ``datetime.date``), but ``escalated_because``: Python lists of text (object), so a
    frame round-trips through plain ``to_parquet``/``pd.read_parquet``.  ``index``, if
    given, becomes the frame's index (same length).
    """
    frame: pd.DataFrame = table.to_pandas(types_mapper=pandas_dtype)
    if index is not None:
        if len(index) != len(frame):
            raise ValueError(f"index has {len(index)} entries, the table {len(frame)} rows")
        frame.index = index
    if ESCALATED_BECAUSE in frame.columns:
        # plain Python lists: pandas cannot read back the ArrowDtype ``list<string>`` it
        # names in a file's metadata, and every kind has this column (df.to_parquet)
        values = table.column(ESCALATED_BECAUSE).to_pylist()
        frame[ESCALATED_BECAUSE] = pd.Series(values, index=frame.index, dtype=object)
    return frame


# --- explode -------------------------------------------------------------------------

_LIST_TYPES: Final = {
    s.list_field: pa.list_(s.list_item)
    for s in map(spec, KINDS)
    if s.list_field and s.list_item is not None
}


def _is_list_type(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
    )


def _object_lists(values: Iterable[object], column: str) -> list[list[Any] | None]:
    out: list[list[Any] | None] = []
    for value in values:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        elif isinstance(value, np.ndarray):
            out.append(value.tolist())
        elif isinstance(value, (list, tuple)):
            out.append(list(value))
        else:
            raise ValueError(
                f"explode: column {column!r} is not a list column "
                f"(found a {type(value).__name__} value)"
            )
    return out


def _list_values(series: pd.Series[Any], column: str) -> pa.Array:
    """The column as an Arrow list array (ArrowDtype lists or object lists of dicts)."""
    if isinstance(series.dtype, pd.ArrowDtype):
        array = pa.array(series.array)
    elif series.dtype == object:
        lists = _object_lists(series.to_numpy(dtype=object), column)
        known = _LIST_TYPES.get(column)
        try:
            array = pa.array(lists, type=known) if known is not None else pa.array(lists)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = pa.array(lists)  # an unexpected item shape: let Arrow infer it
    else:
        raise ValueError(f"explode: column {column!r} is not a list column ({series.dtype})")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not _is_list_type(array.type):
        raise ValueError(f"explode: column {column!r} is not a list column ({array.type})")
    return array


def _item_table(items: pa.Array, positions: pa.Array, column: str) -> pa.Table:
    names = [f"{column}_index"]
    arrays = [positions]
    if pa.types.is_struct(items.type):
        names += [f"{column}_{field.name}" for field in items.type]
        arrays += items.flatten()
    else:
        names.append(column)
        arrays.append(items)
    return pa.Table.from_arrays(arrays, names=names)


def _spread(lists: pa.Array) -> tuple[np.ndarray[Any, Any], pa.Array, pa.Array]:
    """``(source row per output row, item per output row, position in its list)``.

    A row whose list is empty or null yields one output row with a null item and a null
    position; the items of the other rows come in order from ``list_flatten``.
    """
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    repeats = np.maximum(lengths, 1)
    rows = np.repeat(np.arange(len(lists)), repeats)
    has_item = np.repeat(lengths > 0, repeats)
    starts = np.cumsum(repeats) - repeats
    in_list = np.arange(len(rows)) - np.repeat(starts, repeats)
    flat_index = np.zeros(len(rows), dtype=np.int64)
    flat_index[has_item] = np.arange(int(has_item.sum()))
    missing = ~has_item
    items = pc.list_flatten(lists).take(pa.array(flat_index, type=pa.int64(), mask=missing))
    return rows, items, pa.array(in_list, type=pa.int64(), mask=missing)


def explode(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per item of the list column ``column``, its struct fields as flat columns.

    The struct fields become ``<column>_<field>`` columns (typed like :func:`to_pandas`:
    ``items_text`` string, ``items_pos_left_top_x`` Int32, ``menu_items_price`` Float64),
    placed where ``column`` was, after ``<column>_index`` (Int64, position in the list).
    A list of plain values gives one column named ``column``.  The other columns and the
    index are repeated, as with :meth:`pandas.DataFrame.explode`.

    A row whose list is **empty or null is kept** as one row whose item columns (and
    ``<column>_index``) are null, so no document disappears from the result.

    Works on frames from :func:`to_pandas` (``pd.ArrowDtype`` lists) and on frames read
    back from Parquet (object columns of lists / arrays of dicts).  Raises ValueError if
    ``column`` is missing, duplicated or not a list column.
    """
    if column not in df.columns:
        raise ValueError(f"explode: no column {column!r} in the DataFrame")
    if list(df.columns).count(column) > 1:
        raise ValueError(f"explode: column {column!r} appears more than once")
    lists = _list_values(df[column], column)
    rows, items, positions = _spread(lists)
    item_frame: pd.DataFrame = _item_table(items, positions, column).to_pandas(
        types_mapper=pandas_dtype
    )
    others = df.drop(columns=[column])
    clash = sorted(set(item_frame.columns) & set(others.columns))
    if clash:
        raise ValueError(f"explode: columns {clash} already exist in the DataFrame")
    at = df.columns.get_loc(column)
    assert isinstance(at, int)
    repeated = others.take(rows)
    new_index = repeated.index
    range_index = pd.RangeIndex(len(rows))
    parts = [
        repeated.iloc[:, :at].set_axis(range_index, axis=0),
        item_frame.set_axis(range_index, axis=0),
        repeated.iloc[:, at:].set_axis(range_index, axis=0),
    ]
    result: pd.DataFrame = pd.concat(parts, axis=1)
    result.index = new_index
    return result
