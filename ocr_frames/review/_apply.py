"""Reviews applied to a result table: :func:`apply_reviews`, and the per-row state the
review app shows (:func:`review_state`, :func:`review_statuses`, :func:`latest_values`).

Matching
    A review names its row by position (``row``, 0-based, as in the output Parquet) and by
    the image the row held (``sha256``, and ``page`` when the frame has one).  A review
    whose row is out of range or now holds another image (the output was rewritten since)
    is not applied: :func:`apply_reviews` warns (:class:`StaleReviewWarning`, with the
    counts), the pure state functions skip it silently.

Order
    Reviews are taken in ``at`` order (ties, and a missing ``at``, which counts as the
    earliest: the file's order).  Every ``correct`` record is applied, the later ones
    winning for the same field, whatever decision comes after it; a row's status is its
    latest decision: ``approved``, ``rejected``, ``corrected``, or ``unreviewed``.

Corrections
    Only the kind's own fields can be corrected: its text, date, position and image-size
    columns (:func:`correctable_fields`), never ``<field>_conf``, ``check_*``, status or
    derived columns (ValueError).  ``new`` is coerced to the field's type in
    :func:`ocr_frames.kinds.schema`: text as typed; a date as ISO ``YYYY-MM-DD``; an
    integer; empty text clears a non-text field.  A value that cannot be coerced raises
    ValueError naming the row and the field.  A corrected field gets ``<field>_conf`` 1.0
    (a person read it) and a null ``<field>_suggested``; its derived columns follow it:
    ``<date>_raw`` becomes null, and an idcard ``valid_date`` is split again into
    ``valid_date_start`` / ``_end`` / ``_long_term`` (``ocr_frames._tables.dates``, the
    parser the run uses).  Nothing else is derived from a field, so nothing else is left
    stale.

Checks and the review flag
    When the frame has ``check_*`` columns, :func:`ocr_frames.checks.add_checks` is run on
    the corrected table (``as_of``: the argument, else the date ``add_checks`` recorded in
    ``df.attrs``, else today) and its values are taken **for the corrected rows only**:
    the other rows keep the values of the run, which saw the unmasked values of the day
    (a masked output would otherwise fail every check).  The duplicate checks of a
    corrected row compare it with the other rows as the frame holds them.  With a
    ``needs_review`` column, a corrected row gets its ``review_reasons`` recomputed
    (:func:`ocr_frames.checks.add_review`) and needs review only if one of its checks
    still fails; an approved or rejected row (latest decision) no longer needs review (its
    reasons stay, for the record); an unreviewed row is unchanged.

The input frame is never modified (a copy is returned, same index and ``attrs``), and
nothing here reads or writes the answer cache: it holds what the engine said.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ocr_frames._tables.dates import split_validity
from ocr_frames._tables.parquet import read_metadata
from ocr_frames.checks import add_checks, add_review, resolve_kind
from ocr_frames.kinds import (
    ANSWERED_BY,
    CONF_SUFFIX,
    ESCALATED_BECAUSE,
    EXTRA_COLUMN,
    FIELD_BOXES,
    STATUS_COLUMNS,
    SUGGESTED_SUFFIX,
    schema,
    spec,
)
from ocr_frames.review._cells import cell_int, cell_text, missing
from ocr_frames.review._store import ReviewsLike as Reviews
from ocr_frames.review._store import reviews_table

__all__ = [
    "STATUSES",
    "StaleReviewWarning",
    "apply_reviews",
    "correctable_fields",
    "kind_of_parquet",
    "latest_values",
    "review_state",
    "review_statuses",
]

#: ``review_status`` values: no decision yet, then one per decision.
STATUSES: Final = ("unreviewed", "approved", "rejected", "corrected")
_STATUS_OF: Final = {"approve": "approved", "reject": "rejected", "correct": "corrected"}
_DECIDED: Final = frozenset({"approved", "rejected"})
_EPOCH: Final = date(1970, 1, 1)
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no"})


class StaleReviewWarning(UserWarning):
    """Reviews not applied: their row is out of range or holds another image now."""


def kind_of_parquet(path: str | os.PathLike[str]) -> str | None:
    """The kind an output Parquet file of ocr-frames holds (its schema's
    ``ocr_frames.kind``, else the kind in its ``ocr_frames`` metadata, which is all
    ``write_parquet`` leaves), or None when it does not say."""
    raw = (pq.read_schema(path).metadata or {}).get(b"ocr_frames.kind")
    kind = raw.decode() if raw else read_metadata(path).get("kind")
    return kind if isinstance(kind, str) else None


def correctable_fields(kind: str) -> dict[str, pa.DataType]:
    """The columns of ``kind`` a reviewer may correct, with their Arrow types."""
    s = spec(kind)
    derived = {EXTRA_COLUMN, FIELD_BOXES, ANSWERED_BY, ESCALATED_BECAUSE, "page", *STATUS_COLUMNS}
    if s.validity_field:
        derived |= {f"{s.validity_field}_{part}" for part in ("start", "end", "long_term")}
    return {
        f.name: f.type
        for f in schema(kind)
        if f.name not in derived
        and f.name != s.list_field
        and not f.name.endswith((CONF_SUFFIX, SUGGESTED_SUFFIX, "_raw"))
    }


# --- which reviews hold, per row ----------------------------------------------------------


def _matched(
    reviews: Reviews, sha256s: Sequence[object], pages: Sequence[object] | None
) -> tuple[list[dict[str, Any]], int, int]:
    """(reviews that still match their row, in ``at`` order; stale count; out of range)."""
    records = reviews_table(reviews).to_pylist()
    # stable sort: ties keep the file's order; no time at all sorts first
    records.sort(key=lambda r: (r["at"] is not None, r["at"] or 0))
    kept: list[dict[str, Any]] = []
    stale = out_of_range = 0
    for record in records:
        row = record["row"]
        if record["decision"] not in _STATUS_OF or (
            record["decision"] == "correct" and (record["field"] is None or record["new"] is None)
        ):
            raise ValueError(
                f"row {row}: not a valid review (decision {record['decision']!r}, field "
                f"{record['field']!r}, new {record['new']!r}): see ocr_frames.review.Review"
            )
        if row is None or not 0 <= row < len(sha256s):
            out_of_range += 1
        elif record["sha256"] != cell_text(sha256s[row]) or (
            pages is not None and record["page"] != cell_int(pages[row])
        ):
            stale += 1
        else:
            kept.append(record)
    return kept, stale, out_of_range


def review_state(
    reviews: Reviews, sha256s: Sequence[object], pages: Sequence[object] | None = None
) -> dict[int, tuple[str, dict[str, str]]]:
    """Row → (latest decision, {field: latest corrected value}) for the rows with a review
    that still matches (``sha256s[i]`` / ``pages[i]``: what row ``i`` holds now)."""
    state: dict[int, tuple[str, dict[str, str]]] = {}
    for record in _matched(reviews, sha256s, pages)[0]:
        fields = state.get(record["row"], ("", {}))[1]
        if record["decision"] == "correct":
            fields[record["field"]] = record["new"]
        state[record["row"]] = (record["decision"], fields)
    return state


def review_statuses(
    reviews: Reviews, sha256s: Sequence[object], pages: Sequence[object] | None = None
) -> list[str]:
    """The ``review_status`` of each row (one of :data:`STATUSES`), as in
    :func:`apply_reviews`."""
    state = review_state(reviews, sha256s, pages)
    return [_STATUS_OF[state[i][0]] if i in state else STATUSES[0] for i in range(len(sha256s))]


def latest_values(
    reviews: Reviews, sha256s: Sequence[object], pages: Sequence[object] | None = None
) -> list[dict[str, str]]:
    """Each row's corrections so far: {field: latest new value} (empty when none)."""
    state = review_state(reviews, sha256s, pages)
    return [dict(state[i][1]) if i in state else {} for i in range(len(sha256s))]


