"""Answers → one typed Arrow table per kind; Arrow → pandas; ``explode`` of list columns.

:func:`to_arrow` is the only place where the platform's nested answers are flattened.
The answers come from an untrusted server, so flattening is *total*: a value of the
wrong type never raises, it becomes null (or, for string fields, the ``str`` of a
number).  The rules, per target type (for JSON values; ``bytes`` count as UTF-8 text):

* string: ``str`` as is (lone surrogates replaced by U+FFFD); ``int``/``float`` → their
  ``str``; anything else (dict, list, bool) → null.
* int32 / int64: ``int``; a ``float`` with an integral value (``119.0``); a string of an
  integer (``" 42 "``, ``"42.0"``).  Anything else, or out of range → null.
* float64 (menu ``price``): ``int``/``float``; numeric strings (``"48"``, ``"48.0"``,
  ``"¥48"``, ``"48元"``).  Non-finite values and anything else → null.
* ``cached``: a ``bool``; missing or null → False; anything else → null.
* a list field that is not a list → null; list items that are not dicts are skipped.
* date fields → ``date32`` + ``<field>_raw`` (the original string, only where a non-empty
  value did not parse); see :mod:`ocr_frames._tables.dates` for the accepted forms.

How it is fast:

* The text fields and ``cached`` of all answers go through one ``pa.array(answers,
  type=struct<...>)`` call: Arrow reads the dicts in C++.  Arrow's string and bool
  conversions refuse anything else, so a batch with one odd value simply falls back to
  reading in Python and coercing only the offending columns.
* Everything nested (positions, ``img_size``) is read in one Python pass over the
  answers, while each dict is still hot in the CPU cache, into one flat list that Arrow
  converts at once and splits with ``take``.
* Numbers are converted with Arrow's type *inference*: ``int64`` comes out only when
  every value was an int.  (``pa.array(type=int32)`` would silently truncate ``1.5``.)
* Dates are parsed once per distinct string (``dictionary_encode``), with a vectorised
  cast when every distinct string is ``YYYY-MM-DD``.
* The cyclic garbage collector is paused meanwhile: the many short-lived containers
  would otherwise trigger collections that walk every live answer, for nothing.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, chain, repeat
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._tables import dates as _dates
from ocr_frames.kinds import CORNERS, EXTRA_COLUMN, KINDS, STATUS_COLUMNS, KindSpec, schema, spec

__all__ = ["explode", "to_arrow", "to_pandas"]

_INT32_RANGE: Final = (-(2**31), 2**31 - 1)
_INT64_RANGE: Final = (-(2**63), 2**63 - 1)
#: What ``pa.array`` raises when it refuses a value (UnicodeEncodeError is a ValueError).
_NOT_CONVERTIBLE: Final = (pa.ArrowException, OverflowError, TypeError, ValueError)

_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_PRICE_TEXT: Final = re.compile(r"(?:[¥￥$]|RMB)?\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*元?")
_MAX_NUMBER_TEXT: Final = 64

_NO_QUAD: Final[tuple[Any, ...]] = (None,) * 8
#: 0001-01-01 in days since 1970-01-01: the first day Python's ``date`` can hold.
_FIRST_DAY: Final = date(1, 1, 1).toordinal() - date(1970, 1, 1).toordinal()
#: Flat names of the 8 coordinates of ``{"pos": {corner: {"x", "y"}}}``, in schema order.
_QUAD_SUFFIXES: Final = tuple(f"pos_{corner}_{axis}" for corner in CORNERS for axis in "xy")


# --- per-value coercion (the slow, total path) ---------------------------------------


def _as_str(value: object) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, e.g. from a JSON "\ud800" escape
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # int too large for str() (sys.int_info.str_digits_check_threshold)
            return None
    if isinstance(value, (bytes, bytearray, memoryview)):  # as pa.array does
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _as_int(value: object, bounds: tuple[int, int]) -> int | None:
    number: int
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():  # also False for nan and inf
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_NUMBER_TEXT or not _INT_TEXT.fullmatch(text):
            return None
        number = int(text.partition(".")[0])
    else:
        return None
    return number if bounds[0] <= number <= bounds[1] else None


def _as_price(value: object) -> float | None:
    number: float
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        text = value.strip()
        match = _PRICE_TEXT.fullmatch(text) if len(text) <= _MAX_NUMBER_TEXT else None
        if match is None:
            return None
        number = float(match.group(1))
    else:
        return None
    return number if math.isfinite(number) else None


def _as_cached(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    return False if value is None else None


def _child(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


# --- leaves: a fast conversion when Arrow's own checks allow it, else per-value coercion


class _Leaf(NamedTuple):
    """How to build one column: ``fast`` returns None when some value needs coercion."""

    fast: Callable[[Sequence[object]], pa.Array | None]
    slow: Callable[[Sequence[object]], pa.Array]


def _infer(values: Sequence[object]) -> pa.Array | None:
    """``pa.array(values)`` with type inference, or None if Arrow refuses the mix."""
    try:
        return pa.array(values)
    except _NOT_CONVERTIBLE:
        return None


def _fast_text(values: Sequence[object]) -> pa.Array | None:
    try:
        return pa.array(values, type=pa.string())
    except _NOT_CONVERTIBLE:  # a non-text value, or text with lone surrogates
        return None


def _fast_int(values: Sequence[object], arrow_type: pa.DataType) -> pa.Array | None:
    # Inference, not pa.array(type=int32): that one silently truncates 1.5 to 1.  Inferred
    # int64 means every value was an int (a bool or a str in the mix makes Arrow refuse).
    inferred = _infer(values)
    if inferred is None or inferred.type not in (pa.int64(), pa.null()):
        return None
    try:
        return inferred.cast(arrow_type)
    except pa.ArrowInvalid:  # out of range
        return None


def _fast_price(values: Sequence[object]) -> pa.Array | None:
    inferred = _infer(values)
    if inferred is None or inferred.type not in (pa.float64(), pa.int64(), pa.null()):
        return None
    try:
        array = inferred.cast(pa.float64())
    except pa.ArrowInvalid:  # an int beyond 2**53
        return None
    return array if pc.all(pc.is_finite(array)).as_py() is not False else None


def _fast_cached(values: Sequence[object]) -> pa.Array | None:
    inferred = _infer(values)
    if inferred is None or inferred.type not in (pa.bool_(), pa.null()):
        return None
    return pc.fill_null(inferred.cast(pa.bool_()), False)


_TEXT: Final = _Leaf(_fast_text, lambda vs: pa.array([_as_str(v) for v in vs], pa.string()))
_INT32: Final = _Leaf(
    lambda vs: _fast_int(vs, pa.int32()),
    lambda vs: pa.array([_as_int(v, _INT32_RANGE) for v in vs], pa.int32()),
)
_INT64: Final = _Leaf(
    lambda vs: _fast_int(vs, pa.int64()),
    lambda vs: pa.array([_as_int(v, _INT64_RANGE) for v in vs], pa.int64()),
)
_PRICE: Final = _Leaf(_fast_price, lambda vs: pa.array([_as_price(v) for v in vs], pa.float64()))
_CACHED: Final = _Leaf(_fast_cached, lambda vs: pa.array([_as_cached(v) for v in vs], pa.bool_()))


def _build(values: Sequence[object], leaf: _Leaf) -> pa.Array:
    array = leaf.fast(values)
    return array if array is not None else leaf.slow(values)


def _columns(flat: list[Any], width: int, leaf: _Leaf) -> list[pa.Array]:
    """``width`` columns from ``flat``, rows of ``width`` values laid out row after row.

    One conversion of the whole list when every value takes the fast path; otherwise
    column by column, so that one odd value slows down only its own column.
    """
    if width == 0:
        return []
    whole = leaf.fast(flat)
    if whole is not None:
        return [whole.take(np.arange(i, len(flat), width)) for i in range(width)]
    return [_build(flat[i::width], leaf) for i in range(width)]


# --- nested objects ------------------------------------------------------------------


def _quad(value: Any) -> tuple[Any, ...]:
    """The 8 raw coordinates of ``{"pos": {corner: {"x", "y"}}}`` (None where absent)."""
    if value is None:
        return _NO_QUAD
    try:
        pos = value["pos"]
        a, b, c, d = pos["left_top"], pos["right_top"], pos["right_bottom"], pos["left_bottom"]
        return (a["x"], a["y"], b["x"], b["y"], c["x"], c["y"], d["x"], d["y"])
    except (LookupError, TypeError):
        pos = _child(value, "pos")
        corners = [_child(pos, corner) for corner in CORNERS]
        return tuple(_child(corner, axis) for corner in corners for axis in "xy")


def _size(value: Any) -> tuple[Any, Any]:
    if value is None:
        return None, None
    try:
        return value["w"], value["h"]
    except (LookupError, TypeError):
        return _child(value, "w"), _child(value, "h")


# --- dates ---------------------------------------------------------------------------


def _date_arrays(texts: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``(date32, raw)`` of a string column: each distinct string is parsed once."""
    encoded = pc.dictionary_encode(texts)
    days = _iso_days(encoded.dictionary)
    if days is not None:  # every distinct value is a valid YYYY-MM-DD: nothing failed
        return days.take(encoded.indices).cast(pa.date32()), pa.nulls(len(texts), pa.string())
    distinct = encoded.dictionary.to_pylist()
    parsed = [_dates.parse_days(text) for text in distinct]
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
    subset of what :func:`ocr_frames._tables.dates.parse_days` accepts, with the same result;
    except year 0, which Python's ``date`` (and so the slow path) refuses.
    """
    try:
        days = distinct.cast(pa.date32()).cast(pa.int32())
    except pa.ArrowInvalid:
        return None
    low = pc.min(days).as_py()
    return days if low is None or low >= _FIRST_DAY else None


def _validity_arrays(texts: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``(start, end, long_term)`` of a column of idcard validity periods."""
    encoded = pc.dictionary_encode(texts)
    parts = _usual_validity(encoded.dictionary)
    if parts is None:
        rows = [_dates.split_validity(text) for text in encoded.dictionary.to_pylist()]
        start, end, long_term = zip(*rows, strict=True) if rows else ((), (), ())
        parts = (
            pa.array(start, type=pa.int32()),
            pa.array(end, type=pa.int32()),
            pa.array(long_term, type=pa.bool_()),
        )
    start, end, long_term = (part.take(encoded.indices) for part in parts)
    return start.cast(pa.date32()), end.cast(pa.date32()), long_term


