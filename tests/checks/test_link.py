"""``link``: the same person across an ID card and a licence, the same vehicle across images."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
import pytest

from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import link

WANG = "11010519491231002X"  # female, born 1949-12-31
LI = "360426199101010071"  # male, born 1991-01-01


def table(kind: str, *answers: Mapping[str, Any], index: Any = None) -> pd.DataFrame:
    full = [{"errcode": 0, "errmsg": "ok", **a} for a in answers]
    return to_pandas(to_arrow(kind, full), index=index)


def vals(series: pd.Series[Any]) -> list[Any]:
    return [None if v is pd.NA else v for v in series.tolist()]


def idcard(number: str, name: str, gender: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Front", "id": number, "name": name, "gender": gender, **extra}


def licence(number: str, name: str, sex: str, birth: str | None, **extra: Any) -> dict[str, Any]:
    return {"id_num": number, "name": name, "sex": sex, "birth_date": birth, **extra}


def test_same_person_matches_field_by_field() -> None:
    ids = table(
        "idcard",
        idcard(WANG, "王 伟", "女"),
        idcard(LI, "李明", "男"),
        {"type": "Back", "valid_date": "20150301-长期"},  # no ID number: not linked
        index=pd.Index(["x", "y", "z"]),
    )
    dls = table(
        "drivinglicense",
        licence(LI, "李鸣", "男", "1991-01-01"),  # a different name
        licence("11010519491231002x", "王伟", "女", "1949-12-31"),  # lowercase x
        {"errcode": 101001, "errmsg": "no document", "id_num": LI},  # error rows never link
    )
    out = link({"drivinglicense": dls, "idcard": ids})
    assert list(out.columns) == [
        "key",
        "status",
        "idcard_row",
        "drivinglicense_row",
        *(
            f"{prefix}{field}"
            for field in ("id_number", "name", "birth_date", "sex")
            for prefix in ("idcard_", "drivinglicense_", "match_")
        ),
    ]
    assert vals(out["key"]) == [WANG, LI]  # sorted by key
    assert vals(out["status"]) == ["match", "mismatch"]
    assert vals(out["idcard_row"]) == [0, 1]  # positions, whatever the index
    assert vals(out["drivinglicense_row"]) == [1, 0]
    assert vals(out["match_name"]) == [True, False]
    assert vals(out["match_birth_date"]) == [True, True]
    assert vals(out["match_sex"]) == [True, True]
    assert vals(out["idcard_birth_date"]) == [date(1949, 12, 31), date(1991, 1, 1)]
    assert str(out["idcard_row"].dtype) == "Int64"
    assert str(out["match_name"].dtype) == "boolean"
    assert str(out["key"].dtype) == "string"


def test_birth_date_and_sex_disagreements() -> None:
    ids = table("idcard", idcard(WANG, "王伟", "男"))
    dls = table("drivinglicense", licence(WANG, "王伟", "女", "1950-01-01"))
    out = link({"idcard": ids, "drivinglicense": dls})
    assert vals(out["status"]) == ["mismatch"]
    assert vals(out["match_birth_date"]) == [False]
    assert vals(out["match_sex"]) == [False]
    assert vals(out["match_name"]) == [True]


def test_missing_licence_birth_date_falls_back_to_its_id_number() -> None:
    ids = table("idcard", idcard(WANG, "王伟", "女"))
    dls = table("drivinglicense", licence(WANG, "王伟", "女", None))
    out = link({"idcard": ids, "drivinglicense": dls})
    assert vals(out["drivinglicense_birth_date"]) == [date(1949, 12, 31)]
    assert vals(out["status"]) == ["match"]


def test_unpaired_rows_and_one_to_many() -> None:
    ids = table("idcard", idcard(WANG, "王伟", "女"), idcard(WANG, "王伟", "女"))
    dls = table(
        "drivinglicense", licence(WANG, "王伟", "女", "1949-12-31"), licence(LI, "李明", "男", None)
    )
    out = link({"idcard": ids, "drivinglicense": dls})
    assert vals(out["status"]) == ["match", "match", "only_drivinglicense"]
    assert vals(out["idcard_row"]) == [0, 1, None]
    assert vals(out["match_name"]) == [True, True, None]


def test_on_a_column_of_your_own_compares_the_id_numbers() -> None:
    ids = table("idcard", idcard(WANG, "王伟", "女"), idcard(LI, "李明", "男"))
    ids["customer"] = ["c1", "c2"]
    dls = table("drivinglicense", licence(LI, "王伟", "女", "1949-12-31"))
    dls["customer"] = ["c1"]
    out = link({"idcard": ids, "drivinglicense": dls}, on="customer")
    assert vals(out["key"]) == ["c1", "c2"]
    assert vals(out["status"]) == ["mismatch", "only_idcard"]
    assert vals(out["match_id_number"]) == [False, None]
    with pytest.raises(ValueError, match="no column 'case'"):
        link({"idcard": ids, "drivinglicense": dls}, on="case")


def test_same_vehicle_by_plate() -> None:
    regs = table(
        "driving",
        {"plate_num": "粤B12345", "vin": "1M8GDM9AXKP042788"},
        {"plate_num": "京AD12345"},
    )
    plates = table("platenum", {"number": "粤b·12345"}, {"number": "沪A00001"})
    out = link({"driving": regs, "platenum": plates})
    assert vals(out["key"]) == ["京AD12345", "沪A00001", "粤B12345"]
    assert vals(out["status"]) == ["only_driving", "only_platenum", "match"]
    assert vals(out["match_plate"]) == [None, None, True]


@pytest.mark.parametrize(
    "kinds", [("idcard", "platenum"), ("idcard",), ("idcard", "drivinglicense", "driving")]
)
def test_unsupported_pairs(kinds: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="expected frames for the kinds"):
        link({kind: table(kind) for kind in kinds})


def test_empty_frames() -> None:
    out = link({"idcard": table("idcard"), "drivinglicense": table("drivinglicense")})
    assert len(out) == 0
    assert str(out["match_name"].dtype) == "boolean"
