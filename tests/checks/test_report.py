"""``report`` and ``report_html``: counts per check, a masked page an auditor can open."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ocr_frames import KINDS, checks
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks, report, report_html
from ocr_frames.checks._report import ReportData, render_html

AS_OF = date(2026, 11, 25)
PEOPLE = [
    ("王伟", "11010519491231002X", "女"),
    ("李明", "360426199101010071", "男"),
    ("欧阳娜娜", "110105194912310021", "女"),  # wrong check character
    ("张三", "44010619800110123X", "女"),  # wrong check character, sex disagrees
]


def table(kind: str, answers: list[Mapping[str, Any]]) -> pd.DataFrame:
    full = [{"errcode": 0, "errmsg": "ok", **a} for a in answers]
    return to_pandas(to_arrow(kind, full))


def idcards() -> pd.DataFrame:
    answers: list[Mapping[str, Any]] = [
        {"type": "Front", "name": n, "id": i, "gender": g, "sha256": f"{k:064x}"}
        for k, (n, i, g) in enumerate(PEOPLE)
    ]
    answers.append({"type": "Back", "valid_date": "20000101-20100101", "sha256": "e" * 64})
    answers.append({"errcode": 101001, "errmsg": "no document"})
    df = table("idcard", answers)
    df.insert(0, "source", [f"/scans/2026/customer_{k}.jpg" for k in range(len(df))])
    return df


def test_public_names() -> None:
    assert checks.__all__ == sorted(checks.__all__)
    for name in checks.__all__:
        assert getattr(checks, name) is not None


def test_report_counts_per_check() -> None:
    summary = report(idcards(), "idcard", as_of=AS_OF)
    assert list(summary.columns) == [
        "description",
        "standard",
        "passed",
        "failed",
        "not_applicable",
    ]
    assert summary.index.name == "check"
    assert summary.index[-1] == "check_passed"
    assert "check_id_age" not in summary.index  # derived values are not counted
    counts = summary[["passed", "failed", "not_applicable"]]
    assert (counts.sum(axis=1) == 6).all()
    assert counts.loc["check_id_checksum"].tolist() == [2, 2, 2]
    assert counts.loc["check_id_sex_match"].tolist() == [3, 1, 2]
    assert counts.loc["check_not_expired"].tolist() == [0, 1, 5]
    assert counts.loc["check_passed"].tolist() == [2, 3, 1]
    assert str(summary["passed"].dtype) == "Int64"


def test_report_of_a_checked_table_and_kind_from_attrs() -> None:
    df = idcards()
    direct = report(df, "idcard", as_of=AS_OF)
    pd.testing.assert_frame_equal(report(add_checks(df, "idcard", as_of=AS_OF)), direct)
    df.attrs["ocr_frames"] = {"kind": "idcard"}  # what recognize records
    pd.testing.assert_frame_equal(report(df, as_of=AS_OF), direct)
    with pytest.raises(ValueError, match="pass kind="):
        report(table("idcard", []))


def test_report_survives_a_parquet_round_trip(tmp_path: Path) -> None:
    checked = add_checks(idcards(), "idcard", as_of=AS_OF)
    path = tmp_path / "checked.parquet"
    checked.to_parquet(path)
    again = pd.read_parquet(path)
    pd.testing.assert_frame_equal(report(again, "idcard"), report(checked))


class _Page(HTMLParser):
    """Collects the text and tags of a page, and fails on unbalanced tables."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.depth += tag == "table"

    def handle_endtag(self, tag: str) -> None:
        self.depth -= tag == "table"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_masks_personal_data(tmp_path: Path) -> None:
    df = idcards()
    path = tmp_path / "report.html"
    page = report_html(df, "idcard", path, as_of=AS_OF)
    assert path.read_text(encoding="utf-8") == page
    for name, number, _ in PEOPLE:
        assert number not in page
        assert number.lower() not in page
        assert name not in page
    assert "/scans/2026" not in page  # file names only
    parser = _Page()
    parser.feed(page)
    text = "".join(parser.text)
    assert parser.depth == 0
    assert {"script", "img", "link", "iframe"}.isdisjoint(parser.tags)  # self-contained
    assert "张*" in text and "1101**********0021" in text  # masked, still recognisable
    assert "customer_2.jpg" in text
    assert "ID number check character is wrong" in text
    assert "Rows that failed (3)" in text
    assert "checked as of 2026-11-25" in text


@pytest.mark.parametrize("kind", KINDS)
def test_html_report_for_every_kind_including_empty(kind: str) -> None:
    page = report_html(table(kind, []), kind, as_of=AS_OF)
    assert "No row failed a check." in page
    assert page.startswith("<!doctype html>")


def test_html_report_limits_failing_rows() -> None:
    df = table("bankcard", [{"number": f"62220202001122334{k:02d}"} for k in range(30)])
    page = report_html(df, "bankcard", as_of=AS_OF, max_rows=5)
    assert "more failing rows not shown" in page
    assert "6222 **** **** 34" in page
    assert "6222020200112233" not in page


@pytest.mark.parametrize("size", [1, 3])
def test_report_data_added_part_by_part_is_the_whole_tables(size: int) -> None:
    checked = add_checks(idcards(), "idcard", as_of=AS_OF)
    whole = ReportData("idcard", max_rows=2)
    whole.add(checked)
    parts = ReportData("idcard", max_rows=2)
    for start in range(0, len(checked), size):
        parts.add(checked.iloc[start : start + size])
    pd.testing.assert_frame_equal(parts.summary(), whole.summary())
    counts = ("rows", "passed", "not_checked", "n_failing", "positions")
    assert [getattr(parts, n) for n in counts] == [getattr(whole, n) for n in counts]
    assert len(parts.positions) == 2 < parts.n_failing  # max_rows kept, the rest counted
    pd.testing.assert_frame_equal(pd.concat(parts.failing), pd.concat(whole.failing))
    assert (
        render_html(parts, as_of="x").split("generated")[1][20:]
        == render_html(whole, as_of="x").split("generated")[1][20:]
    )
