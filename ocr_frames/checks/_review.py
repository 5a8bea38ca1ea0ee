"""One flag per row: ``needs_review`` and the ``review_reasons`` behind it.

:func:`review_table` appends, as the last two columns of an Arrow table of any kind,

* ``needs_review`` (bool, never null): the row has at least one reason;
* ``review_reasons`` (``list<string>``, empty when none): short texts, in this order:

  1. ``errcode <n>`` when the row's ``errcode`` is not 0;
  2. the name of each failing ``check_*`` column (False; null means "could not be judged"
     and is no reason), in the table's column order; the composite columns
     (``check_passed``, ``check_id_valid``, ...) sum up the others and are left out;
  3. the name of each ``warn_*`` column that is True (the image-quality warnings);
  4. ``low confidence: <field>`` for each ``<field>_conf`` column below ``threshold``
     (null: no confidence given, no reason), and for each list column whose items carry a
     ``conf`` one of which is below it;
  5. ``suggestion: <field>`` for each ``<field>_suggested`` column that is not null.

The columns are found by name, so any table works: one with or without checks, quality
columns or confidences, masked or not.  A reason names a column, never a value, so masking
hides nothing it needs and it leaks nothing.  Columns already named ``needs_review`` /
``review_reasons`` are replaced.  The work is vectorised: one boolean mask per candidate
reason, then one pass of numpy over the (rows x reasons) matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames.checks._catalogue import CHECKS
from ocr_frames.kinds import CONF_SUFFIX, KINDS, SUGGESTED_SUFFIX, spec

__all__ = [
    "DEFAULT_REVIEW_THRESHOLD",
    "REVIEW_COLUMNS",
    "add_review",
    "reason_counts",
    "review_reasons",
    "review_table",
]

#: A field whose ``<field>_conf`` is below this needs a human look.
DEFAULT_REVIEW_THRESHOLD: Final = 0.9
#: The two columns :func:`review_table` appends, in order.
REVIEW_COLUMNS: Final = ("needs_review", "review_reasons")
REASONS_TYPE: Final = pa.list_(pa.string())

_LIST_FIELDS: Final = frozenset(spec(k).list_field for k in KINDS) - {None}

Data = TypeVar("Data", pa.Table, pd.DataFrame)


def _failing_check(name: str) -> bool:
    info = CHECKS.get(name)
    return info is not None and bool(info.problem) and not info.composite


def _boolean(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column if pa.types.is_boolean(column.type) else column.cast(pa.bool_())


def _flags(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where ``column`` (bool, or castable to it) is True; null counts as False."""
    filled = pc.fill_null(_boolean(column), False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _below(column: pa.ChunkedArray | pa.Array, threshold: float) -> np.ndarray:
    return _flags(pc.less(column, pa.scalar(threshold, column.type)))


def _list_below(column: pa.ChunkedArray, threshold: float) -> np.ndarray:
    """Rows of a ``list<struct<..., conf>>`` column with an item's ``conf`` below ``threshold``."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    out = np.zeros(len(array), dtype=bool)
    items = pc.list_flatten(array)
    if len(items):
        low = _below(pc.struct_field(items, "conf"), threshold)
        parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        out[parents[low]] = True
    return out


def _has_conf(dtype: pa.DataType) -> bool:
    if not (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)):
        return False
    item = dtype.value_type
    return bool(pa.types.is_struct(item) and item.get_field_index("conf") >= 0)


def _candidates(table: pa.Table, threshold: float) -> Iterator[tuple[str, np.ndarray]]:
    """(reason, rows it applies to) for every fixed-text reason, in the documented order."""
    names = [n for n in table.column_names if n not in REVIEW_COLUMNS]
    for name in names:
        if name.startswith("check_") and _failing_check(name):
            yield name, _flags(pc.invert(_boolean(table[name])))
    for name in names:
        if name.startswith("warn_"):
            yield name, _flags(table[name])
    for name in names:
        column = table[name]
        if name.endswith(CONF_SUFFIX) and pa.types.is_floating(column.type):
            yield f"low confidence: {name[: -len(CONF_SUFFIX)]}", _below(column, threshold)
        elif _has_conf(column.type):
            yield f"low confidence: {name}", _list_below(column, threshold)
    for name in names:
        if name.endswith(SUGGESTED_SUFFIX):
            yield f"suggestion: {name[: -len(SUGGESTED_SUFFIX)]}", _flags(pc.is_valid(table[name]))


def review_reasons(table: pa.Table, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> pa.Array:
    """The ``review_reasons`` of each row of ``table`` (``list<string>``; see the module
    docstring)."""
    rows = table.num_rows
    names: list[str] = []
    masks: list[np.ndarray] = []
    if has_errcode := "errcode" in table.column_names:
        names.append("")  # "errcode <n>": the text is the row's own (below)
        masks.append(_flags(pc.not_equal(table["errcode"], 0)))
    for reason, mask in _candidates(table, threshold):
        names.append(reason)
        masks.append(mask)
    if not masks:
        return pa.array([[] for _ in range(rows)], type=REASONS_TYPE)
    # rows x reasons: nonzero() walks it row by row, each row's reasons in order
    row_of, reason_of = np.nonzero(np.column_stack(masks))
    values = np.array(names, dtype=object)[reason_of]
    if has_errcode and len(row_of):
        errors = row_of[reason_of == 0]
        codes = table["errcode"].take(pa.array(errors, type=pa.int64())).to_pylist()
        values[reason_of == 0] = [f"errcode {code}" for code in codes]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=rows))])
    return pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()), pa.array(values, type=pa.string())
    )


def review_table(table: pa.Table, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> pa.Table:
    """``table`` with ``needs_review`` and ``review_reasons`` as its last two columns."""
    table = table.drop_columns([n for n in REVIEW_COLUMNS if n in table.column_names])
    reasons = review_reasons(table, threshold)
    flag = pc.greater(pc.list_value_length(reasons), 0)
    return table.append_column("needs_review", flag).append_column("review_reasons", reasons)


def _relevant(df: pd.DataFrame) -> list[str]:
    """The columns of ``df`` that :func:`review_reasons` may read."""
    return [
        c
        for c in df.columns
        if isinstance(c, str)
        and (
            c == "errcode"
            or c.startswith(("check_", "warn_"))
            or c.endswith((CONF_SUFFIX, SUGGESTED_SUFFIX))
            or isinstance(df[c].dtype, pd.ArrowDtype)  # list columns with a conf member
            or c in _LIST_FIELDS  # the same, read back from Parquet as Python objects
        )
        and c not in REVIEW_COLUMNS
    ]


def add_review(data: Data, *, threshold: float = DEFAULT_REVIEW_THRESHOLD) -> Data:
    """``data`` (a result DataFrame or Arrow table of any kind, checked or not) with
    ``needs_review`` and ``review_reasons`` appended, or recomputed in place if present.

    A DataFrame keeps its rows, index and ``attrs``; its new columns are ``boolean`` and
    a ``list<string>`` ``ArrowDtype``.  ``threshold``: a ``<field>_conf`` below it is a
    reason (``low confidence: <field>``).  The reasons are listed in
    :mod:`ocr_frames.checks` (and ``docs/trust.md``).
    """
    if isinstance(data, pa.Table):
        reviewed: Data = review_table(data, threshold)
        return reviewed
    columns = _relevant(data)
    table = pa.Table.from_pandas(data[columns], preserve_index=False)
    reasons = review_reasons(table, threshold)
    out: Data = data.copy()
    flags = pc.greater(pc.list_value_length(reasons), 0).to_pylist()
    out["needs_review"] = pd.array(flags, dtype="boolean")
    out["review_reasons"] = pd.Series(
        pd.arrays.ArrowExtensionArray(reasons), index=data.index, copy=False
    )
    return out


def reason_counts(reasons: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Rows per reason of a ``review_reasons`` column, most frequent first (ties: by
    name).  A row counts once per reason it has."""
    flat = pc.list_flatten(reasons)
    if not len(flat):
        return {}
    counted = pc.value_counts(flat).to_pylist()
    pairs = sorted(((d["values"], d["counts"]) for d in counted), key=lambda p: (-p[1], p[0]))
    return {str(name): int(count) for name, count in pairs}
