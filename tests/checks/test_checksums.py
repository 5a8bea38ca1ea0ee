"""Check characters: public test vectors and property tests, the same for every scheme.

Each scheme is tested through the function ``ocr_frames.checks`` applies to each distinct
(already normalised) value, whether backed by python-stdnum (resident ID, USCC, Luhn) or
written by hand (VIN).  Valid numbers are made by
a *reference* implementation written in this file straight from the standard, so a bug
shared by the library and the checker cannot hide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr_frames._numbers.bank import card_result
from ocr_frames._numbers.regions import PROVINCES, region_known
from ocr_frames._numbers.ric import ric_result
from ocr_frames._numbers.uscc import reg_num_result
from ocr_frames._numbers.vehicle import vin_result

AS_OF = date(2026, 11, 25)
DIGITS = "0123456789"


# --- reference implementations, straight from the standards ---------------------------


def ref_gb11643(body17: str) -> str:
    """GB 11643-1999: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 → X."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ref_gb32100(body17: str) -> str:
    """GB 32100-2015: weights 3^(i-1) mod 31, C = 31 - sum mod 31 (31 → 0)."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ref_luhn(payload: str) -> str:
    """ISO/IEC 7812-1 Annex B: double every second digit from the right of the payload."""
    total = 0
    for i, d in enumerate(reversed(payload)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return str((10 - total % 10) % 10)


# 49 CFR 565.15 Table I (letters; digits stand for themselves), written as in the rule
_CFR_LETTERS = {
    **{"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8},
    **{"J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9},
    **{"S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9},
}
_CFR_VALUES = {**{str(d): d for d in range(10)}, **_CFR_LETTERS}
_CFR_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def ref_vin(vin17: str) -> str:
    remainder = sum(_CFR_VALUES[c] * w for c, w in zip(vin17, _CFR_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


# --- the schemes under test ------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    name: str
    backend: str  # "stdnum" or "hand-written"
    passes: Callable[[str], bool]  # the check ocr_frames.checks applies
    valid: st.SearchStrategy[str]  # numbers valid by the reference implementation
    alphabet: str  # characters a substitution may bring in
    #: whether the standard guarantees detection of putting ``new`` at ``position``
    detects: Callable[[str, int, str], bool]


def _always(number: str, position: int, new: str) -> bool:
    return True


REGIONS = ["110105", "310115", "440106", "320508", "510104", "650102"]


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(REGIONS))
    birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2020, 12, 31)))
    seq = draw(st.integers(0, 999))
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ref_gb11643(body)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    code = st.sampled_from(USCC_ALPHABET)
    head = draw(code) + draw(code)
    region = draw(st.text(DIGITS, min_size=6, max_size=6))
    org = "".join(draw(code) for _ in range(9))
    body = head + region + org
    return body + ref_gb32100(body)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    payload = draw(st.text(DIGITS, min_size=15, max_size=18))
    return payload + ref_luhn(payload)


@st.composite
def vins(draw: st.DrawFn) -> str:
    chars = [draw(st.sampled_from(VIN_ALPHABET)) for _ in range(17)]
    chars[8] = "0"
    chars[8] = ref_vin("".join(chars))
    return "".join(chars)


def _vin_detects(number: str, position: int, new: str) -> bool:
    """ISO 3779 / 49 CFR 565: caught unless both characters transliterate to one value."""
    if position == 8 or new not in _CFR_VALUES:
        return True
    return _CFR_VALUES[new] != _CFR_VALUES[number[position]]


def _ric_passes(number: str) -> bool:
    result = ric_result(number, AS_OF)
    return bool(result.format_ok and result.checksum_ok)


SCHEMES = [
    Scheme("GB 11643 resident ID", "stdnum", _ric_passes, resident_ids(), DIGITS + "X", _always),
    Scheme(
        "GB 32100 USCC",
        "stdnum",
        lambda n: bool(reg_num_result(n).uscc_valid),
        credit_codes(),
        USCC_ALPHABET + "IOSVZ",
        _always,
    ),
    Scheme(
        "ISO/IEC 7812 Luhn",
        "stdnum",
        lambda n: bool(card_result(n).luhn_ok),
        card_numbers(),
        DIGITS,
        _always,
    ),
    Scheme(
        "ISO 3779 VIN",
        "hand-written",
        lambda n: vin_result(n).valid,
        vins(),
        VIN_ALPHABET + "IOQ",
        _vin_detects,
    ),
]
IDS = [f"{s.name} ({s.backend})" for s in SCHEMES]


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_generated_valid_numbers_pass(scheme: Scheme) -> None:
    @settings(max_examples=300, deadline=None)
    @given(scheme.valid)
    def run(number: str) -> None:
        assert scheme.passes(number), number

    run()


@pytest.mark.parametrize("scheme", SCHEMES, ids=IDS)
def test_single_substitutions_fail_where_the_standard_guarantees_it(scheme: Scheme) -> None:
    @settings(max_examples=100, deadline=None)
    @given(scheme.valid)
    def run(number: str) -> None:
        for position, old in enumerate(number):
            for new in scheme.alphabet:
                if new == old:
                    continue
                changed = number[:position] + new + number[position + 1 :]
                if scheme.detects(number, position, new):
                    assert not scheme.passes(changed), (number, position, new)
                else:  # what the standard does not catch really goes through
                    assert scheme.passes(changed), (number, position, new)

    run()


def test_vin_blind_spot_is_real() -> None:
    # 1, A and J all transliterate to 1: the check digit cannot tell them apart
    assert vin_result("1M8GDM9AXKP042788").valid
    assert vin_result("JM8GDM9AXKP042788").valid
    assert vin_result("AM8GDM9AXKP042788").valid


# --- public test vectors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),  # the example of GB 11643-1999
        ("360426199101010071", True),  # python-stdnum's documented example
        ("110105194912310021", False),  # the example with a wrong check character
        ("11010519491231002", False),  # 17 characters
        ("110105491231002", False),  # a first-generation 15-digit number
        ("11010519491331002X", False),  # month 13 (check character recomputed below)
    ],
)
def test_resident_id_vectors(number: str, valid: bool) -> None:
    if number == "11010519491331002X":
        number = number[:17] + ref_gb11643(number[:17])  # only the date is wrong
    assert ric_result(number, AS_OF).valid is valid


def test_resident_id_fields_of_the_standard_example() -> None:
    result = ric_result("11010519491231002X", AS_OF)
    assert result.birth_date == date(1949, 12, 31)
    assert result.sex == "女"  # sequence code 002 is even
    assert result.province == "北京市"
    assert result.age == 76


@pytest.mark.parametrize(
    ("number", "type_", "valid"),
    [
        ("91110000600037341L", "uscc", True),  # python-stdnum's documented example
        ("91350100M000100Y43", "uscc", True),
        ("91110000600037341M", "invalid", False),
        ("A1110000600037341L", "invalid", False),  # stdnum doc: rejected
        ("110108000000016", "legacy", None),  # 15-digit pre-USCC registration number
        ("9111000060003734", "invalid", False),
    ],
)
def test_uscc_vectors(number: str, type_: str, valid: bool | None) -> None:
    result = reg_num_result(number)
    assert (result.type, result.uscc_valid) == (type_, valid)


def test_uscc_with_a_letter_authority_is_accepted() -> None:
    # GB 32100-2015 lets the registration authority be a letter (Y: other authorities);
    # stdnum.cn.uscc.validate insists on digits, which is why the format rule is ours
    body = "Y1110000MA01ABCD0"
    number = body + ref_gb32100(body)
    assert reg_num_result(number).uscc_valid is True


@pytest.mark.parametrize(
    ("number", "luhn", "length"),
    [
        ("4111111111111111", True, True),
        ("4012888888881881", True, True),
        ("5555555555554444", True, True),
        ("79927398713", True, False),  # the classic Luhn example: too short for a card
        ("4111111111111112", False, True),
        ("378282246310005", True, False),  # Amex test number: 15 digits
    ],
)
def test_card_vectors(number: str, luhn: bool, length: bool) -> None:
    result = card_result(number)
    assert (result.luhn_ok, result.length_ok) == (luhn, length)


@pytest.mark.parametrize(
    ("vin", "valid"),
    [
        ("1M8GDM9AXKP042788", True),  # check digit X (49 CFR 565 example)
        ("11111111111111111", True),
        ("1HGCM82633A004352", True),
        ("JH4KA7561PC008269", True),
        ("1M8GDM9AYKP042788", False),  # wrong check digit
        ("WVWZZZ1JZXW000001", False),  # European VIN without a check digit
        ("1M8GDM9AXKP04278", False),  # 16 characters
        ("1M8GDM9AXKP0427O8", False),  # letter O
    ],
)
def test_vin_vectors(vin: str, valid: bool) -> None:
    assert vin_result(vin).valid is valid


def test_vin_check_digit_is_only_digit_or_x() -> None:
    assert not vin_result("1M8GDM9AAKP042788").valid


def test_province_table_agrees_with_stdnum() -> None:
    from stdnum import numdb

    db = numdb.get("cn/loc")
    for code, name in PROVINCES.items():
        stdnum_name = db.info(code + "0000")[0][1]["province"]
        traditional = str.maketrans({"別": "别", "區": "区", "門": "门"})
        assert stdnum_name.translate(traditional) == name


@pytest.mark.parametrize(
    ("code", "known"),
    [
        ("440106", True),  # 天河区, created 1985: known whatever the birth year
        ("110103", True),  # 崇文区, abolished 2010: still on older cards
        ("449999", False),
        ("999999", False),
        ("44010", False),
    ],
)
def test_region_codes(code: str, known: bool) -> None:
    assert region_known(code) is known


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalisation_removes_every_space_and_is_idempotent(value: str) -> None:
    from ocr_frames._numbers.compact import compact

    out = compact(value)
    assert compact(out) == out
    assert not any(c.isspace() for c in out)
    assert not any(c in "abcdefghijklmnopqrstuvwxyz" for c in out)
