"""Masking of personal data for reports and logs: keep enough to recognise a record.

>>> mask_id("440106198001101009")
'4401**********1009'
>>> mask_bank("6222020200112233445")
'6222 **** **** 3445'
>>> mask_name("张三")
'张*'
>>> mask_plate("粤B12345")
'粤B***45'

Every function takes any cell value: None, NA and NaN come back as None; other values are
masked as text.  Numbers are normalised first (NFKC, whitespace removed, upper-case) so
that spacing or full-width digits do not leak extra characters.  :func:`mask_frame` masks
the personal columns of a kind's table, including the derived ``check_id_birth_date``;
masked columns become strings.  Enterprise names and registration numbers (public
register data) are kept.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from typing import Final

import pandas as pd

from ocr_frames.kinds import SUGGESTED_SUFFIX, check_kind, spec

__all__ = [
    "mask_address",
    "mask_bank",
    "mask_date",
    "mask_frame",
    "mask_id",
    "mask_name",
    "mask_plate",
]

_SPACES: Final = re.compile(r"\s+")


def _plain(value: object) -> str | None:
    """The value as NFKC text without whitespace, or None for a missing value."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    return _SPACES.sub("", unicodedata.normalize("NFKC", str(value)))


def _text(value: object) -> str | None:
    """:func:`_plain`, upper-cased (for numbers)."""
    text = _plain(value)
    return None if text is None else text.upper()


def _keep_ends(text: str, keep: int) -> str:
    """``text`` with all but ``keep`` characters at each end starred (never over a quarter)."""
    keep = min(keep, len(text) // 4)
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[len(text) - keep :]


def mask_id(value: object) -> str | None:
    """An ID-like number with only its first and last 4 characters: ``4401**********123X``.

    Short values keep at most a quarter of their characters at each end.
    """
    text = _text(value)
    return None if text is None else _keep_ends(text, 4)


def mask_bank(value: object) -> str | None:
    """A card number as ``6222 **** **** 7890`` (first and last 4 digits)."""
    text = _text(value)
    if text is None:
        return None
    if len(text) < 12:
        return _keep_ends(text, 4)
    return f"{text[:4]} **** **** {text[-4:]}"


def mask_name(value: object) -> str | None:
    """A person's name with only its first character: ``张三`` → ``张*``."""
    if (text := _plain(value)) is None:
        return None
    return text[:1] + "*" * (len(text) - 1) if len(text) > 1 else "*"


def mask_plate(value: object) -> str | None:
    """A plate with its province, office letter and last 2 characters: ``粤B***45``."""
    if (text := _text(value)) is None:
        return None
    if len(text) < 6:
        return text[:1] + "*" * (len(text) - 1)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]


def mask_address(value: object) -> str | None:
    """An address cut after its first (at most 6, at most half) characters: ``广东省广州****``."""
    if (text := _plain(value)) is None:
        return None
    return text[: min(6, len(text) // 2)] + "****"


def mask_date(value: object) -> str | None:
    """A date with only its year: ``1980-**-**``."""
    if isinstance(value, (date, datetime)) and not (isinstance(value, datetime) and pd.isna(value)):
        return f"{value.year:04d}-**-**"
    text = _text(value)
    if text is None:
        return None
    return f"{text[:4]}-**-**" if len(text) >= 4 and text[:4].isdigit() else "*" * len(text)


_NAME, _ID, _BANK, _PLATE, _ADDRESS, _DATE = (
    mask_name,
    mask_id,
    mask_bank,
    mask_plate,
    mask_address,
    mask_date,
)

_PERSONAL: Final[dict[str, dict[str, Callable[[object], str | None]]]] = {
    "idcard": {"name": _NAME, "id": _ID, "addr": _ADDRESS, "check_id_birth_date": _DATE},
    "drivinglicense": {
        "name": _NAME,
        "id_num": _ID,
        "address": _ADDRESS,
        "birth_date": _DATE,
        "birth_date_raw": _DATE,
        "check_id_birth_date": _DATE,
    },
    "bankcard": {"number": _BANK},
    "bizlicense": {"legal_representative": _NAME},
    "driving": {
        "owner": _NAME,
        "addr": _ADDRESS,
        "vin": _ID,
        "engine_num": _ID,
        "record": _ID,
        "plate_num": _PLATE,
        "plate_num_b": _PLATE,
    },
    "platenum": {"number": _PLATE},
    "comm": {},
    "menu": {},
}


#: kind → {column: masking function}; a ``<field>_suggested`` column is a reading of the
#: very number it stands beside, so it is masked the same way
MASKED_COLUMNS: Final[dict[str, dict[str, Callable[[object], str | None]]]] = {
    kind: {
        **columns,
        **{f + SUGGESTED_SUFFIX: columns[f] for f in spec(kind).suggested if f in columns},
    }
    for kind, columns in _PERSONAL.items()
}


def mask_frame(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A copy of ``df`` (a ``kind`` table, checked or not) with its personal columns masked.

    Same rows, index and column order; masked columns are ``string[pyarrow]``.
    """
    out: pd.DataFrame = df.copy()
    for column, mask in MASKED_COLUMNS[check_kind(kind)].items():
        if column in out.columns:
            values = [mask(v) for v in out[column].astype(object).tolist()]
            out[column] = pd.array(values, dtype=pd.StringDtype("pyarrow"))
    return out