def _usual_validity(distinct: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array] | None:
    """Vectorised :func:`ocr_frames._tables.dates.split_validity` when every distinct value has
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


# --- list fields ---------------------------------------------------------------------

_ITEM_LEAVES: Final = {pa.string(): _TEXT, pa.int32(): _INT32, pa.float64(): _PRICE}


def _list_array(values: Sequence[object], list_type: pa.ListType) -> pa.Array:
    """A ``list<struct>`` column: a non-list value → null, items that are not dicts skipped."""
    is_list = [type(v) is list for v in values]
    lists: list[Any] = [v if ok else () for v, ok in zip(values, is_list, strict=True)]
    items = list(chain.from_iterable(lists))
    if not set(map(type, items)) <= {dict}:
        lists = [[x for x in v if isinstance(x, dict)] for v in lists]
        items = list(chain.from_iterable(lists))
    offsets = pa.array([0, *accumulate(map(len, lists))], type=pa.int32())
    item_type: pa.StructType = list_type.value_type
    names = [field.name for field in item_type]
    children: dict[str, pa.Array] = {}
    if all(suffix in names for suffix in _QUAD_SUFFIXES):
        quads = list(chain.from_iterable(map(_quad, items)))
        children.update(zip(_QUAD_SUFFIXES, _columns(quads, 8, _INT32), strict=True))
    for field in item_type:
        if field.name not in children:
            column = list(map(dict.get, items, repeat(field.name)))
            children[field.name] = _build(column, _ITEM_LEAVES[field.type])
    struct = pa.StructArray.from_arrays([children[n] for n in names], fields=list(item_type))
    is_null = pc.invert(pa.array(is_list, type=pa.bool_()))
    return pa.ListArray.from_arrays(offsets, struct, type=list_type, mask=is_null)


# --- to_arrow ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Which keys of a kind's answers are read, grouped by how they are converted."""

    texts: tuple[str, ...]  # strings, dates, errmsg, rid, sha256
    others: tuple[str, ...]  # the list field (if any), page, errcode
    positions: tuple[str, ...]  # objects {"pos": ...}: 8 ints each
    img_size: bool  # {"w", "h"}: 2 ints
    int_names: tuple[str, ...]  # the columns of those ints, in reading order
    #: texts and ``cached`` as one struct: converted by Arrow in one C++ pass
    flat_type: pa.StructType
    #: every key some column reads; the others of an ok answer go to ``extra``
    known: frozenset[str]

    @classmethod
    def of(cls, kind_spec: KindSpec) -> _Plan:
        texts = (*kind_spec.strings, *kind_spec.dates, "errmsg", "rid", "sha256")
        others = (*([kind_spec.list_field] if kind_spec.list_field else []), "page", "errcode")
        int_names = [f"{key}_{suffix}" for key in kind_spec.positions for suffix in _QUAD_SUFFIXES]
        int_names += ["img_size_w", "img_size_h"] if kind_spec.img_size else []
        flat_type = pa.struct([*((key, pa.string()) for key in texts), ("cached", pa.bool_())])
        known = frozenset((*texts, *others, *kind_spec.positions, *STATUS_COLUMNS, "img_size"))
        return cls(
            texts,
            others,
            kind_spec.positions,
            kind_spec.img_size,
            tuple(int_names),
            flat_type,
            known,
        )

    def unknown_keys(self, answers: Sequence[dict[str, Any]]) -> pa.Array:
        """The ``extra`` column: unknown keys of each ok answer as JSON text, else null."""
        known = self.known
        if known.issuperset(chain.from_iterable(answers)):  # the usual case: one C-level pass
            return pa.nulls(len(answers), pa.string())
        out: list[str | None] = [None] * len(answers)
        for i, answer in enumerate(answers):
            if known.issuperset(answer) or answer.get("errcode", 0) not in (0, "0", None):
                continue
            unknown = {k: answer[k] for k in sorted(answer.keys() - known, key=str)}
            try:
                out[i] = json.dumps(unknown, ensure_ascii=False, default=str, allow_nan=False)
            except ValueError:  # NaN/inf are not JSON: keep them as text
                out[i] = json.dumps({k: str(v) for k, v in unknown.items()}, ensure_ascii=False)
        return pa.array(out, type=pa.string())

    def read_flat(self, answers: Sequence[dict[str, Any]]) -> dict[str, pa.Array] | None:
        """The text columns and ``cached``, or None if a value is not of its type.

        ``pa.array(type=struct)`` reads every answer in C++: faster than any Python loop.
        Its string and bool conversions refuse exactly what the fast paths refuse.
        """
        try:
            struct = pa.array(answers, type=self.flat_type)
        except _NOT_CONVERTIBLE:
            return None
        arrays = dict(zip((*self.texts, "cached"), struct.flatten(), strict=True))
        arrays["cached"] = pc.fill_null(arrays["cached"], False)
        return arrays

    def read(
        self, answers: Sequence[dict[str, Any]], keys: tuple[str, ...]
    ) -> tuple[dict[str, list[Any]], list[Any]]:
        """One Python pass over the answers: ``({key: values}, ints)``.

        ``ints`` holds the raw values of :attr:`int_names` for each answer in turn.
        """
        positions, img_size = self.positions, self.img_size
        if not positions and not img_size:  # nothing nested: one C-level pass per key
            return {key: list(map(dict.get, answers, repeat(key))) for key in keys}, []
        flat: list[Any] = []
        ints: list[Any] = []
        add, add_ints = flat.extend, ints.extend
        for answer in answers:
            get = answer.get
            add(map(get, keys))
            for key in positions:
                add_ints(_quad(get(key)))
            if img_size:
                add_ints(_size(get("img_size")))
        width = len(keys)
        return {key: flat[i::width] for i, key in enumerate(keys)}, ints


