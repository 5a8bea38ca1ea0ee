"""apply_reviews on a real output read back from Parquet, and the per-row review state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames.review._apply import (
    STATUSES,
    StaleReviewWarning,
    apply_reviews,
    correctable_fields,
    kind_of_parquet,
    latest_values,
    review_state,
    review_statuses,
)
from ocr_frames.review._store import Review, ReviewLog, read_reviews, reviews_path
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles

AS_OF = date(2026, 1, 1)
GOOD_ID = "440106198001101009"  # GB 11643 check character right
BAD_ID = "440106198001101008"  # one digit off: the check character fails
OTHER_ID = "11010519491231002X"
Reader = Callable[[Path], pd.DataFrame]
READERS: dict[str, Reader] = {
    "of.read_parquet": of.read_parquet,
    "pd.read_parquet": lambda p: pd.read_parquet(p),
    "pd.read_parquet(pyarrow)": lambda p: pd.read_parquet(p, dtype_backend="pyarrow"),
}


@pytest.fixture
def output(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> Path:
    """An idcard output with checks: a wrong ID (low confidence, a suggestion), a right
    one, and a back side."""
    paths = image_files(3)
    answers: list[dict[str, Any]] = [
        {
            "type": "Front",
            "name": "张三",
            "id": BAD_ID,
            "gender": "女",
            "confidence": {"id": 0.4, "name": 0.99},
            "suggested": {"id": GOOD_ID},
        },
        {"type": "Front", "name": "李四", "id": OTHER_ID, "gender": "女"},
        {"type": "Back", "valid_date": "20170101-20270101"},
    ]
    for path, answer in zip(paths, answers, strict=True):
        emulator.register(Path(path).read_bytes(), "idcard", answer)
    out = tmp_path / "ids.parquet"
    of.recognize_to_parquet(
        paths,
        "idcard",
        out,
        engine=engine,
        cache_dir=tmp_path / "cache",
        progress=False,
        checks=True,
        as_of=AS_OF,
    )
    return out


def _review(df: pd.DataFrame, row: int, decision: str, **kw: object) -> Review:
    page = df["page"].iloc[row]
    return Review(
        row,
        str(df["sha256"].iloc[row]),
        None if pd.isna(page) else int(page),
        kw.pop("field", None),  # type: ignore[arg-type]
        None,
        kw.pop("new", None),  # type: ignore[arg-type]
        decision,
        **kw,  # type: ignore[arg-type]
    )


def _log(output: Path, *records: Review) -> Path:
    log = ReviewLog(reviews_path(output))
    log.append(list(records))
    return log.path


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_corrected_id_passes_its_checks_and_leaves_the_review_queue(
    output: Path, reader: Reader
) -> None:
    df = reader(output)
    before = df.copy(deep=True)
    assert df["check_id_checksum"].tolist()[:2] == [False, True]
    assert bool(df["needs_review"].iloc[0]) is True
    path = _log(output, _review(df, 0, "correct", field="id", new=GOOD_ID))

    out = apply_reviews(df, path, kind="idcard", as_of=AS_OF)

    assert out["id"].iloc[0] == GOOD_ID
    assert out["check_id_checksum"].iloc[0] == True  # noqa: E712 - numpy / NA-aware bools
    assert out["check_id_valid"].iloc[0] == True  # noqa: E712
    assert out["check_passed"].iloc[0] == True  # noqa: E712
    assert out["id_conf"].iloc[0] == 1.0  # a person read it
    assert pd.isna(out["id_suggested"].iloc[0])
    assert out["name_conf"].iloc[0] == pytest.approx(0.99)  # other fields untouched
    assert bool(out["needs_review"].iloc[0]) is False
    assert list(out["review_reasons"].iloc[0]) == []
    assert out["review_status"].tolist() == ["corrected", "unreviewed", "unreviewed"]
    pd.testing.assert_frame_equal(df, before)  # the input is unchanged
    assert list(out.columns) == [*df.columns, "review_status"]
    assert out.index.equals(df.index)
    for column in df.columns:  # one row corrected: the others are as they were
        assert out[column].iloc[1:].astype(object).equals(df[column].iloc[1:].astype(object))


def test_a_correction_that_still_fails_keeps_the_row_in_the_queue(output: Path) -> None:
    df = of.read_parquet(output)
    wrong = "440106198001101007"
    path = _log(output, _review(df, 0, "correct", field="id", new=wrong))
    out = apply_reviews(df, path, as_of=AS_OF)  # kind from df.attrs
    assert out["check_id_checksum"].iloc[0] == False  # noqa: E712
    assert bool(out["needs_review"].iloc[0]) is True
    assert list(out["review_reasons"].iloc[0]) == ["check_id_checksum"]  # conf, suggestion gone
    assert out["review_status"].iloc[0] == "corrected"


def test_a_corrected_number_is_compared_with_the_other_rows(output: Path) -> None:
    df = of.read_parquet(output)
    path = _log(output, _review(df, 0, "correct", field="id", new=OTHER_ID))
    out = apply_reviews(df, path, as_of=AS_OF)
    assert out["check_id_checksum"].iloc[0] == True  # noqa: E712
    assert out["check_number_unique"].iloc[0] == False  # noqa: E712 - row 1 has it too
    assert bool(out["needs_review"].iloc[0]) is True
    assert list(out["review_reasons"].iloc[0]) == ["check_number_unique"]


def test_statuses_follow_the_latest_decision_in_time_not_in_file_order(output: Path) -> None:
    df = of.read_parquet(output)
    t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
    path = _log(
        output,
        _review(df, 0, "approve", at=t0 + timedelta(minutes=5)),
        _review(df, 0, "reject", at=t0),  # written later, decided earlier
        _review(df, 1, "reject", at=t0),
        _review(df, 2, "correct", field="name", new="王五", at=t0),
        _review(df, 2, "correct", field="name", new="王六", at=t0),  # tie: file order
    )
    out = apply_reviews(df, read_reviews(path), as_of=AS_OF)
    assert out["review_status"].tolist() == ["approved", "rejected", "corrected"]
    assert set(out["review_status"]) <= set(STATUSES)
    assert out["name"].iloc[2] == "王六"
    assert [bool(v) for v in out["needs_review"]] == [False, False, False]
    assert list(out["review_reasons"].iloc[0]) == list(df["review_reasons"].iloc[0])  # kept
    sha = df["sha256"].tolist()
    assert review_statuses(path, sha) == ["approved", "rejected", "corrected"]
    assert latest_values(path, sha) == [{}, {}, {"name": "王六"}]
    assert review_state(pq.read_table(path), sha) == {
        0: ("approve", {}),
        1: ("reject", {}),
        2: ("correct", {"name": "王六"}),
    }


def test_reviews_of_another_image_or_row_are_skipped_with_a_warning(output: Path) -> None:
    df = of.read_parquet(output)
    stale = Review(0, "00" * 32, None, "id", None, GOOD_ID, "correct")
    gone = Review(7, str(df["sha256"].iloc[0]), None, None, None, None, "reject")
    path = _log(output, stale, gone, _review(df, 1, "approve"))
    with pytest.warns(StaleReviewWarning, match=r"2 review\(s\) not applied: 1 .* 1 a row out"):
        out = apply_reviews(df, path, as_of=AS_OF)
    assert out["id"].iloc[0] == BAD_ID
    assert out["review_status"].tolist() == ["unreviewed", "approved", "unreviewed"]
    assert review_statuses(path, df["sha256"].tolist()) == out["review_status"].tolist()


def test_a_validity_correction_recomputes_its_dates(output: Path) -> None:
    df = of.read_parquet(output)
    path = _log(output, _review(df, 2, "correct", field="valid_date", new="20200301-长期"))
    out = apply_reviews(df, path, as_of=AS_OF)
    assert out["valid_date_start"].iloc[2] == date(2020, 3, 1)
    assert pd.isna(out["valid_date_end"].iloc[2])
    assert out["valid_date_long_term"].iloc[2] == True  # noqa: E712
    assert out["check_not_expired"].iloc[2] == True  # noqa: E712
    assert out["valid_date_conf"].iloc[2] == 1.0


@pytest.mark.parametrize("field", ["id_conf", "check_id_valid", "valid_date_start", "sha256"])
def test_only_the_kinds_own_fields_can_be_corrected(output: Path, field: str) -> None:
    df = of.read_parquet(output)
    path = _log(output, _review(df, 0, "correct", field=field, new="1"))
    with pytest.raises(ValueError, match=f"row 0: '{field}' cannot be corrected"):
        apply_reviews(df, path)


def test_the_kind_comes_from_the_frame_or_must_be_given(output: Path) -> None:
    path = _log(output)
    with pytest.raises(ValueError, match="pass kind="):
        apply_reviews(pd.read_parquet(output), path)
    assert kind_of_parquet(output) == "idcard"
    out = apply_reviews(pd.read_parquet(output), path, kind=kind_of_parquet(output))
    assert out["review_status"].tolist() == ["unreviewed"] * 3


# --- a kind with date fields, built to its schema ------------------------------------


@pytest.fixture
def licences(tmp_path: Path) -> Path:
    schema = of.schema("drivinglicense")
    rows: list[dict[str, Any]] = [
        {"id_num": GOOD_ID, "name": "张三", "birth_date": None, "birth_date_raw": "1980年1月"},
        {"id_num": GOOD_ID, "name": "张三", "birth_date": date(1980, 1, 10)},
    ]
    for i, row in enumerate(rows):
        row.update(errcode=0, errmsg="ok", sha256=f"{i:064x}", cached=False, birth_date_conf=0.3)
    path = tmp_path / "licences.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_a_date_is_corrected_from_iso_text(licences: Path, reader: Reader) -> None:
    df = reader(licences)
    path = _log(licences, _review(df, 0, "correct", field="birth_date", new="1980-01-10"))
    out = apply_reviews(df, path, kind="drivinglicense")
    assert out["birth_date"].iloc[0] == date(1980, 1, 10) == out["birth_date"].iloc[1]
    assert pd.isna(out["birth_date_raw"].iloc[0])
    assert out["birth_date_conf"].iloc[0] == 1.0 and out["birth_date_conf"].iloc[1] < 0.5
    assert out["birth_date"].dtype == df["birth_date"].dtype


@pytest.mark.parametrize("bad", ["1980-13-01", "10/01/1980", "19800110", "soon"])
def test_a_value_that_is_no_date_raises_naming_row_and_field(licences: Path, bad: str) -> None:
    df = of.read_parquet(licences)
    path = _log(licences, _review(df, 1, "correct", field="birth_date", new=bad))
    with pytest.raises(ValueError, match=r"row 1: 'birth_date' cannot be set to .*ISO date"):
        apply_reviews(df, path, kind="drivinglicense")


def test_correctable_fields_come_from_the_kind() -> None:
    fields = correctable_fields("driving")
    assert fields["register_date"] == pa.date32() and fields["vin"] == pa.string()
    assert fields["card_position_front_pos_left_top_x"] == pa.int32()
    assert not {"register_date_raw", "vin_conf", "vin_suggested", "page", "extra"} & set(fields)
    assert set(correctable_fields("idcard")) == set(of.kinds.spec("idcard").strings)


def test_a_frame_of_reviews_that_make_no_sense_is_refused(output: Path) -> None:
    df = of.read_parquet(output)
    path = _log(output, _review(df, 0, "approve"))
    reviews = read_reviews(path)
    reviews.loc[0, "decision"] = "maybe"
    with pytest.raises(ValueError, match="row 0: not a valid review"):
        apply_reviews(df, reviews)
    with pytest.raises(ValueError, match="not a table of reviews"):
        apply_reviews(df, reviews.drop(columns=["sha256"]))
