"""``add_checks``: the columns of every kind, their dtypes, NA rules, rows and index kept."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocr_frames import KINDS, ConfigurationError
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import CHECKS, add_checks, duplicates
from ocr_frames.checks._common import row_ok
from ocr_frames.checks._duplicates import DuplicateKeys

AS_OF = date(2026, 11, 25)
B, N, S = "boolean", "Int64", "string"
D = pd.ArrowDtype(pa.date32())

_ID = {
    "check_id_valid": B,
    "check_id_format": B,
    "check_id_checksum": B,
    "check_id_birth_date": D,
    "check_id_birth_date_valid": B,
    "check_id_age": N,
    "check_id_sex": S,
    "check_id_sex_match": B,
    "check_id_region_known": B,
    "check_id_province": S,
}
_IMAGE = {"check_image_unique": B, "check_image_group": N}
_NUMBER = {"check_number_unique": B, "check_number_group": N}
_ROW = {"check_passed": B, "check_problems": S}

#: kind → the check columns add_checks appends, in order, with their dtypes
EXPECTED: dict[str, dict[str, Any]] = {
    "idcard": {
        **_ID,
        "check_not_expired": B,
        "check_dates_ordered": B,
        **_IMAGE,
        **_NUMBER,
        **_ROW,
    },
    "drivinglicense": {
        **_ID,
        "check_id_birth_date_match": B,
        "check_not_expired": B,
        "check_dates_ordered": B,
        **_IMAGE,
        **_NUMBER,
        **_ROW,
    },
    "bankcard": {
        "check_card_valid": B,
        "check_card_format": B,
        "check_card_length": B,
        "check_card_luhn": B,
        "check_card_bank": S,
        **_IMAGE,
        **_NUMBER,
        **_ROW,
    },
    "bizlicense": {"check_reg_num_type": S, "check_uscc_valid": B, **_IMAGE, **_NUMBER, **_ROW},
    "driving": {
        "check_vin_valid": B,
        "check_vin_format": B,
        "check_vin_checksum": B,
        "check_plate_valid": B,
        "check_plate_type": S,
        "check_dates_ordered": B,
        **_IMAGE,
        **_NUMBER,
        **_ROW,
    },
    "platenum": {"check_plate_valid": B, "check_plate_type": S, **_IMAGE, **_NUMBER, **_ROW},
    "comm": {**_IMAGE, **_ROW},
    "menu": {**_IMAGE, **_ROW},
}

GOOD: dict[str, dict[str, Any]] = {
    "idcard": {"type": "Front", "name": "王伟", "id": "11010519491231002X", "gender": "女"},
    "drivinglicense": {
        "id_num": "11010519491231002X",
        "name": "王伟",
        "sex": "女",
        "birth_date": "1949-12-31",
        "issue_date": "2010-05-01",
        "valid_from": "2020-05-01",
        "valid_to": "2030-05-01",
    },
    "bankcard": {"number": "6222020200112233446"},
    "bizlicense": {"reg_num": "91110000600037341L"},
    "driving": {
        "vin": "1M8GDM9AXKP042788",
        "plate_num": "粤B12345",
        "register_date": "2018-07-01",
        "issue_date": "2018-07-06",
    },
    "platenum": {"number": "粤B12345"},
    "comm": {"items": [{"text": "腾讯"}]},
    "menu": {"menu_items": [{"name": "酱鸭", "price": 48}]},
}


def table(kind: str, *answers: Mapping[str, Any], index: Any = None) -> pd.DataFrame:
    full = [{"errcode": 0, "errmsg": "ok", "rid": None, **a} for a in answers]
    return to_pandas(to_arrow(kind, full), index=index)


def checked(kind: str, *answers: Mapping[str, Any], **kw: Any) -> pd.DataFrame:
    return add_checks(table(kind, *answers), kind, as_of=kw.pop("as_of", AS_OF), **kw)


def vals(series: pd.Series[Any]) -> list[Any]:
    """The column's values, NA as None (so that lists compare)."""
    return [None if v is pd.NA else v for v in series.tolist()]


