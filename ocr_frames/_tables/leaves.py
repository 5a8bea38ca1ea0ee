"""Columns from untrusted values: one Arrow array per field, never an exception.

The answers come from an untrusted server, so conversion is *total*: a value of the
wrong type never raises, it becomes null (or, for string fields, the ``str`` of a
number).  The rules, per target type (for JSON values; ``bytes`` count as UTF-8 text):

* string: ``str`` as is (lone surrogates replaced by U+FFFD); ``int``/``float`` → their
  ``str``; anything else (dict, list, bool) → null.
* int32 / int64: ``int``; a ``float`` with an integral value (``119.0``); a string of an
  integer (``" 42 "``, ``"42.0"``).  Anything else, or out of range → null.
* float64 (menu ``price``): ``int``/``float``; numeric strings (``"48"``, ``"48.0"``,
  ``"¥48"``, ``"48元"``).  Non-finite values and anything else → null.
* ``cached``: a ``bool``; missing or null → False; anything else → null.

Each :class:`Leaf` pairs a fast conversion (Arrow's own, which refuses anything odd) with
the per-value coercion above; :func:`build` tries the first and falls back to the second.
Numbers are converted with Arrow's type *inference*: ``int64`` comes out only when every
value was an int.  (``pa.array(type=int32)`` would silently truncate ``1.5``.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CACHED",
    "CONF",
    "INT32",
    "INT64",
    "NOT_CONVERTIBLE",
    "PRICE",
    "TEXT",
    "Leaf",
    "build",
    "columns",
]

_INT32_RANGE: Final = (-(2**31), 2**31 - 1)
_INT64_RANGE: Final = (-(2**63), 2**63 - 1)
#: What ``pa.array`` raises when it refuses a value (UnicodeEncodeError is a ValueError).
NOT_CONVERTIBLE: Final = (pa.ArrowException, OverflowError, TypeError, ValueError)

_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_PRICE_TEXT: Final = re.compile(r"(?:[¥￥$]|RMB)?\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*元?")
_MAX_NUMBER_TEXT: Final = 64


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


def _as_conf(value: object) -> float | None:
    """A confidence: a real number within 0..1 (an int 0 or 1 too), else None."""
    if type(value) not in (float, int) or not 0 <= value <= 1:  # type: ignore[operator]
        return None
    return float(value)  # type: ignore[arg-type]


def _as_cached(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    return False if value is None else None


# --- leaves: a fast conversion when Arrow's own checks allow it, else per-value coercion


class Leaf(NamedTuple):
    """How to build one column: ``fast`` returns None when some value needs coercion."""

    fast: Callable[[Sequence[object]], pa.Array | None]
    slow: Callable[[Sequence[object]], pa.Array]


def _infer(values: Sequence[object]) -> pa.Array | None:
    """``pa.array(values)`` with type inference, or None if Arrow refuses the mix."""
    try:
        return pa.array(values)
    except NOT_CONVERTIBLE:
        return None


def _fast_text(values: Sequence[object]) -> pa.Array | None:
    try:
        return pa.array(values, type=pa.string())
    except NOT_CONVERTIBLE:  # a non-text value, or text with lone surrogates
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


def _fast_conf(values: Sequence[object]) -> pa.Array | None:
    inferred = _infer(values)
    if inferred is None or inferred.type not in (pa.float64(), pa.null()):
        return None
    if pc.all(pc.and_(pc.greater_equal(inferred, 0), pc.less_equal(inferred, 1))).as_py() is False:
        return None  # out of range or NaN (NaN compares false)
    return inferred.cast(pa.float32())


def _fast_cached(values: Sequence[object]) -> pa.Array | None:
    inferred = _infer(values)
    if inferred is None or inferred.type not in (pa.bool_(), pa.null()):
        return None
    return pc.fill_null(inferred.cast(pa.bool_()), False)


TEXT: Final = Leaf(_fast_text, lambda vs: pa.array([_as_str(v) for v in vs], pa.string()))
INT32: Final = Leaf(
    lambda vs: _fast_int(vs, pa.int32()),
    lambda vs: pa.array([_as_int(v, _INT32_RANGE) for v in vs], pa.int32()),
)
INT64: Final = Leaf(
    lambda vs: _fast_int(vs, pa.int64()),
    lambda vs: pa.array([_as_int(v, _INT64_RANGE) for v in vs], pa.int64()),
)
PRICE: Final = Leaf(_fast_price, lambda vs: pa.array([_as_price(v) for v in vs], pa.float64()))
CONF: Final = Leaf(_fast_conf, lambda vs: pa.array([_as_conf(v) for v in vs], pa.float32()))
CACHED: Final = Leaf(_fast_cached, lambda vs: pa.array([_as_cached(v) for v in vs], pa.bool_()))


def build(values: Sequence[object], leaf: Leaf) -> pa.Array:
    """One column of ``values``: the fast conversion if it takes them, else the total one."""
    array = leaf.fast(values)
    return array if array is not None else leaf.slow(values)


def columns(flat: list[Any], width: int, leaf: Leaf) -> list[pa.Array]:
    """``width`` columns from ``flat``, rows of ``width`` values laid out row after row.

    One conversion of the whole list when every value takes the fast path; otherwise
    column by column, so that one odd value slows down only its own column.
    """
    if width == 0:
        return []
    whole = leaf.fast(flat)
    if whole is not None:
        return [whole.take(np.arange(i, len(flat), width)) for i in range(width)]
    return [build(flat[i::width], leaf) for i in range(width)]
