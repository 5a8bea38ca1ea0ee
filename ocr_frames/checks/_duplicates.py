"""Duplicates within one table: the same image bytes, the same document number.

* ``check_image_unique``: False when another row has the same ``sha256`` (the same file
  submitted twice, perhaps under another name); ``check_image_group`` is then the row
  position (0-based, as for ``df.iloc``) of the first such row.
* ``check_number_unique``: False when the same document number (normalised, see
  :mod:`._common`) is read from more than one *distinct* image: the same ID card photographed
  twice, or one ID number used by several customers.  Rows that only repeat one image are
  left to ``check_image_unique``.  ``check_number_group`` is the first such row's position.

Error rows and rows without a value get NA.  The table must be whole: duplicates across
separately checked chunks are not seen.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ocr_frames.checks._common import BOOL, INT, Codes, Column, encode

#: kind → the column holding the document's number
NUMBER_COLUMNS: Final[dict[str, str]] = {
    "idcard": "id",
    "drivinglicense": "id_num",
    "bankcard": "number",
    "bizlicense": "reg_num",
    "driving": "vin",
    "platenum": "number",
}


def _first(codes: Codes, k: int, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Per code, the first position among ``rows`` with that code (``len(codes)`` if none)."""
    first = np.full(k, len(codes), dtype=np.intp)
    take = rows & (codes >= 0)
    np.minimum.at(first, codes[take], np.flatnonzero(take))
    return first


def _columns(prefix: str, codes: Codes, keys: npt.NDArray[np.int64], message: str) -> list[Column]:
    """``check_<prefix>_unique``: no other row with the same code and a different key.

    ``keys`` tells rows apart (the row itself for images, the image for numbers);
    ``check_<prefix>_group`` is the first row of the code's group when not unique.
    """
    n, k = len(codes), int(codes.max(initial=-1)) + 1
    present = codes >= 0
    safe = np.where(present, codes, k)  # slot k: rows without a code (never repeated)
    pairs = np.unique(codes[present].astype(np.int64) * (2 * n + 1) + keys[present])
    distinct = np.bincount(pairs // (2 * n + 1), minlength=k + 1)
    first = _first(codes, k + 1, present)
    first_key = np.append(keys, -1)[first]  # -1 for the empty slot
    differs = present & (keys != first_key[safe])
    first_other = _first(codes, k + 1, differs)
    repeated = present & (distinct[safe] > 1)
    other = np.where(differs, first[safe], first_other[safe])
    unique = pd.array(~repeated, dtype=BOOL)
    unique[~present] = pd.NA
    groups = pd.array(np.where(repeated, first[safe], 0), dtype=INT)
    groups[~repeated] = pd.NA
    detail = np.full(n, None, dtype=object)
    for row in np.flatnonzero(repeated).tolist():
        detail[row] = message.format(row=int(other[row]))
    return [
        Column(f"check_{prefix}_unique", unique, detail),
        Column(f"check_{prefix}_group", groups),
    ]


def _no_codes(n: int) -> Codes:
    return np.full(n, -1, dtype=np.intp)


def image_columns(df: pd.DataFrame, ok: npt.NDArray[np.bool_]) -> list[Column]:
    """``check_image_unique`` and ``check_image_group``."""
    if "sha256" in df.columns:
        codes = encode(df["sha256"], ok, normalise=False)[0]
    else:
        codes = _no_codes(len(df))
    rows = np.arange(len(df), dtype=np.int64)
    return _columns("image", codes, rows, "same image as row {row}")


def number_codes(df: pd.DataFrame, kind: str, ok: npt.NDArray[np.bool_]) -> Codes:
    """Codes of the normalised document numbers of ``kind`` (-1: missing or not ok)."""
    return encode(df[NUMBER_COLUMNS[kind]], ok)[0]


def number_columns(df: pd.DataFrame, codes: Codes) -> list[Column]:
    """``check_number_unique`` and ``check_number_group`` (by distinct images per number).

    ``codes``: the rows' normalised numbers, from :func:`number_codes`.
    """
    n = len(df)
    if "sha256" in df.columns:
        images = encode(df["sha256"], np.ones(n, dtype=bool), normalise=False)[0]
    else:
        images = _no_codes(n)
    # a row without image bytes counts as an image of its own
    image_key = np.where(images >= 0, images, n + np.arange(n)).astype(np.int64)
    message = "same document number as row {row} (another image)"
    return _columns("number", codes, image_key, message)
