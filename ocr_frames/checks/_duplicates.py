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
one for its number (distinct values in a dict), and :meth:`DuplicateKeys.judge` judges
every row added at once, the same whichever way the rows came; its :class:`Duplicates`
give the columns a slice of rows at a time (a stream's second pass), the problem texts
made only for that slice.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Judged:
    """One duplicate check judged over every row of the table: ``check_<prefix>_unique``
    and ``check_<prefix>_group``, any slice of rows at a time (:meth:`columns`)."""

    prefix: str
    unique: pd.arrays.BooleanArray
    groups: pd.arrays.IntegerArray
    repeated: npt.NDArray[np.bool_]
    other: npt.NDArray[np.intp]  # per repeated row: the row named in its problem text
    message: str

    def columns(self, start: int, end: int) -> list[Column]:
        """The two columns of rows ``start:end`` (their problem texts made here, so a
        stream of slices never holds one string per row of the table)."""
        detail = np.full(end - start, None, dtype=object)
        other = self.other[start:end]
        for row in np.flatnonzero(self.repeated[start:end]).tolist():
            detail[row] = self.message.format(row=int(other[row]))
        return [
            Column(f"check_{self.prefix}_unique", self.unique[start:end], detail),
            Column(f"check_{self.prefix}_group", self.groups[start:end]),
        ]


def _judge(prefix: str, codes: Codes, keys: npt.NDArray[np.int64], message: str) -> _Judged:
    """``check_<prefix>_unique``: no other row with the same code and a different key.

    ``keys`` tells rows apart (the row itself for images, the image for numbers);
    ``check_<prefix>_group`` is the first row of the code's group when not unique.
    Vectorised, without sorting: a code is repeated when one of its rows has a key other
    than its first row's.
    """
    n, k = len(codes), int(codes.max(initial=-1)) + 1
    present = codes >= 0
    safe = np.where(present, codes, k)  # slot k: rows without a code (never repeated)
    first = _first(codes, k + 1, present)
    first_key = np.append(keys, -1)[first]  # -1 for the empty slot
    differs = present & (keys != first_key[safe])
    first_other = _first(codes, k + 1, differs)
    repeated = present & (first_other[safe] < n)
    other = np.where(differs, first[safe], first_other[safe])
    unique = pd.array(~repeated, dtype=BOOL)
    unique[~present] = pd.NA
    groups = pd.array(np.where(repeated, first[safe], 0), dtype=INT)
    groups[~repeated] = pd.NA
    return _Judged(prefix, unique, groups, repeated, other, message)


class Duplicates:
    """The duplicate columns of every row of a table, judged once
    (:meth:`DuplicateKeys.judge`), given a slice of rows at a time."""

    def __init__(self, judged: list[_Judged], rows: int) -> None:
        self._judged, self.rows = judged, rows

    def columns(self, start: int = 0, end: int | None = None) -> list[Column]:
        """``check_image_*`` (and ``check_number_*``) of rows ``start:end`` (default: all)."""
        end = self.rows if end is None else end
        return [column for judged in self._judged for column in judged.columns(start, end)]


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

    def judge(self) -> Duplicates:
        """Judge every row added (in order): their duplicate columns, a slice at a time."""
        sha = np.concatenate([np.empty(0, np.intp), *self._sha])
        ok = np.concatenate([np.empty(0, bool), *self._ok])
        n = len(sha)
        rows = np.arange(n, dtype=np.int64)
        image = np.where(ok & (sha >= 0), sha, -1)
        judged = [_judge("image", image, rows, "same image as row {row}")]
        if self.kind in NUMBER_COLUMNS:
            numbers = np.concatenate([np.empty(0, np.intp), *self._num])
            # a row without image bytes counts as an image of its own
            key = np.where(sha >= 0, sha, n + rows).astype(np.int64)
            message = "same document number as row {row} (another image)"
            judged.append(_judge("number", numbers, key, message))
        return Duplicates(judged, n)

    def columns(self) -> list[Column]:
        """``check_image_*`` (and ``check_number_*`` for kinds with a number) of every row
        added, in order."""
        return self.judge().columns()


def _global(found: tuple[Codes, list[str]], table: dict[str, int]) -> Codes:
    """Codes of one part (:func:`encode`) as codes of the whole table (-1 stays -1)."""
    codes, values = found
    lookup = np.array([*(table.setdefault(v, len(table)) for v in values), -1], dtype=np.intp)
    return lookup[codes]