def row(kind: str, answer: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
    """The first row of the checked one-row table, NA as None."""
    out = checked(kind, answer, **kw)
    return {name: vals(out[name])[0] for name in out.columns}


# --- the shape of the result ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_columns_and_dtypes_of_every_kind(kind: str) -> None:
    df = table(kind, {**GOOD[kind], "sha256": "f" * 64}, {"errcode": 101001, "errmsg": "-"}, {})
    out = add_checks(df, kind, as_of=AS_OF)
    assert list(out.columns) == [*df.columns, *EXPECTED[kind]]
    for name, dtype in EXPECTED[kind].items():
        assert out[name].dtype == dtype, name
        assert name in CHECKS
    pd.testing.assert_frame_equal(out[df.columns], df)  # nothing else touched
    assert vals(out["check_passed"])[0] is True, out.iloc[0]["check_problems"]
    assert out.iloc[[1]][list(EXPECTED[kind])].isna().all().all()  # error row: all NA


@pytest.mark.parametrize("kind", KINDS)
def test_empty_table(kind: str) -> None:
    out = add_checks(table(kind), kind, as_of=AS_OF)
    assert len(out) == 0
    assert {n: out[n].dtype for n in EXPECTED[kind]} == EXPECTED[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_all_error_table_keeps_rows_index_and_dtypes(kind: str) -> None:
    errors = [{"errcode": 900001, "errmsg": "missing file"}] * 3
    df = table(kind, *errors, index=pd.Index(["b", "a", "b"]))
    out = add_checks(df, kind, as_of=AS_OF)
    assert list(out.index) == ["b", "a", "b"]
    assert {n: out[n].dtype for n in EXPECTED[kind]} == EXPECTED[kind]
    assert out[list(EXPECTED[kind])].isna().all().all()


def test_rows_order_and_duplicate_index_labels_kept() -> None:
    answers = [
        {"id": "11010519491231002X", "gender": "女"},
        {"id": "110105194912310021", "gender": "女"},  # wrong check character
        {"id": "360426199101010071", "gender": "女"},  # sex disagrees
    ]
    df = table("idcard", *answers, index=pd.Index([7, 7, 3]))
    out = add_checks(df, "idcard", as_of=AS_OF)
    assert list(out.index) == [7, 7, 3]
    assert vals(out["check_id_checksum"]) == [True, False, True]
    assert vals(out["check_id_sex_match"]) == [True, True, False]
    assert vals(out["check_passed"]) == [True, False, False]


def test_input_frame_is_not_modified_and_rerun_is_idempotent() -> None:
    df = table("bankcard", {"number": "4111111111111112"})
    before = df.copy()
    once = add_checks(df, "bankcard", as_of=AS_OF)
    pd.testing.assert_frame_equal(df, before)
    twice = add_checks(once, "bankcard", as_of=AS_OF)
    pd.testing.assert_frame_equal(once, twice)
    assert once.attrs["ocr_frames_checks"] == {"kind": "bankcard", "as_of": "2026-11-25"}


def test_unknown_kind_and_missing_column() -> None:
    with pytest.raises(ConfigurationError):
        add_checks(table("idcard"), "passport")
    with pytest.raises(ValueError, match="'id'"):
        add_checks(table("idcard").drop(columns=["id"]), "idcard")


def test_frames_read_back_from_parquet(tmp_path: Path) -> None:
    answers = [
        {**GOOD["drivinglicense"], "valid_to": "2020-01-01"},
        {**GOOD["drivinglicense"], "id_num": "110105194912310021"},
        {"errcode": 101001, "errmsg": "no document"},
    ]
    full = [{"errcode": 0, "errmsg": "ok", **a} for a in answers]
    path = tmp_path / "dl.parquet"
    pq.write_table(to_arrow("drivinglicense", full), path)
    plain = pd.read_parquet(path)  # object dates, str / object text
    direct = add_checks(table("drivinglicense", *answers), "drivinglicense", as_of=AS_OF)
    again = add_checks(plain, "drivinglicense", as_of=AS_OF)
    names = list(EXPECTED["drivinglicense"])
    pd.testing.assert_frame_equal(again[names], direct[names])


# --- resident ID ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "11010519491231002x",  # lowercase check character
        " 110105 1949 1231 002X ",  # spaces
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width
        "110105-19491231-002X",
    ],
)
def test_id_normalised_before_checking(written: str) -> None:
    out = row("idcard", {"id": written, "gender": "女"})
    assert out["check_id_valid"] is True
    assert out["check_id_birth_date"] == date(1949, 12, 31)