_PLANS: Final = {kind: _Plan.of(spec(kind)) for kind in KINDS}


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _as_dicts(answers: Sequence[object]) -> Sequence[dict[str, Any]]:
    if set(map(type, answers)) <= {dict}:
        return answers  # type: ignore[return-value]  # checked just above
    return [a if type(a) is dict else dict(a) if isinstance(a, Mapping) else {} for a in answers]


def to_arrow(kind: str, answers: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Flatten ``answers`` of ``kind`` into a table whose schema is exactly ``schema(kind)``.

    Never raises for a value of the wrong type (see the module docstring for the rules);
    an answer that is not a mapping counts as an empty one.  Raises
    :class:`~ocr_frames.ConfigurationError` for an unknown ``kind``.
    """
    kind_spec, target, plan = spec(kind), schema(kind), _PLANS[kind]
    with _gc_paused():
        dicts = _as_dicts(answers)
        arrays = plan.read_flat(dicts)
        if arrays is None:  # some odd value: coerce column by column
            raw, ints = plan.read(dicts, (*plan.texts, "cached", *plan.others))
            arrays = {key: _build(raw[key], _TEXT) for key in plan.texts}
            arrays["cached"] = _build(raw["cached"], _CACHED)
        else:
            raw, ints = plan.read(dicts, plan.others)
        arrays["errcode"] = _build(raw["errcode"], _INT64)
        arrays["page"] = _build(raw["page"], _INT32)  # documents: the page of each row
        arrays[EXTRA_COLUMN] = plan.unknown_keys(dicts)
        arrays.update(zip(plan.int_names, _columns(ints, len(plan.int_names), _INT32), strict=True))
        if kind_spec.list_field:
            list_type = target.field(kind_spec.list_field).type
            arrays[kind_spec.list_field] = _list_array(raw[kind_spec.list_field], list_type)
        for name in kind_spec.dates:
            arrays[name], arrays[f"{name}_raw"] = _date_arrays(arrays[name])
        if kind_spec.validity_field:
            name = kind_spec.validity_field
            start, end, long_term = _validity_arrays(arrays[name])
            arrays.update(
                {f"{name}_start": start, f"{name}_end": end, f"{name}_long_term": long_term}
            )
        return pa.Table.from_arrays([arrays[name] for name in target.names], schema=target)


# --- pandas --------------------------------------------------------------------------

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


def _pandas_dtype(arrow_type: pa.DataType) -> Any:
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
    ``datetime.date``).  ``index``, if given, becomes the frame's index (same length).
    """
    frame: pd.DataFrame = table.to_pandas(types_mapper=_pandas_dtype)
    if index is not None:
        if len(index) != len(frame):
            raise ValueError(f"index has {len(index)} entries, the table {len(frame)} rows")
        frame.index = index
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
        types_mapper=_pandas_dtype
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
