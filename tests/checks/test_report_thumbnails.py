"""``report_html`` for review: the rows to review, links to their review pages, and small
blurred thumbnails of the real sample images (a missing or broken image costs its cell
only)."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
from collections.abc import Mapping
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ocr_frames._sources.display as display
from ocr_frames._sources.display import ImageIndex, thumbnail
from ocr_frames._tables.flatten import to_arrow
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks, add_review, report_html
from ocr_frames.checks._report import THUMBNAIL_SIDE, ReportData, render_html
from tests.helpers import REPO

AS_OF = date(2026, 11, 25)
GOOD, BAD = "11010519491231002X", "110105194912310021"  # BAD: wrong check character
SAMPLES = REPO / "sample_data" / "idcard"
URL = "https://example.com/idcard_05.jpg"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("idcard_01.jpg", "idcard_02.jpg", "idcard_03.jpg", "idcard_04.jpg"):
        shutil.copy(SAMPLES / name, folder / name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def idcards(folder: Path) -> pd.DataFrame:
    """Rows: 0 clean, 1 bad number, 2 an error row, 3 bad number + a missing file, 4 bad
    number + a URL, 5 bad number + a broken file, 6 bad number."""
    files = ["idcard_01", "idcard_02", "idcard_03", "gone", None, "broken", "idcard_04"]
    sources = [URL if f is None else str(folder / f"{f}.jpg") for f in files]
    answers: list[Mapping[str, Any]] = []
    for k, source in enumerate(sources):
        path = Path(source)
        digest = _sha(path) if path.is_file() else f"{k:064x}"
        answers.append({"type": "Front", "name": "王伟", "id": BAD, "sha256": digest})
    answers[0] = {**answers[0], "id": GOOD}
    answers[2] = {"errcode": 101001, "errmsg": "no document", "sha256": answers[2]["sha256"]}
    full = [{"errcode": 0, "errmsg": "ok", **a} for a in answers]
    df = to_pandas(to_arrow("idcard", full))
    df.insert(0, "source", sources)
    return add_review(add_checks(df, "idcard", as_of=AS_OF))


def flagged(df: pd.DataFrame) -> list[int]:
    return [i for i, reasons in enumerate(df["review_reasons"]) if len(reasons)]


def failed(df: pd.DataFrame) -> list[int]:
    return [i for i, ok in enumerate(df["check_passed"].tolist()) if ok is False]


class _Tables(HTMLParser):
    """The ``rows`` tables of a page: per table, per row, its number, link, image."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[dict[str, Any]]] = []
        self.tags: list[str] = []
        self.styles = 0
        self._row: dict[str, Any] | None = None
        self._in_rows = self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        self.styles += "style" in found
        if tag == "table":
            self._in_rows = found.get("class") == "rows"
            if self._in_rows:
                self.tables.append([])
        elif tag == "tbody" and self._in_rows:
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = {"text": [], "href": None, "img": None}
        elif self._row is not None and tag == "a":
            self._row["href"] = found["href"]
        elif self._row is not None and tag == "img":
            self._row["img"] = found["src"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self._row["number"] = int(self._row["text"][0])
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "table":
            self._in_rows = self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._row is not None and data.strip():
            self._row["text"].append(data.strip())


def parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def decode(uri: str) -> Image.Image:
    head, _, body = uri.partition(",")
    assert head == "data:image/jpeg;base64"
    img = Image.open(io.BytesIO(base64.b64decode(body)))
    assert img.format == "JPEG"
    return img


def detail(img: Image.Image) -> float:
    """High-frequency energy: mean absolute difference between neighbouring pixels."""
    grey = np.asarray(img.convert("L"), dtype=float)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def test_rows_to_review_are_listed_with_reasons(images: Path) -> None:
    df = idcards(images)
    unreviewed = df.drop(columns=["needs_review", "review_reasons"])  # computed by the report
    page = report_html(unreviewed, "idcard", as_of=AS_OF)
    review, failing = parse(page).tables
    assert [r["number"] for r in review] == flagged(df)
    assert 0 not in flagged(df) and 2 in flagged(df)  # the error row needs review
    assert [r["number"] for r in failing] == failed(df) != []
    error_row = review[flagged(df).index(2)]["text"]
    assert "errcode 101001" in error_row and "idcard_03.jpg" in error_row
    assert f"Rows to review ({len(flagged(df))})" in page
    assert "<img" not in page and "<a " not in page  # neither asked for
    assert "No row needs review." in report_html(df.iloc[[0]], "idcard", as_of=AS_OF)


def test_thumbnails_are_small_blurred_jpegs(images: Path, tmp_path: Path) -> None:
    assert 96 <= THUMBNAIL_SIDE <= 128
    df = idcards(images)
    page = report_html(df, "idcard", as_of=AS_OF, thumbnails=True)
    review, failing = parse(page).tables
    by_row = {r["number"]: r for r in [*review, *failing]}
    for row in (1, 2, 6):
        img = decode(by_row[row]["img"])
        assert max(img.size) <= THUMBNAIL_SIDE
        shown = ImageIndex([df["source"][row]], [None], [None], base_dir=tmp_path).display(0)
        sharp = Image.open(io.BytesIO(thumbnail(shown, side=THUMBNAIL_SIDE, blur=False)))
        assert img.size == sharp.size  # the row's own image, upright
        assert detail(img) < 0.4 * detail(sharp), row
    assert by_row[1]["img"] != by_row[6]["img"]  # each row its own image
    for row in (3, 4, 5):  # missing file, URL, broken file
        assert by_row[row]["img"] is None
        assert "no image" in by_row[row]["text"]
    assert str(images) not in page and "/scans/" not in page  # file names only
    with_image = [r for r in [*review, *failing] if r["number"] not in (3, 4, 5)]
    assert page.count("<img src='data:image/jpeg;base64,") == len(with_image)


def test_each_listed_image_is_read_once_and_only_those(
    images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = display.ImageIndex.display

    def counted(self: ImageIndex, row: int, *args: Any, **kwargs: Any) -> display.Shown:
        calls.append(row)
        return real(self, row, *args, **kwargs)

    monkeypatch.setattr(display.ImageIndex, "display", counted)
    df = idcards(images)
    report_html(df, "idcard", as_of=AS_OF, thumbnails=True)
    listed = set(flagged(df)) | set(failed(df))
    assert len(calls) == len(listed)  # a row in both tables: read once
    calls.clear()
    page = report_html(df, "idcard", as_of=AS_OF, thumbnails=True, max_rows=2)
    review, failing = parse(page).tables
    assert len(review) == len(failing) == 2
    assert len(calls) == len({r["number"] for r in [*review, *failing]})
    assert f"{len(flagged(df)) - 2} more rows to review not shown" in page


def test_images_moved_to_a_folder_or_relative_to_base_dir(images: Path, tmp_path: Path) -> None:
    df = idcards(images)
    moved = df.assign(source=[f"/elsewhere/{Path(s).name}" for s in df["source"]])
    page = report_html(moved, "idcard", as_of=AS_OF, thumbnails=True, images=images)
    assert parse(page).tables[0][0]["img"] is not None
    relative = df.assign(source=[f"scans/{Path(s).name}" for s in df["source"]])
    page = report_html(relative, "idcard", as_of=AS_OF, thumbnails=True, base_dir=tmp_path)
    assert parse(page).tables[0][0]["img"] is not None
    page = report_html(relative, "idcard", as_of=AS_OF, thumbnails=True, base_dir=images)
    assert parse(page).tables[0][0]["img"] is None  # (scans/scans/... is not there)
    with pytest.raises(ValueError, match="not a directory"):
        report_html(df, "idcard", as_of=AS_OF, thumbnails=True, images=images / "idcard_01.jpg")


def test_review_links_are_escaped(images: Path) -> None:
    df = idcards(images)
    page = report_html(df, "idcard", as_of=AS_OF, review_link=lambda i: f"/rows/{i}?token=a&b=c")
    review, failing = parse(page).tables
    for row in [*review, *failing]:
        assert row["href"] == f"/rows/{row['number']}?token=a&b=c"  # unescaped by the parser
    assert "?token=a&amp;b=c" in page
    evil = report_html(df, "idcard", as_of=AS_OF, review_link=lambda i: "'\"><script>x</script>")
    tables = parse(evil)
    assert "script" not in tables.tags
    assert all(r["href"] == "'\"><script>x</script>" for r in tables.tables[0])
    assert "<script" not in evil


def test_the_page_stays_masked_and_self_contained(images: Path) -> None:
    df = idcards(images)
    page = report_html(
        df, "idcard", as_of=AS_OF, thumbnails=True, review_link=lambda i: f"/rows/{i}"
    )
    assert GOOD not in page and BAD not in page and "王伟" not in page
    assert "1101**********0021" in page and "王*" in page
    tables = parse(page)
    assert {"script", "link", "iframe"}.isdisjoint(tables.tags)
    assert tables.tags.count("style") == 1 and tables.styles == 0  # a CSP can hash it
    srcs = [r["img"] for t in tables.tables for r in t if r["img"]]
    assert srcs and all(s.startswith("data:image/jpeg;base64,") for s in srcs)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_rows_to_review_added_part_by_part_are_the_whole_tables(images: Path, size: int) -> None:
    df = idcards(images)
    whole = ReportData("idcard", max_rows=4)
    whole.add(df)
    parts = ReportData("idcard", max_rows=4)
    for start in range(0, len(df), size):
        parts.add(df.iloc[start : start + size])
    assert parts.review_positions == whole.review_positions == flagged(df)[:4]
    pd.testing.assert_frame_equal(pd.concat(parts.reviewing), pd.concat(whole.reviewing))

    def body(data: ReportData) -> str:
        return render_html(data, as_of="x", thumbnails=True).split("generated")[1][20:]

    assert body(parts) == body(whole)