# --- apply --------------------------------------------------------------------------------


def _as_of(df: pd.DataFrame, as_of: date | None) -> date | None:
    meta = df.attrs.get("ocr_frames_checks")
    if as_of is None and isinstance(meta, Mapping) and isinstance(meta.get("as_of"), str):
        return date.fromisoformat(meta["as_of"])
    return as_of


def _coerce(new: str, dtype: pa.DataType, row: int, field: str) -> object:
    """``new`` as a value of ``dtype`` (see the module docstring)."""
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return new
    text = new.strip()
    if not text:
        return None
    try:
        if pa.types.is_date(dtype):
            if len(text) != 10:
                raise ValueError("not YYYY-MM-DD")
            return date.fromisoformat(text)
        if pa.types.is_integer(dtype):
            return int(text)
        if pa.types.is_floating(dtype):
            return float(text)
        if pa.types.is_boolean(dtype) and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
    except ValueError:
        pass
    what = "an ISO date (YYYY-MM-DD)" if pa.types.is_date(dtype) else f"a {dtype} value"
    raise ValueError(f"row {row}: {field!r} cannot be set to {new!r}: it is not {what}")


def _is_text(dtype: object) -> bool:
    if isinstance(dtype, pd.ArrowDtype):
        return bool(pa.types.is_string(dtype.pyarrow_dtype))
    return isinstance(dtype, pd.StringDtype)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return None if not isinstance(value, np.ndarray | list) and missing(value) else value


def _rebuild(values: list[object], like: pd.Series[Any]) -> pd.Series[Any]:
    """``values`` as a column of ``like``'s dtype (object if they do not fit it)."""
    if _is_text(like.dtype):  # a masked date column is text: dates go in as ISO text
        values = [cell_text(v) for v in values]
    try:
        return pd.Series(values, index=like.index, dtype=like.dtype, name=like.name)
    except (TypeError, ValueError, pa.ArrowException):
        return pd.Series(values, index=like.index, dtype=object, name=like.name)


def _set_cells(out: pd.DataFrame, column: str, cells: Mapping[int, object]) -> None:
    values = [_plain(v) for v in out[column].tolist()]
    for row, value in cells.items():
        values[row] = value
    out[column] = _rebuild(values, out[column])


