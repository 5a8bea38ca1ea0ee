"""Duplicates within one table: the same image bytes, the same document number.

* ``check_image_unique``: False when another row has the same ``sha256`` (the same file
  submitted twice, perhaps under another name); ``check_image_group`` is then the row
  position (0-based, as for ``df.iloc``) of the first such row.
* ``check_number_unique``: False when the same document number (normalised, see
  :mod:`._common`) is read from more than one *distinct* image: the same ID card photographed
  twice, or one ID number used by several customers.  Rows that only repeat one image are
  left to ``check_image_unique``.  ``check_number_group`` is the first such row's position.

Error rows and rows without a value get NA.

A row's verdict depends on rows after it (both rows of a pair are flagged), so the keys
are gathered first and judged at the end: :class:`DuplicateKeys` takes a table whole or
chunk by chunk (a run streaming to Parquet), keeps per row only a code for its image and
one for its number (distinct values in a dict), and :meth:`DuplicateKeys.columns` gives
the columns of every row added, the same whichever way the rows came.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from ocr_frames.checks._common import BOOL, INT, Codes, Column, encode, text_column

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


class DuplicateKeys:
    """What the duplicate checks compare, gathered from a ``kind`` table's rows in order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._images: dict[str, int] = {}  # sha256 → code
        self._numbers: dict[str, int] = {}  # normalised document number → code
        self._sha: list[Codes] = []  # per part: each row's image code (-1: none)
        self._ok: list[npt.NDArray[np.bool_]] = []
        self._num: list[Codes] = []  # per part: each row's number code (-1: none or not ok)

    def add(
        self,
        df: pd.DataFrame,
        ok: npt.NDArray[np.bool_],
        numbers: tuple[Codes, list[str]] | None = None,
    ) -> None:
        """Add the rows of ``df`` (after those added before); ``numbers``: the encoded
        number column when the caller has it already (see :func:`encode`)."""
        n = len(df)
        if "sha256" in df.columns:
            sha = _global(
                encode(df["sha256"], np.ones(n, dtype=bool), normalise=False), self._images
            )
        else:
            sha = np.full(n, -1, dtype=np.intp)
        self._sha.append(sha)
        self._ok.append(ok)
        if self.kind in NUMBER_COLUMNS:
            column = NUMBER_COLUMNS[self.kind]
            found = numbers if numbers is not None else encode(text_column(df, column), ok)
            self._num.append(_global(found, self._numbers))

    def columns(self) -> list[Column]:
        """``check_image_*`` (and ``check_number_*`` for kinds with a number) of every row
        added, in order."""
        sha = np.concatenate([np.empty(0, np.intp), *self._sha])
        ok = np.concatenate([np.empty(0, bool), *self._ok])
        n = len(sha)
        rows = np.arange(n, dtype=np.int64)
        image = np.where(ok & (sha >= 0), sha, -1)
        columns = _columns("image", image, rows, "same image as row {row}")
        if self.kind in NUMBER_COLUMNS:
            numbers = np.concatenate([np.empty(0, np.intp), *self._num])
            # a row without image bytes counts as an image of its own
            key = np.where(sha >= 0, sha, n + rows).astype(np.int64)
            message = "same document number as row {row} (another image)"
            columns += _columns("number", numbers, key, message)
        return columns


def _global(found: tuple[Codes, list[str]], table: dict[str, int]) -> Codes:
    """Codes of one part (:func:`encode`) as codes of the whole table (-1 stays -1)."""
    codes, values = found
    lookup = np.array([*(table.setdefault(v, len(table)) for v in values), -1], dtype=np.intp)
    return lookup[codes]
