"""``ocr_frames.mask``: what is kept, what is hidden, per value and per table."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_frames import KINDS, mask
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks
from ocr_frames.mask import (
    MASKED_COLUMNS,
    mask_address,
    mask_bank,
    mask_date,
    mask_frame,
    mask_id,
    mask_name,
    mask_plate,
)


def test_public_names() -> None:
    assert mask.__all__ == sorted(mask.__all__)
    for name in mask.__all__:
        assert callable(getattr(mask, name))


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (mask_id, "440106198001101009", "4401**********1009"),
        (mask_id, "44010619800110123x", "4401**********123X"),
        (mask_id, "４４０１ ０６１９ ８００１ １０１２ ３Ｘ", "4401**********123X"),
        (mask_id, "110108000000016", "110*********016"),
        (mask_id, "1234", "1**4"),
        (mask_id, "12", "**"),
        (mask_bank, "6222020200112233445", "6222 **** **** 3445"),
        (mask_bank, "6222 0202 0011 2233 445", "6222 **** **** 3445"),
        (mask_bank, "62220202", "62****02"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_name, "王", "*"),
        (mask_plate, "粤B12345", "粤B***45"),
        (mask_plate, "京AD12345", "京A****45"),
        (mask_plate, "粤B1", "粤**"),
        (mask_address, "广东省广州市天河区1号", "广东省广州****"),
        (mask_address, "北京市朝阳区建国路88号院3号楼", "北京市朝阳区****"),
        (mask_date, date(1980, 1, 10), "1980-**-**"),
        (mask_date, "1980-01-10", "1980-**-**"),
        (mask_date, pd.Timestamp("1980-01-10"), "1980-**-**"),
    ],
)
def test_examples(fn: Any, value: object, expected: str) -> None:
    assert fn(value) == expected


@pytest.mark.parametrize("fn", [mask_id, mask_bank, mask_name, mask_plate, mask_address, mask_date])
@pytest.mark.parametrize("missing", [None, pd.NA, math.nan, pd.NaT])
def test_missing_values_stay_missing(fn: Any, missing: object) -> None:
    assert fn(missing) is None


@given(st.text("0123456789X", min_size=1, max_size=40))
def test_mask_id_never_shows_more_than_half(number: str) -> None:
    masked = mask_id(number)
    assert masked is not None
    assert len(masked) == len(number)
    shown = sum(c != "*" for c in masked)
    assert shown <= len(number) // 2
    assert shown <= 8


ANSWERS: dict[str, dict[str, Any]] = {
    "idcard": {"name": "王伟", "id": "11010519491231002X", "addr": "北京市朝阳区1号"},
    "drivinglicense": {
        "name": "王伟",
        "id_num": "11010519491231002X",
        "address": "北京市朝阳区1号",
        "birth_date": "1949-12-31",
    },
    "bankcard": {"number": "6222020200112233446"},
    "bizlicense": {"legal_representative": "黄敏", "reg_num": "91110000600037341L"},
    "driving": {"owner": "陈伟", "vin": "1M8GDM9AXKP042788", "plate_num": "粤B12345"},
    "platenum": {"number": "粤B12345"},
    "comm": {},
    "menu": {},
}


@pytest.mark.parametrize("kind", KINDS)
def test_mask_frame_masks_the_kinds_personal_columns(kind: str) -> None:
    answers = [{"errcode": 0, "errmsg": "ok", **ANSWERS[kind]}, {"errcode": 101001}]
    df = add_checks(to_pandas(to_arrow(kind, answers), index=pd.Index([5, 9])), kind)
    before = df.copy()
    out = mask_frame(df, kind)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert list(out.columns) == list(df.columns)
    assert list(out.index) == [5, 9]
    for column in MASKED_COLUMNS[kind]:
        if column not in df.columns:
            continue
        assert str(out[column].dtype) == "string"
        assert out[column].isna().tolist() == df[column].isna().tolist()
    text = out.astype(str).to_string()
    for field, value in ANSWERS[kind].items():
        if field in MASKED_COLUMNS[kind]:
            assert value not in text, (field, value)
    if kind == "bizlicense":  # public register data is kept
        assert "91110000600037341L" in text
    if kind in ("idcard", "drivinglicense"):
        assert vals_first(out["check_id_birth_date"]) == "1949-**-**"
    untouched = [c for c in df.columns if c not in MASKED_COLUMNS[kind]]
    pd.testing.assert_frame_equal(out[untouched], df[untouched])


def vals_first(series: pd.Series[Any]) -> Any:
    return series.tolist()[0]