def test_id_lookalike_letters_are_not_corrected() -> None:
    out = row("idcard", {"id": "11O10519491231002X"})
    assert out["check_id_format"] is False
    assert out["check_id_checksum"] is None
    assert out["check_problems"] == "ID number may hold only digits and a final X"


def test_id_wrong_length_explains_itself() -> None:
    out = row("idcard", {"id": "110105491231002"})
    assert out["check_id_valid"] is False
    assert out["check_problems"] == "ID number has 15 characters, expected 18"


def _id(body: str) -> str:
    from stdnum.cn import ric

    return body + ric.calc_check_digit(body + "0")


def test_id_birth_date_in_future_or_unreal() -> None:
    future = row("idcard", {"id": _id("11010520300101001")})
    assert (future["check_id_checksum"], future["check_id_birth_date_valid"]) == (True, False)
    assert future["check_id_age"] is None
    assert future["check_id_valid"] is False
    unreal = row("idcard", {"id": _id("11010519990231001")})  # 31 February
    assert unreal["check_id_birth_date"] is None
    assert unreal["check_id_birth_date_valid"] is False


def test_id_age_on_as_of() -> None:
    number = _id("11010519801125001")
    assert row("idcard", {"id": number}, as_of=date(2026, 11, 24))["check_id_age"] == 45
    assert row("idcard", {"id": number}, as_of=date(2026, 11, 25))["check_id_age"] == 46


def test_id_region_and_province() -> None:
    unknown = row("idcard", {"id": _id("44999919800101001")})
    assert unknown["check_id_region_known"] is False
    assert unknown["check_id_province"] == "广东省"
    assert "region code is unknown" in unknown["check_problems"]
    nowhere = row("idcard", {"id": _id("99000019800101001")})
    assert nowhere["check_id_province"] is None


@pytest.mark.parametrize(
    ("gender", "match"), [("男", True), ("女", False), ("M", True), ("", None), (None, None)]
)
def test_id_sex_against_the_card(gender: str | None, match: bool | None) -> None:
    out = row("idcard", {"id": _id("11010519800101001"), "gender": gender})  # 1: male
    assert out["check_id_sex"] == "男"
    assert out["check_id_sex_match"] is match


def test_licence_birth_date_against_its_id_number() -> None:
    good = row("drivinglicense", GOOD["drivinglicense"])
    assert good["check_id_birth_date_match"] is True
    bad = row("drivinglicense", {**GOOD["drivinglicense"], "birth_date": "1949-12-30"})
    assert bad["check_id_birth_date_match"] is False
    assert "birth date on the licence differs" in bad["check_problems"]
    missing = row("drivinglicense", {**GOOD["drivinglicense"], "birth_date": None})
    assert missing["check_id_birth_date_match"] is None


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valid_date", "as_of", "expected"),
    [
        ("20171210-20271210", date(2027, 12, 10), True),  # valid through its last day
        ("20171210-20271210", date(2027, 12, 11), False),
        ("20150301-长期", date(2099, 1, 1), True),
        ("garbled", AS_OF, None),
    ],
)
def test_id_card_back_expiry(valid_date: str, as_of: date, expected: bool | None) -> None:
    out = row("idcard", {"type": "Back", "valid_date": valid_date}, as_of=as_of)
    assert out["check_not_expired"] is expected
    assert out["check_id_valid"] is None  # no ID number on the back
    if expected is False:
        assert out["check_problems"] == "expired before 2027-12-11 (valid_date_end)"


