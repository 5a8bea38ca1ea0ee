"""``needs_review`` / ``review_reasons`` over Arrow and pandas, and the review counts of
``report`` and ``report_html``: made-up tables whose every reason is known."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks, add_review, report, report_html
from ocr_frames.checks._review import reason_counts, review_reasons
from ocr_frames.kinds import schema
from ocr_frames.mask import mask_frame


def table(kind: str, answers: list[Mapping[str, Any]]) -> pd.DataFrame:
    full = [{"errcode": 0, "errmsg": "ok", **a} for a in answers]
    return to_pandas(to_arrow(kind, full))


ITEMS = pa.list_(pa.struct([("text", pa.string()), ("conf", pa.float32())]))


def _table() -> pa.Table:
    """Five rows: clean; everything wrong; an error row; nulls only; a conf at the threshold."""
    return pa.table(
        {
            "id": ["a", "b", None, "d", "e"],
            "items": pa.array(
                [[{"text": "x", "conf": 0.99}], [{"text": "y", "conf": 0.2}], None, [], None],
                ITEMS,
            ),
            "errcode": pa.array([0, 0, 900002, 0, 0], pa.int64()),
            "check_id_checksum": [True, False, None, None, True],
            "check_id_valid": [True, False, None, None, True],  # composite: never a reason
            "check_image_unique": [True, False, None, None, True],
            "check_id_age": pa.array([30, 20, None, None, 40], pa.int64()),  # a value
            "check_passed": [True, False, None, None, True],
            "warn_blur": [False, True, None, None, False],
            "warn_glare": [False, True, None, None, False],
            "id_conf": pa.array([0.95, 0.5, None, None, 0.9], pa.float32()),
            "id_suggested": [None, "c", None, None, None],
        }
    )


EXPECTED = [
    [],
    [
        "check_id_checksum",
        "check_image_unique",
        "warn_blur",
        "warn_glare",
        "low confidence: items",  # in the table's column order
        "low confidence: id",
        "suggestion: id",
    ],
    ["errcode 900002"],
    [],
    [],  # 0.9 is not below 0.9
]


def test_reasons_in_order_and_nulls_are_no_reason() -> None:
    out = add_review(_table())
    assert out.column_names[-2:] == ["needs_review", "review_reasons"]
    assert out.schema.field("needs_review").type == pa.bool_()
    assert out.schema.field("review_reasons").type == pa.list_(pa.string())
    assert out["review_reasons"].to_pylist() == EXPECTED
    assert out["needs_review"].to_pylist() == [False, True, True, False, False]
    assert out["needs_review"].null_count == 0


def test_threshold_moves_the_confidence_reasons() -> None:
    strict = review_reasons(_table(), threshold=1.0).to_pylist()
    assert strict[0] == ["low confidence: items", "low confidence: id"]  # 0.99, 0.95 < 1
    assert strict[4] == ["low confidence: id"]  # 0.9 < 1; no items: no reason
    lax = review_reasons(_table(), threshold=0.0).to_pylist()
    assert not any(r.startswith("low confidence") for row in lax for r in row)


def test_pandas_frame_gets_the_same_reasons_with_its_index_and_attrs() -> None:
    df = _table().to_pandas(types_mapper=pd.ArrowDtype)
    df.index = pd.Index([10, 11, 12, 13, 14])
    df.attrs["ocr_frames"] = {"kind": "idcard"}
    out = add_review(df)
    assert out["review_reasons"].tolist() == EXPECTED
    assert str(out["needs_review"].dtype) == "boolean"
    assert out["review_reasons"].dtype == pd.ArrowDtype(pa.list_(pa.string()))
    assert list(out.index) == [10, 11, 12, 13, 14] and out.attrs == df.attrs
    assert "needs_review" not in df.columns  # a copy
    again = add_review(out)  # recomputed in place, not appended twice
    assert list(again.columns) == list(out.columns)


def test_no_candidate_columns_no_reasons() -> None:
    out = add_review(pa.table({"x": [1, 2]}))
    assert out["review_reasons"].to_pylist() == [[], []]
    assert add_review(pa.table({"errcode": pa.array([], pa.int64())})).num_rows == 0


def test_masking_hides_no_reason_and_reasons_hold_no_values() -> None:
    rows = [
        {"type": "Front", "name": "王小明", "id": "11010519491231002X"},
        {"type": "Front", "name": "李四", "id": "110105194912310021"},  # wrong check char
    ]
    checked = add_checks(table("idcard", rows), "idcard", as_of=date(2026, 1, 1))
    plain = add_review(checked)["review_reasons"].tolist()
    masked = add_review(mask_frame(checked, "idcard"))["review_reasons"].tolist()
    assert plain == masked and plain[0] == [] and "check_id_checksum" in plain[1]
    assert not any("110105" in r or "李" in r for r in plain[1])


def test_counts_per_reason() -> None:
    reasons = pa.array([["b", "a"], [], ["a"], None], pa.list_(pa.string()))
    assert reason_counts(reasons) == {"a": 2, "b": 1}
    assert reason_counts(pa.array([], pa.list_(pa.string()))) == {}


def test_report_and_html_count_rows_per_reason() -> None:
    rows = [
        {"type": "Front", "name": "王小明", "id": "11010519491231002X"},
        {"type": "Front", "name": "李四", "id": "110105194912310021"},
        {"errcode": 101001, "errmsg": "no card"},
    ]
    df = table("idcard", rows)
    summary = report(df, "idcard", as_of=date(2026, 1, 1))
    assert summary.index[-1] == "check_passed"  # the existing content is kept
    assert summary.attrs["needs_review"] == 2
    counts = summary.attrs["review_reasons"]
    assert counts["errcode 101001"] == 1 and counts["check_id_checksum"] == 1
    page = report_html(df, "idcard", as_of=date(2026, 1, 1))
    assert "Needs review (2 rows)" in page and "<code>errcode 101001</code>" in page
    assert "<code>check_id_checksum</code>" in page and "Rows that failed" in page
    clean = report_html(df.iloc[:1], "idcard", as_of=date(2026, 1, 1))
    assert "No row needs review." in clean


@pytest.mark.parametrize("kind", ["idcard", "comm"])
def test_every_kind_table_can_be_reviewed(kind: str) -> None:
    empty = schema(kind).empty_table()
    assert add_review(empty).column_names[-2:] == ["needs_review", "review_reasons"]


def test_list_item_reasons_survive_a_round_trip_through_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from ocr_frames._tables.flatten import to_arrow

    answer = {"errcode": 0, "menu_items": [{"name": "面", "price": 9, "conf": 0.4}]}
    table = to_arrow("menu", [answer, {"errcode": 0, "menu_items": []}])
    pq.write_table(table, tmp_path / "menu.parquet")
    frame = pd.read_parquet(tmp_path / "menu.parquet")  # items as Python objects
    reviewed = add_review(frame)
    assert reviewed["review_reasons"].tolist()[0] == ["low confidence: menu_items"]
    assert reviewed["needs_review"].tolist() == [True, False]
