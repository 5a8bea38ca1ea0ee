"""Vehicle identification numbers and Chinese licence plates (both hand-written here).

VIN, ISO 3779 (structure) with the position-9 check digit of GB 16735-2019 (China, where it
is mandatory) and 49 CFR 565.15 (North America); python-stdnum has no VIN module.

* 17 characters from ``0-9 A-Z`` without ``I``, ``O`` and ``Q`` (too close to 1 and 0);
* each character is transliterated to a number (digits as themselves; ``A``-``H`` 1-8,
  ``J``-``N`` 1-5, ``P`` 7, ``R`` 9, ``S``-``Z`` 2-9), multiplied by the weight of its
  position (8 7 6 5 4 3 2 10 - 9 8 7 6 5 4 3 2), summed, modulo 11; 10 is written ``X``.

What the check digit does **not** guarantee: several characters share a transliterated value
(``1``, ``A`` and ``J`` are all 1), so substituting one for another is invisible.  Every
other single substitution changes the sum by ``weight × difference``, which 11 (prime)
never divides, so it is detected.  VINs of vehicles built for markets without a check digit
(e.g. some European ones) fail the checksum column by design.

Plates, GA 36-2018 (机动车号牌): a province abbreviation (one of :data:`PROVINCE_CODES`),
the letter of the issuing office (``A``-``Z`` except ``I``/``O``), then either

* 5 letters/digits (``I`` and ``O`` excluded), or 4 followed by a special-use character
  (学 警 挂 港 澳 领 试 超): ``"standard"``;
* 6 characters for new-energy vehicles: small ones ``[DABCEFGHJK]`` + a letter or digit +
  4 digits, large ones 5 digits + ``[DABCEFGHJK]``: ``"new_energy"``.

Embassy (使), military and armed-police plates are out of scope and fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ocr_frames._numbers.compact import compact

VIN_LENGTH: Final = 17
VIN_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_VALUES: Final[dict[str, int]] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}

#: The 31 province-level abbreviations used on plates.
PROVINCE_CODES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
STANDARD: Final = "standard"
NEW_ENERGY: Final = "new_energy"

_LETTER: Final = "A-HJ-NP-Z"  # no I, O
_PLATE: Final = re.compile(
    f"(?P<province>[{PROVINCE_CODES}])[{_LETTER}]"
    f"(?:(?P<standard>[{_LETTER}0-9]{{5}}|[{_LETTER}0-9]{{4}}[学警挂港澳领试超])"
    f"|(?P<new_energy>[DABCEFGHJK][{_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DABCEFGHJK]))"
)


def vin_check_digit(vin: str) -> str:
    """The position-9 check digit of a 17-character ``vin`` (its own digit 9 is ignored)."""
    total = sum(VIN_VALUES[c] * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


@dataclass(frozen=True, slots=True)
class VinResult:
    """Format and check digit of one VIN (None: could not be checked)."""

    format_ok: bool
    checksum_ok: bool | None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        """17 characters of the VIN alphabet with the right check digit."""
        return self.format_ok and bool(self.checksum_ok)


def check_vin(value: str) -> VinResult:
    """Check one VIN (normalised first, see :mod:`.compact`)."""
    return vin_result(compact(value))


def vin_result(vin: str) -> VinResult:
    """Check one VIN already normalised by :func:`.compact.compact`."""
    if len(vin) != VIN_LENGTH:
        return VinResult(False, None, f"VIN has {len(vin)} characters, expected 17")
    if any(c in "IOQ" for c in vin):
        return VinResult(False, None, "VIN holds I, O or Q, which ISO 3779 excludes")
    if any(c not in VIN_VALUES for c in vin):
        return VinResult(False, None, "VIN may hold only digits and capital letters")
    return VinResult(True, vin_check_digit(vin) == vin[8])


@dataclass(frozen=True, slots=True)
class PlateResult:
    """Whether one plate number is well formed, and its type."""

    valid: bool
    type: str | None


def check_plate(value: str) -> PlateResult:
    """Check one plate number (normalised first: ``粤b·12345`` → ``粤B12345``)."""
    return plate_result(compact(value))


def plate_result(plate: str) -> PlateResult:
    """Check one plate number already normalised by :func:`.compact.compact`."""
    match = _PLATE.fullmatch(plate)
    if match is None:
        return PlateResult(False, None)
    return PlateResult(True, STANDARD if match.group("standard") else NEW_ENERGY)
