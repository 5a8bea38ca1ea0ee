"""Answers → one typed Arrow table per kind.

:func:`to_arrow` is the only place where the platform's nested answers are flattened.
Flattening is *total*: a value of the wrong type never raises, it becomes null (the
rules per target type are in :mod:`ocr_frames._tables.leaves`).  Besides those:

* a list field that is not a list → null; list items that are not dicts are skipped.
* date fields → ``date32`` + ``<field>_raw`` (the original string, only where a non-empty
  value did not parse); see :mod:`ocr_frames._tables.dates` for the accepted forms.
* the ``confidence`` and ``suggested`` objects → ``<field>_conf`` (float32 within 0..1,
  anything else null) and ``<field>_suggested`` columns.
* ``field_boxes`` (the local engine's ``{name: {"pos": {...}}}``) → JSON text
  ``{name: [[x, y] x 4]}``; a box whose 8 coordinates are not all numbers is left out.
* the keys of an ok answer that no column reads → the ``extra`` column, as JSON text.

How it is fast:

* The text fields and ``cached`` of all answers go through one ``pa.array(answers,
  type=struct<...>)`` call: Arrow reads the dicts in C++.  Arrow's string and bool
  conversions refuse anything else, so a batch with one odd value simply falls back to
  reading in Python and coercing only the offending columns.
* Everything nested (positions, ``img_size``) is read in one Python pass over the
  answers, while each dict is still hot in the CPU cache, into one flat list that Arrow
  converts at once and splits with ``take``.
* Numbers are converted with Arrow's type *inference* (see :mod:`.leaves`).
* Dates are parsed once per distinct string (``dictionary_encode``), with a vectorised
  cast when every distinct string is ``YYYY-MM-DD``.
* The cyclic garbage collector is paused meanwhile: the many short-lived containers
  would otherwise trigger collections that walk every live answer, for nothing.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._engine.contract import AUDIT_KEY
from ocr_frames._tables.dates import date_arrays, validity_arrays
from ocr_frames._tables.leaves import (
    CACHED,
    CONF,
    INT32,
    INT64,
    NOT_CONVERTIBLE,
    PRICE,
    TEXT,
    Leaf,
    build,
    columns,
)
from ocr_frames.kinds import (
    ANSWERED_BY,
    CONF_SUFFIX,
    CORNERS,
    ESCALATED_BECAUSE,
    EXTRA_COLUMN,
    FIELD_BOXES,
    KINDS,
    STATUS_COLUMNS,
    SUGGESTED_SUFFIX,
    KindSpec,
    schema,
    spec,
)

__all__ = ["to_arrow"]

_NO_QUAD: Final[tuple[Any, ...]] = (None,) * 8
#: Flat names of the 8 coordinates of ``{"pos": {corner: {"x", "y"}}}``, in schema order.
_QUAD_SUFFIXES: Final = tuple(f"pos_{corner}_{axis}" for corner in CORNERS for axis in "xy")


# --- nested objects ------------------------------------------------------------------


def _child(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


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


# --- list fields ---------------------------------------------------------------------

_ITEM_LEAVES: Final = {
    pa.string(): TEXT,
    pa.int32(): INT32,
    pa.float64(): PRICE,
    pa.float32(): CONF,
}
#: Objects of an answer that map field names to values: (key, column suffix, leaf, type).
_BY_FIELD: Final = (
    ("confidence", CONF_SUFFIX, CONF, pa.float32()),
    ("suggested", SUGGESTED_SUFFIX, TEXT, pa.string()),
)


def _by_field(
    answers: Sequence[dict[str, Any]], key: str, names: Sequence[str], leaf: Leaf, type_: Any
) -> list[pa.Array]:
    """One column per name from the object ``answer[key]`` (``{"name": 0.98, ...}``)."""
    if not names:
        return []
    objects = list(map(dict.get, answers, repeat(key)))
    if not any(type(o) is dict for o in objects):  # no engine said anything (WeChat)
        return [pa.nulls(len(answers), type_)] * len(names)
    flat = [o.get(n) if type(o) is dict else None for o in objects for n in names]
    if leaf is TEXT:  # a suggestion is a reading: text only, never a number made text
        flat = [v if type(v) is str else None for v in flat]
    return columns(flat, len(names), leaf)


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
        children.update(zip(_QUAD_SUFFIXES, columns(quads, 8, INT32), strict=True))
    for field in item_type:
        if field.name not in children:
            column = list(map(dict.get, items, repeat(field.name)))
            children[field.name] = build(column, _ITEM_LEAVES[field.type])
    struct = pa.StructArray.from_arrays([children[n] for n in names], fields=list(item_type))
    is_null = pc.invert(pa.array(is_list, type=pa.bool_()))
    return pa.ListArray.from_arrays(offsets, struct, type=list_type, mask=is_null)


def _texts(values: Sequence[object]) -> pa.Array:
    """A ``list<string>`` column: a list's text items kept, anything else null."""
    lists = [
        [v for v in value if type(v) is str] if type(value) is list else None for value in values
    ]
    return pa.array(lists, type=pa.list_(pa.string()))


