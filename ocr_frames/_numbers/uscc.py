"""Business licence registration numbers: the unified social credit code, GB 32100-2015.

An 18-character USCC (统一社会信用代码) is ``R T DDDDDD OOOOOOOOO C``:

* ``R`` registration authority and ``T`` entity type: one character each of the code
  alphabet (``9`` 工商 then ``1`` enterprise, ``2`` individual business...; ``5`` 民政,
  ``Y`` other authorities: letters occur, so they are not restricted to digits here);
* ``DDDDDD`` the registering region, GB/T 2260 digits;
* ``OOOOOOOOO`` the organisation code (GB 11714);
* ``C`` check character, a weighted MOD 31 sum over the alphabet
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z).

The check character is :func:`stdnum.cn.uscc.calc_check_digit`.  The format rule is ours:
``stdnum.cn.uscc.validate`` also insists that the first two characters are digits, which
would reject legitimate codes whose authority or type is a letter.  As the weights are all
non-zero modulo the prime 31, every single-character substitution is detected.

A 15-digit number is a *legacy* registration number (工商注册号, issued before the
2015-2017 switch to the USCC).  It is recognised as such and not checked further: numbers
from before 2007 carry no check digit, so a mismatch would prove nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from stdnum.cn import uscc

from ocr_frames._numbers.compact import compact

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC: Final = "uscc"
LEGACY: Final = "legacy"
INVALID: Final = "invalid"

_CODE: Final = f"[{ALPHABET}]"
_USCC_FORMAT: Final = re.compile(f"{_CODE}{{2}}[0-9]{{6}}{_CODE}{{10}}")


@dataclass(frozen=True, slots=True)
class RegNumResult:
    """The type of one registration number and whether it is a valid USCC."""

    type: str  # USCC, LEGACY or INVALID
    uscc_valid: bool | None  # None for a legacy number
    problem: str | None = None


def check_reg_num(value: str) -> RegNumResult:
    """Check one registration number (normalised first, see :mod:`.compact`)."""
    return reg_num_result(compact(value))


def reg_num_result(number: str) -> RegNumResult:
    """Check one registration number already normalised by :func:`.compact.compact`."""
    if len(number) == 15 and number.isascii() and number.isdigit():
        return RegNumResult(LEGACY, None)
    if len(number) != 18:
        problem = f"registration number has {len(number)} characters, expected 18 (USCC)"
        return RegNumResult(INVALID, False, problem)
    if not _USCC_FORMAT.fullmatch(number):
        problem = "USCC holds a character outside the GB 32100 alphabet or layout"
        return RegNumResult(INVALID, False, problem)
    if uscc.calc_check_digit(number) != number[17]:
        return RegNumResult(INVALID, False, "USCC check character is wrong (GB 32100-2015)")
    return RegNumResult(USCC, True)