def _derived(kind: str, field: str, value: object) -> dict[str, object]:
    """The columns that follow ``field`` when it is set to ``value``."""
    s = spec(kind)
    cells: dict[str, object] = {field + CONF_SUFFIX: 1.0, field + SUGGESTED_SUFFIX: None}
    if field in s.dates:
        cells[f"{field}_raw"] = None
    if field == s.validity_field:
        start, end, long_term = split_validity(value) if isinstance(value, str) else (None,) * 3
        cells[f"{field}_start"] = None if start is None else _EPOCH + timedelta(days=start)
        cells[f"{field}_end"] = None if end is None else _EPOCH + timedelta(days=end)
        cells[f"{field}_long_term"] = long_term
    return cells


def _corrections(
    records: Sequence[Mapping[str, Any]], df: pd.DataFrame, kind: str
) -> dict[str, dict[int, object]]:
    """Column → {row: value}: the corrected fields and the columns that follow them."""
    fields = correctable_fields(kind)
    columns: dict[str, dict[int, object]] = {}
    for record in records:
        if record["decision"] != "correct":
            continue
        row, field = record["row"], record["field"]
        if field not in fields:
            raise ValueError(
                f"row {row}: {field!r} cannot be corrected: not a field of kind {kind!r} "
                f"(these are: {', '.join(fields)})"
            )
        if field not in df.columns:
            raise ValueError(f"row {row}: the table has no column {field!r} to correct")
        value = _coerce(record["new"], fields[field], row, field)
        for column, cell in {field: value, **_derived(kind, field, value)}.items():
            if column in df.columns:
                columns.setdefault(column, {})[row] = cell
    return columns


def _recheck(out: pd.DataFrame, kind: str, as_of: date | None, rows: Sequence[int]) -> pd.DataFrame:
    """``out`` with the ``check_*`` columns of ``rows`` recomputed."""
    rechecked = add_checks(out, kind, as_of=as_of)
    for column in [c for c in out.columns if str(c).startswith("check_") and c in rechecked]:
        _set_cells(out, column, {r: _plain(rechecked[column].iloc[r]) for r in rows})
    return out


def _reflag(out: pd.DataFrame, statuses: Sequence[str], corrected: Sequence[int]) -> None:
    """``needs_review`` / ``review_reasons`` after the decisions (module docstring)."""
    reviewed = add_review(out)
    reasons = {r: _reasons(reviewed["review_reasons"].iloc[r]) for r in corrected}
    flags: dict[int, object] = {
        r: any(reason.startswith("check_") for reason in why) for r, why in reasons.items()
    }
    flags.update({r: False for r, status in enumerate(statuses) if status in _DECIDED})
    _set_cells(out, "needs_review", flags)
    if "review_reasons" in out.columns:
        _set_cells(out, "review_reasons", dict(reasons))


def _reasons(value: object) -> list[str]:
    if isinstance(value, np.ndarray | list | tuple):
        return [str(reason) for reason in value]
    return []


def apply_reviews(
    df: pd.DataFrame,
    reviews: Reviews,
    *,
    kind: str | None = None,
    as_of: date | None = None,
) -> pd.DataFrame:
    """A copy of the result table ``df`` with the reviews applied (module docstring).

    ``reviews``: the reviews file's path, or a table / frame of its columns.  ``kind``:
    default, the kind ``df.attrs`` records (``ocr_frames.read_parquet``, ``add_checks``);
    pass it for a frame from ``pd.read_parquet`` (:func:`kind_of_parquet`).  Appends
    ``review_status`` (string, one of :data:`STATUSES`).  Warns
    (:class:`StaleReviewWarning`) about reviews whose row holds another image now.
    """
    kind = resolve_kind(df, kind)
    if "sha256" not in df.columns:
        raise ValueError("the table has no sha256 column: reviews cannot be matched to rows")
    pages = df["page"].tolist() if "page" in df.columns else None
    records, stale, out_of_range = _matched(reviews, df["sha256"].tolist(), pages)
    if stale or out_of_range:
        warnings.warn(
            f"{stale + out_of_range} review(s) not applied: {stale} name a row that holds "
            f"another image now (the output was rewritten since), {out_of_range} a row "
            f"out of range (the table has {len(df)} rows)",
            StaleReviewWarning,
            stacklevel=2,
        )
    out: pd.DataFrame = df.copy()
    for column, cells in _corrections(records, df, kind).items():
        _set_cells(out, column, cells)
    statuses = [STATUSES[0]] * len(df)
    for record in records:
        statuses[record["row"]] = _STATUS_OF[record["decision"]]
    corrected = sorted({r["row"] for r in records if r["decision"] == "correct"})
    if corrected and any(isinstance(c, str) and c.startswith("check_") for c in df.columns):
        out = _recheck(out, kind, _as_of(df, as_of), corrected)
    if "needs_review" in out.columns and records:
        _reflag(out, statuses, corrected)
    out["review_status"] = pd.array(statuses, dtype=pd.StringDtype("pyarrow"))
    out.attrs = dict(df.attrs)
    return out