def _field_boxes(values: Sequence[object]) -> pa.Array:
    """The ``field_boxes`` column (see the module docstring): null for no boxes."""
    out: list[str | None] = []
    for value in values:
        boxes = {}
        if type(value) is dict:
            for name, box in value.items():
                numbers = _quad(box)
                if all(type(n) in (int, float) and math.isfinite(n) for n in numbers):
                    corners = zip(numbers[::2], numbers[1::2], strict=True)
                    boxes[str(name)] = [[round(x), round(y)] for x, y in corners]
        out.append(json.dumps(boxes, ensure_ascii=False) if boxes else None)
    return pa.array(out, type=pa.string())


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
        lists = (
            *([kind_spec.list_field] if kind_spec.list_field else []),
            FIELD_BOXES,
            ANSWERED_BY,
            ESCALATED_BECAUSE,
        )
        others = (*lists, "page", "errcode")
        int_names = [f"{key}_{suffix}" for key in kind_spec.positions for suffix in _QUAD_SUFFIXES]
        int_names += ["img_size_w", "img_size_h"] if kind_spec.img_size else []
        flat_type = pa.struct([*((key, pa.string()) for key in texts), ("cached", pa.bool_())])
        by_field = (key for key, *_ in _BY_FIELD)
        known = frozenset(
            (*texts, *others, *kind_spec.positions, *STATUS_COLUMNS, "img_size", *by_field)
        ) | {AUDIT_KEY}  # a composite engine's note for the run summary: no column
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
        except NOT_CONVERTIBLE:
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
            arrays = {key: build(raw[key], TEXT) for key in plan.texts}
            arrays["cached"] = build(raw["cached"], CACHED)
        else:
            raw, ints = plan.read(dicts, plan.others)
        arrays["errcode"] = build(raw["errcode"], INT64)
        arrays["page"] = build(raw["page"], INT32)  # documents: the page of each row
        arrays[EXTRA_COLUMN] = plan.unknown_keys(dicts)
        arrays.update(zip(plan.int_names, columns(ints, len(plan.int_names), INT32), strict=True))
        for (key, suffix, leaf, type_), names in zip(
            _BY_FIELD, (kind_spec.confidence_fields, kind_spec.suggested), strict=True
        ):
            arrays.update(
                zip(
                    (name + suffix for name in names),
                    _by_field(dicts, key, names, leaf, type_),
                    strict=True,
                )
            )
        if kind_spec.list_field:
            list_type = target.field(kind_spec.list_field).type
            arrays[kind_spec.list_field] = _list_array(raw[kind_spec.list_field], list_type)
        arrays[FIELD_BOXES] = _field_boxes(raw[FIELD_BOXES])
        arrays[ANSWERED_BY] = build(raw[ANSWERED_BY], TEXT)
        arrays[ESCALATED_BECAUSE] = _texts(raw[ESCALATED_BECAUSE])
        for name in kind_spec.dates:
            arrays[name], arrays[f"{name}_raw"] = date_arrays(arrays[name])
        if kind_spec.validity_field:
            name = kind_spec.validity_field
            start, end, long_term = validity_arrays(arrays[name])
            arrays.update(
                {f"{name}_start": start, f"{name}_end": end, f"{name}_long_term": long_term}
            )
        return pa.Table.from_arrays([arrays[name] for name in target.names], schema=target)
