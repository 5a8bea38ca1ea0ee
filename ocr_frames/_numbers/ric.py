"""Chinese resident identity card number (公民身份号码), GB 11643-1999.

Layout of the 18 characters: ``AAAAAA YYYYMMDD SSS C``

* ``AAAAAA`` address code, GB/T 2260 (see :mod:`._regions`);
* ``YYYYMMDD`` birth date;
* ``SSS`` sequence code, odd for men and even for women (so digit 17 gives the sex);
* ``C`` check character, ISO 7064 MOD 11-2 over the first 17 digits (``0-9`` or ``X``).

The check character comes from :func:`stdnum.cn.ric.calc_check_digit`; the rest of the
layout is checked here so that each rule gets a column of its own.  MOD 11-2 detects every
single-character substitution (and every transposition of adjacent characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from stdnum.cn import ric

from ocr_frames._numbers.compact import compact
from ocr_frames._numbers.regions import province, region_known

_FORMAT: Final = re.compile(r"[0-9]{17}[0-9X]")
MALE = "男"
FEMALE = "女"


@dataclass(frozen=True, slots=True)
class RicResult:
    """Everything one ID number says about itself (None: could not be checked)."""

    format_ok: bool
    problem: str | None = None  # why the format is wrong
    checksum_ok: bool | None = None
    birth_date: date | None = None
    birth_date_ok: bool | None = None
    age: int | None = None
    sex: str | None = None
    region_known: bool | None = None
    province: str | None = None

    @property
    def valid(self) -> bool:
        """Format, check character, birth date and region code all right."""
        return bool(
            self.format_ok and self.checksum_ok and self.birth_date_ok and self.region_known
        )


def _birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def age_on(birth: date, as_of: date) -> int:
    """Completed years between ``birth`` and ``as_of``."""
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


def format_problem(number: str) -> str | None:
    """Why ``number`` (compacted) is not 17 digits and a digit or X, or None."""
    if _FORMAT.fullmatch(number):
        return None
    if len(number) != 18:
        return f"ID number has {len(number)} characters, expected 18"
    body, check = number[:17], number[17]
    if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
        return "ID number may hold only digits and a final X"
    return None


def check_ric(value: str, as_of: date) -> RicResult:
    """Check one ID number as read from a card (normalised first, see :mod:`.compact`)."""
    return ric_result(compact(value), as_of)


def ric_result(number: str, as_of: date) -> RicResult:
    """Check one ID number already normalised by :func:`.compact.compact`."""
    problem = format_problem(number)
    if problem is not None:
        return RicResult(format_ok=False, problem=problem)
    birth = _birth_date(number)
    birth_ok = birth is not None and birth <= as_of
    return RicResult(
        format_ok=True,
        checksum_ok=ric.calc_check_digit(number) == number[17],
        birth_date=birth,
        birth_date_ok=birth_ok,
        age=age_on(birth, as_of) if birth is not None and birth_ok else None,
        sex=MALE if int(number[16]) % 2 else FEMALE,
        region_known=region_known(number[:6]),
        province=province(number),
    )


_SEX_WORDS = {
    "男": MALE,
    "M": MALE,
    "MALE": MALE,
    "男性": MALE,
    "女": FEMALE,
    "F": FEMALE,
    "FEMALE": FEMALE,
    "女性": FEMALE,
}


def normalise_sex(value: str) -> str | None:
    """``男``/``女`` for the ways a card or a form writes the sex (``value`` already
    normalised by :func:`.compact.compact`: ``male`` is ``MALE``), else None."""
    return _SEX_WORDS.get(value)