def test_licence_expiry_including_long_term() -> None:
    assert row("drivinglicense", GOOD["drivinglicense"])["check_not_expired"] is True
    expired = {**GOOD["drivinglicense"], "valid_to": "2024-07-06"}
    assert row("drivinglicense", expired)["check_not_expired"] is False
    long_term = {**GOOD["drivinglicense"], "valid_to": "长期"}
    assert row("drivinglicense", long_term)["check_not_expired"] is True


def test_as_of_defaults_to_today() -> None:
    df = table("idcard", {"type": "Back", "valid_date": "20000101-20010101"})
    out = add_checks(df, "idcard")
    assert out.attrs["ocr_frames_checks"]["as_of"] == date.today().isoformat()
    assert vals(out["check_not_expired"]) == [False]


@pytest.mark.parametrize(
    ("kind", "change", "problem"),
    [
        ("idcard", {"type": "Back", "valid_date": "20271210-20171210"}, "valid_date_start"),
        ("drivinglicense", {"issue_date": "1940-01-01"}, "birth_date is not before issue_date"),
        ("drivinglicense", {"valid_from": "2031-01-01"}, "valid_from is not before valid_to"),
        ("driving", {"issue_date": "2018-06-30"}, "register_date is after issue_date"),
    ],
)
def test_dates_out_of_order(kind: str, change: dict[str, str], problem: str) -> None:
    answer = {**GOOD[kind], **change} if kind != "idcard" else change
    out = row(kind, answer)
    assert out["check_dates_ordered"] is False
    assert problem in out["check_problems"]


def test_dates_ordered_needs_two_dates() -> None:
    answer = {**GOOD["driving"], "issue_date": None}
    assert row("driving", answer)["check_dates_ordered"] is None
    same_day = {**GOOD["driving"], "issue_date": GOOD["driving"]["register_date"]}
    assert row("driving", same_day)["check_dates_ordered"] is True


# --- bank card, business licence, vehicle -----------------------------------------------


def test_bank_card_columns() -> None:
    out = checked(
        "bankcard",
        {"number": "6222 0202 0011 2233 446"},
        {"number": "6222020200112233441"},
        {"number": "411111111111111"},
        {"number": "62220202OO112233446"},
        {"number": "9999999999999995"},
    )
    assert vals(out["check_card_luhn"]) == [True, False, False, None, True]
    assert vals(out["check_card_length"]) == [True, True, False, True, True]
    assert vals(out["check_card_format"]) == [True, True, True, False, True]
    assert vals(out["check_card_valid"]) == [True, False, False, False, True]
    assert vals(out["check_card_bank"]) == ["中国工商银行", "中国工商银行", None, None, None]
    assert vals(out["check_problems"])[3] == "card number holds non-digits"


def test_bizlicense_columns() -> None:
    out = checked(
        "bizlicense",
        {"reg_num": "91110000600037341l"},
        {"reg_num": "110108000000016"},
        {"reg_num": "91110000600037341M"},
        {"reg_num": "91AB0000600037341L"},
        {},
    )
    assert vals(out["check_reg_num_type"]) == ["uscc", "legacy", "invalid", "invalid", None]
    assert vals(out["check_uscc_valid"]) == [True, None, False, False, None]
    assert vals(out["check_passed"]) == [True, True, False, False, None]
    assert "check character is wrong" in vals(out["check_problems"])[2]


