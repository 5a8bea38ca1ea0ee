"""Every ``check_*`` column: what it verifies, the standard behind it, its generic problem text.

Boolean columns are *phrased so that True means the row passes*; NA means the check does
not apply (an error row, a missing field, a prerequisite that already failed).  Columns of
other types are values derived by the checks (a birth date, an age, a bank name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class CheckInfo:
    """Documentation of one check column."""

    description: str
    standard: str
    #: generic text for ``check_problems`` when the check fails ("" for derived values)
    problem: str = ""
    #: summary of other columns: adds nothing to ``check_problems`` itself
    composite: bool = False
    #: a failure may come from a misreading, so another engine's reading may pass it
    #: (False: it is about what the document says, e.g. its expiry: ``Cascade`` does not
    #: pay a second engine for it; a person still looks, through ``needs_review``)
    reread: bool = True


_RIC: Final = "GB 11643-1999"
_DUP: Final = "sha256 of the image bytes"

CHECKS: Final[dict[str, CheckInfo]] = {
    # resident ID number (idcard `id`, drivinglicense `id_num`)
    "check_id_valid": CheckInfo(
        "ID number valid: format, check character, birth date and region code",
        _RIC,
        "ID number invalid",
        composite=True,
    ),
    "check_id_format": CheckInfo(
        "ID number is 18 characters: 17 digits and a digit or X", _RIC, "ID number malformed"
    ),
    "check_id_checksum": CheckInfo(
        "ID check character (ISO 7064 MOD 11-2) is right",
        f"{_RIC} (python-stdnum cn.ric)",
        "ID number check character is wrong",
    ),
    "check_id_birth_date": CheckInfo("birth date encoded in digits 7-14", _RIC),
    "check_id_birth_date_valid": CheckInfo(
        "birth date in the ID number is a real date, not after as_of",
        _RIC,
        "birth date in the ID number is not a real date or lies in the future",
    ),
    "check_id_age": CheckInfo("age in completed years on as_of", _RIC),
    "check_id_sex": CheckInfo("sex from digit 17 (odd 男, even 女)", _RIC),
    "check_id_sex_match": CheckInfo(
        "sex in the ID number agrees with the card's gender / sex field",
        _RIC,
        "sex in the ID number disagrees with the card",
    ),
    "check_id_region_known": CheckInfo(
        "address code (digits 1-6) is a GB/T 2260 county code",
        "GB/T 2260 (python-stdnum cn/loc table)",
        "ID number's region code is unknown",
    ),
    "check_id_province": CheckInfo("province of the address code", "GB/T 2260"),
    "check_id_birth_date_match": CheckInfo(
        "licence birth_date equals the birth date in the ID number",
        _RIC,
        "birth date on the licence differs from the ID number",
    ),
    # dates
    "check_not_expired": CheckInfo(
        "document still valid on as_of (长期 never expires)",
        "居民身份证法 art. 5; 机动车驾驶证申领和使用规定",
        "document expired",
        reread=False,
    ),
    "check_dates_ordered": CheckInfo(
        "the document's dates are in order (start < end, birth < issue ...)",
        "consistency",
        "dates out of order",
    ),
    # bank card `number`
    "check_card_valid": CheckInfo(
        "card number valid: digits, 16-19 long, Luhn", "ISO/IEC 7812", composite=True
    ),
    "check_card_format": CheckInfo(
        "card number holds only digits", "ISO/IEC 7812", "card number holds non-digits"
    ),
    "check_card_length": CheckInfo(
        "card number has 16-19 digits", "China UnionPay", "card number is not 16-19 digits long"
    ),
    "check_card_luhn": CheckInfo(
        "Luhn check digit is right",
        "ISO/IEC 7812-1 (python-stdnum luhn)",
        "card number fails the Luhn check",
    ),
    "check_card_bank": CheckInfo("issuing bank from the BIN (partial table)", "ISO/IEC 7812"),
    # business licence `reg_num`
    "check_reg_num_type": CheckInfo(
        "registration number: uscc (valid 18-char code), legacy (15 digits) or invalid",
        "GB 32100-2015",
    ),
    "check_uscc_valid": CheckInfo(
        "unified social credit code format and MOD 31 check character (NA: legacy number)",
        "GB 32100-2015 (python-stdnum cn.uscc)",
        "registration number is not a valid USCC",
    ),
    # vehicle registration `vin`, `plate_num`; plate `number`
    "check_vin_valid": CheckInfo(
        "VIN valid: format and check digit", "ISO 3779; GB 16735-2019", composite=True
    ),
    "check_vin_format": CheckInfo(
        "VIN is 17 characters without I, O, Q", "ISO 3779", "VIN malformed"
    ),
    "check_vin_checksum": CheckInfo(
        "VIN check digit (position 9) is right",
        "GB 16735-2019; 49 CFR 565.15",
        "VIN check digit is wrong",
    ),
    "check_plate_valid": CheckInfo(
        "plate is a province abbreviation, a letter and 5 characters (6: new energy)",
        "GA 36-2018",
        "plate number malformed",
    ),
    "check_plate_type": CheckInfo("standard or new_energy", "GA 36-2018"),
    # duplicates within the table
    "check_image_unique": CheckInfo(
        "no other row has the same image bytes", _DUP, "same image as another row"
    ),
    "check_image_group": CheckInfo("row position of the first row with the same image", _DUP),
    "check_number_unique": CheckInfo(
        "no other image carries the same document number",
        "normalised document number",
        "document number also on another image",
    ),
    "check_number_group": CheckInfo(
        "row position of the first row with the same number", "normalised document number"
    ),
    # the row
    "check_passed": CheckInfo("every applicable check passed", "all of the above", "", True),
    "check_problems": CheckInfo("why the row failed, one reason per failed check", ""),
}
