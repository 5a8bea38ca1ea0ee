"""Bank card numbers (primary account numbers), ISO/IEC 7812.

* Luhn check digit (ISO/IEC 7812-1 Annex B) via :mod:`stdnum.luhn`.  Luhn detects every
  single-digit substitution and most adjacent transpositions (not ``09`` ↔ ``90``).
* Length 16-19 digits: the lengths China UnionPay issues (debit cards mostly 19, credit
  cards 16).  Amex-style 15-digit cards fail this check on purpose.
* Issuer: the first 6 digits (the BIN / IIN) looked up in :data:`BINS`.

:data:`BINS` is **partial**: a few well-known BINs of the largest Chinese issuers, compiled
from public BIN listings.  An unknown BIN is not an error (NA bank name); the
authoritative source is China UnionPay's BIN file, which is not freely redistributable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stdnum import luhn

from ocr_frames._numbers.compact import compact

MIN_LENGTH: Final = 16
MAX_LENGTH: Final = 19

_ICBC, _ABC, _BOC, _CCB = "中国工商银行", "中国农业银行", "中国银行", "中国建设银行"
_COMM, _PSBC, _CMB, _CITIC = "交通银行", "中国邮政储蓄银行", "招商银行", "中信银行"
_CEB, _CMBC, _CIB, _SPDB = "中国光大银行", "中国民生银行", "兴业银行", "上海浦东发展银行"
_GDB, _PAB, _HXB = "广发银行", "平安银行", "华夏银行"

#: 6-digit BIN → issuing bank.  Partial by design (see the module docstring).
BINS: Final[dict[str, str]] = {
    **dict.fromkeys(("622200", "622202", "622203", "622208", "621226", "621288"), _ICBC),
    **dict.fromkeys(("621558", "621559", "621723", "620058"), _ICBC),
    **dict.fromkeys(("622848", "622845", "622846", "622821", "622823", "622827"), _ABC),
    **dict.fromkeys(("621282", "623052", "620059"), _ABC),
    **dict.fromkeys(("621661", "621660", "621663", "621666", "621785", "621790"), _BOC),
    **dict.fromkeys(("601382", "456351", "620061"), _BOC),
    **dict.fromkeys(("621700", "622700", "622280", "436742", "621284", "620060"), _CCB),
    **dict.fromkeys(("622260", "622262", "622258", "601428"), _COMM),
    **dict.fromkeys(("621799", "621098", "622188", "622150", "622151", "620062"), _PSBC),
    **dict.fromkeys(("622588", "622580", "621286", "621483", "621485", "410062"), _CMB),
    **dict.fromkeys(("622690", "622691", "621767", "621768"), _CITIC),
    **dict.fromkeys(("622666", "622660", "622662", "621489"), _CEB),
    **dict.fromkeys(("622622", "622615", "622617", "621691"), _CMBC),
    **dict.fromkeys(("622908", "622909", "438588"), _CIB),
    **dict.fromkeys(("622521", "622522", "622518", "621791"), _SPDB),
    **dict.fromkeys(("622568", "621462", "622556"), _GDB),
    **dict.fromkeys(("622298", "622536", "623058", "621626"), _PAB),
    **dict.fromkeys(("622630", "622631", "623020"), _HXB),
}


@dataclass(frozen=True, slots=True)
class CardResult:
    """What one card number says about itself (None: could not be checked)."""

    format_ok: bool
    length_ok: bool
    luhn_ok: bool | None
    bank: str | None

    @property
    def valid(self) -> bool:
        """Digits only, 16-19 of them, Luhn check digit right."""
        return self.format_ok and self.length_ok and bool(self.luhn_ok)


def check_card(value: str) -> CardResult:
    """Check one card number as read from a card (normalised first, see :mod:`.compact`)."""
    return card_result(compact(value))


def card_result(number: str) -> CardResult:
    """Check one card number already normalised by :func:`.compact.compact`."""
    digits = number.isascii() and number.isdigit()
    return CardResult(
        format_ok=digits,
        length_ok=MIN_LENGTH <= len(number) <= MAX_LENGTH,
        luhn_ok=luhn.is_valid(number) if digits else None,
        bank=BINS.get(number[:6]) if digits else None,
    )
