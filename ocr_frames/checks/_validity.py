"""Validity and ordering of the dates printed on a document.

* ``check_not_expired``: the document is still valid on ``as_of`` (default: today), i.e.
  its end date is on or after ``as_of``.  Resident ID cards (居民身份证法 art. 5): the back
  side's ``valid_date`` end; ``长期`` (long-term) never expires.  Driver's licences
  (GA 482 / 机动车驾驶证申领和使用规定): ``valid_to``; ``长期`` likewise.
* ``check_dates_ordered``: the dates of one document come in their only possible order:
  ID card ``valid_date_start`` < ``valid_date_end``; driver's licence ``birth_date`` <
  ``issue_date`` (first licensed) <= ``valid_from`` < ``valid_to``; vehicle registration
  (行驶证) ``register_date`` <= ``issue_date`` (a certificate is issued on or after the
  vehicle's first registration).  Pairs with a missing date are skipped; NA when fewer
  than two dates are present.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ocr_frames.checks._common import BOOL, Column, bool_array, date_array, day, text_column

#: kind → (date columns in their required order, strict "<" between neighbours?)
ORDER: Final[dict[str, tuple[tuple[str, ...], tuple[bool, ...]]]] = {
    "idcard": (("valid_date_start", "valid_date_end"), (True,)),
    "drivinglicense": (
        ("birth_date", "issue_date", "valid_from", "valid_to"),
        (True, False, True),
    ),
    "driving": (("register_date", "issue_date"), (False,)),
}

#: kind → (end-date column, long-term flag column or None, raw text column or None)
EXPIRY: Final[dict[str, tuple[str, str | None, str | None]]] = {
    "idcard": ("valid_date_end", "valid_date_long_term", None),
    "drivinglicense": ("valid_to", None, "valid_to_raw"),
}

LONG_TERM: Final = "长期"


def _raw_long_term(df: pd.DataFrame, column: str | None) -> npt.NDArray[np.bool_]:
    if column is None or column not in df.columns:
        return np.zeros(len(df), dtype=bool)
    raw = text_column(df, column).astype(object).tolist()
    return np.array([isinstance(v, str) and LONG_TERM in v for v in raw], dtype=bool)


def not_expired(df: pd.DataFrame, kind: str, ok: npt.NDArray[np.bool_], as_of: date) -> Column:
    """``check_not_expired`` for ``kind`` (which must be in :data:`EXPIRY`)."""
    end_name, flag_name, raw_name = EXPIRY[kind]
    end = date_array(df, end_name)
    long_term = (bool_array(df, flag_name) if flag_name else np.zeros(len(df), dtype=bool)) | (
        _raw_long_term(df, raw_name)
    )
    known = ok & (~np.isnat(end) | long_term)
    valid = long_term | (end >= day(as_of))
    values = pd.array(np.where(known, valid, False), dtype=BOOL)
    values[~known] = pd.NA
    detail = np.full(len(df), None, dtype=object)
    detail[~valid] = f"expired before {as_of.isoformat()} ({end_name})"
    return Column("check_not_expired", values, detail)


def dates_ordered(df: pd.DataFrame, kind: str, ok: npt.NDArray[np.bool_]) -> Column:
    """``check_dates_ordered`` for ``kind`` (which must be in :data:`ORDER`)."""
    names, strict_links = ORDER[kind]
    dates = [date_array(df, name) for name in names]
    n = len(df)
    compared = np.zeros(n, dtype=bool)
    ordered = np.ones(n, dtype=bool)
    detail = np.full(n, None, dtype=object)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            both = ~np.isnat(dates[i]) & ~np.isnat(dates[j])
            strict = any(strict_links[i:j])
            right = dates[i] < dates[j] if strict else dates[i] <= dates[j]
            wrong = both & ~right & ordered
            detail[wrong] = f"{names[i]} is {'not before' if strict else 'after'} {names[j]}"
            ordered &= ~(both & ~right)
            compared |= both
    known = ok & compared
    values = pd.array(ordered, dtype=BOOL)
    values[~known] = pd.NA
    return Column("check_dates_ordered", values, detail)