def test_driving_vin_and_plate() -> None:
    out = checked(
        "driving",
        GOOD["driving"],
        {**GOOD["driving"], "vin": "1M8GDM9AYKP042788", "plate_num": "粤I12345"},
        {**GOOD["driving"], "vin": "1M8GDM9AXKP04278Q"},
    )
    assert vals(out["check_vin_valid"]) == [True, False, False]
    assert vals(out["check_vin_checksum"]) == [True, False, None]
    assert vals(out["check_plate_valid"]) == [True, False, True]
    problems = vals(out["check_problems"])
    assert problems[1] == "VIN check digit is wrong; plate number malformed"
    assert problems[2] == "VIN holds I, O or Q, which ISO 3779 excludes"


@pytest.mark.parametrize(
    ("plate", "type_"),
    [
        ("粤B12345", "standard"),
        ("粤b·12345", "standard"),
        ("沪A1234学", "standard"),
        ("京AD12345", "new_energy"),
        ("粤B12345D", "new_energy"),
        ("粤I12345", None),
        ("粤B1234", None),
        ("粤B123456", None),
        ("XB12345", None),
        ("使123456", None),
    ],
)
def test_plates(plate: str, type_: str | None) -> None:
    out = row("platenum", {"number": plate})
    assert out["check_plate_valid"] is (type_ is not None)
    assert out["check_plate_type"] == type_


# --- duplicates -----------------------------------------------------------------------------


def test_duplicates_by_image_and_number() -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    answers = [
        {"id": "11010519491231002X", "sha256": a},
        {"id": "11010519491231002X", "sha256": a},  # the same file twice
        {"id": "360426199101010071", "sha256": b},
        {"id": "360426199101010071", "sha256": c},  # the same number on another image
        {"id": "110105194912310021", "sha256": None},
        {"errcode": 900004, "errmsg": "empty", "sha256": a},
    ]
    out = duplicates(table("idcard", *answers), "idcard")
    assert vals(out["check_image_unique"]) == [False, False, True, True, None, None]
    assert vals(out["check_image_group"]) == [0, 0, None, None, None, None]
    assert vals(out["check_number_unique"]) == [True, True, False, False, True, None]
    assert vals(out["check_number_group"]) == [None, None, 2, 2, None, None]
    problems = add_checks(table("idcard", *answers), "idcard", as_of=AS_OF)["check_problems"]
    assert vals(problems)[0] == "same image as row 1"
    assert vals(problems)[3] == "same document number as row 2 (another image)"


@pytest.mark.parametrize("size", [1, 2, 4])
def test_duplicate_keys_added_part_by_part_give_the_whole_tables_columns(size: int) -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    answers = [
        {"id": "11010519491231002X", "sha256": a},
        {"id": "360426199101010071", "sha256": b},
        {"id": "110105194912310021", "sha256": None},
        {"errcode": 900004, "errmsg": "empty", "sha256": b},
        {"id": "3604 2619 9101 0100 71", "sha256": c},  # the same number, spaced
        {"id": "11010519491231002X", "sha256": a},  # row 0's file, parts later
    ]
    whole = table("idcard", *answers)
    keys = DuplicateKeys("idcard")
    for start in range(0, len(whole), size):
        part = whole.iloc[start : start + size]
        keys.add(part, row_ok(part))
    streamed = {column.name: vals(pd.Series(column.values)) for column in keys.columns()}
    expected = duplicates(whole, "idcard")
    assert list(streamed) == [c for c in expected.columns if c not in whole.columns]
    for name, values in streamed.items():
        assert values == vals(expected[name]), name
    assert streamed["check_image_unique"][0] is False  # its pair is in the last part


def test_duplicate_numbers_are_normalised_and_rows_without_bytes_are_distinct() -> None:
    answers = [{"number": "6222020200112233446"}, {"number": "6222 0202 0011 2233 446"}]
    out = duplicates(table("bankcard", *answers), "bankcard")
    assert vals(out["check_number_unique"]) == [False, False]
    assert vals(out["check_image_unique"]) == [None, None]  # no sha256 at all
