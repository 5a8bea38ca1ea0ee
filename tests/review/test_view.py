"""The row view (``row_detail``, ``render_row``), ``of.show`` / ``df.ocr.show`` and the
session's answers, without a browser: a real output written by the pipeline, read back."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

import ocr_frames as of
from ocr_frames.review import ReviewSession
from ocr_frames.review._session import RequestError
from ocr_frames.review._show import scoped_css
from ocr_frames.review._view import render_row, row_detail
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles

QUAD = {
    "pos": {
        "left_top": {"x": 10, "y": 12},
        "right_top": {"x": 90, "y": 11},
        "right_bottom": {"x": 91, "y": 60},
        "left_bottom": {"x": 9, "y": 61},
    }
}
EVIL = "<script>alert('x')</script>"


@pytest.fixture
def driving(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> Path:
    """A driving output: a clean row, one with a hostile owner name and a low confidence,
    and one whose image is then deleted."""
    paths = image_files(3)
    answers: list[dict[str, Any]] = [
        {"plate_num": "苏A12345", "owner": "陈志", "card_position_front": QUAD},
        {
            "plate_num": "苏B12345",
            "owner": EVIL,
            "vin": "LBY8RU0K0EZYDKTNF",
            "card_position_front": QUAD,
            "confidence": {"owner": 0.3},
        },
        {"plate_num": "苏C12345", "owner": "王五"},
    ]
    for path, answer in zip(paths, answers, strict=True):
        emulator.register(Path(path).read_bytes(), "driving", answer)
    out = tmp_path / "cars.parquet"
    of.recognize_to_parquet(
        paths, "driving", out, engine=engine, cache_dir=tmp_path / "cache", progress=False
    )
    Path(paths[2]).unlink()
    return out


def test_row_detail_holds_fields_confidence_boxes_and_masks_by_default(driving: Path) -> None:
    df = pd.read_parquet(driving)
    detail = row_detail(df, 1, "driving")
    fields = {f["name"]: f for f in detail["fields"]}
    assert fields["owner"]["conf"] == pytest.approx(0.3)
    assert fields["owner"]["band"] == "low"
    assert fields["plate_num"]["value"] == "苏B***45"  # masked as mask_frame masks plates
    assert detail["boxes"] == [
        {
            "kind": "card",
            "label": "card_position_front",
            "points": [(10, 12), (90, 11), (91, 60), (9, 61)],
        }
    ]
    assert detail["masked"] is True
    unmasked = row_detail(df, 1, "driving", mask=False)
    assert {f["name"]: f["value"] for f in unmasked["fields"]}["plate_num"] == "苏B12345"
    json.dumps(detail)  # plain JSON data


def test_render_row_escapes_every_value(driving: Path) -> None:
    df = pd.read_parquet(driving)
    html = render_row(row_detail(df, 1, "driving", mask=False), None)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "Image not available" in html


def test_show_embeds_the_image_with_its_boxes_beside_the_fields(driving: Path) -> None:
    df = of.read_parquet(driving)
    view = of.show(df, 0)
    assert view._repr_html_() == view.html
    uri = re.search(r"src='data:image/jpeg;base64,([^']+)'", view.html)
    assert uri is not None
    image = Image.open(io.BytesIO(base64.b64decode(uri.group(1))))
    assert max(image.size) <= 720 and image.size[0] > 0
    assert "<polygon class='of-box of-box-card' points='10,12 90,11 91,60 9,61'>" in view.html
    assert "陈志" in view.html  # show() does not mask unless asked
    assert df.ocr.show(0).html == view.html  # the accessor is the same function


def test_show_masked_blurs_the_image_and_masks_the_values(driving: Path) -> None:
    df = of.read_parquet(driving)

    def pixels(html: str) -> Image.Image:
        found = re.search(r"base64,([^']+)'", html)
        assert found is not None
        return Image.open(io.BytesIO(base64.b64decode(found.group(1)))).convert("L")

    plain, masked = of.show(df, 0), of.show(df, 0, mask=True)
    assert "陈志" not in masked.html and "陈*" in masked.html
    edges = [
        sum(abs(a - b) for a, b in zip(img.tobytes(), img.tobytes()[1:], strict=False))
        for img in (pixels(plain.html), pixels(masked.html))
    ]
    assert edges[1] < edges[0] / 3  # blurred: far less detail


def test_show_says_when_the_image_is_missing_and_finds_moved_files(
    driving: Path, tmp_path: Path
) -> None:
    df = of.read_parquet(driving)
    assert "Image not available: not found" in of.show(df, 2).html
    moved = tmp_path / "moved"
    moved.mkdir()
    first = Path(df["source"].iloc[0])
    shutil.copy(first, moved / "renamed.jpg")
    shutil.copy(first, moved / Path(df["source"].iloc[2]).name)
    found = of.show(df, 2, images=moved).html
    assert "data:image/jpeg;base64," in found
    with pytest.raises(IndexError):
        of.show(df, 3)


def test_the_notebook_stylesheet_styles_only_the_views_own_classes() -> None:
    css = scoped_css()
    assert css
    for selectors in re.findall(r"([^{}]+)\{", css):
        assert all("of-" in s for s in selectors.split(",")), selectors
    assert "body" not in css


def test_session_filters_and_refuses_bad_reviews(driving: Path) -> None:
    session = ReviewSession(driving, mask=False, default_filter="all")
    everything = session.rows()
    assert everything["total"] == 3 and [r["row"] for r in everything["rows"]] == [0, 1, 2]
    flagged = session.rows("needs_review")["rows"]
    assert 1 in [r["row"] for r in flagged]  # low confidence of owner
    assert session.neighbours(1, "all") == (0, 2)
    detail = session.detail(2)
    assert detail["image"]["available"] is False
    assert "not found" in detail["image"]["missing"]
    bad = [
        (b"{", 400),
        (b"[]", 400),
        (json.dumps({"decision": "maybe"}).encode(), 400),
        (json.dumps({"decision": "correct"}).encode(), 400),
        (json.dumps({"decision": "approve", "fields": {"owner": "x"}}).encode(), 400),
        (json.dumps({"decision": "correct", "fields": {"owner_conf": "1"}}).encode(), 400),
        (json.dumps({"decision": "correct", "fields": {"register_date": "1/2/20"}}).encode(), 400),
        (json.dumps({"decision": "correct", "fields": {"owner": 5}}).encode(), 400),
        (b"x" * 70_000, 413),
    ]
    for body, status in bad:
        with pytest.raises(RequestError) as caught:
            session.review(1, body)
        assert caught.value.status == status, body[:40]
    with pytest.raises(RequestError) as caught:
        session.detail(3)
    assert caught.value.status == 404
    assert session.log.read().num_rows == 0  # nothing refused was written
    for fields in ({"owner": " "}, {"owner": EVIL}, {"register_date": "2024-02-30"}):
        with pytest.raises(RequestError) as caught:  # empty, unchanged, no such day
            session.review(1, json.dumps({"decision": "correct", "fields": fields}).encode())
        assert caught.value.status == 400, fields
    answer = session.review(
        1, json.dumps({"decision": "correct", "fields": {"owner": " 陈志 "}}).encode()
    )
    assert answer["status"] == "corrected"
    assert {f["name"]: f["corrected"] for f in answer["fields"]}["owner"] == "陈志"
    record = session.log.read().to_pylist()[0]
    assert (record["field"], record["old"], record["new"]) == ("owner", EVIL, "陈志")


def test_a_run_writes_its_report_with_blurred_thumbnails(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(2)
    for path in paths:
        emulator.register(Path(path).read_bytes(), "idcard", {"name": "张三", "id": "1"})
    report = tmp_path / "audit.html"
    of.recognize_to_parquet(
        paths,
        "idcard",
        tmp_path / "ids.parquet",
        engine=engine,
        cache_dir=tmp_path / "cache",
        progress=False,
        report=report,
        report_thumbnails=True,
    )
    page = report.read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") >= 2  # in both tables: failing, to review
    assert "张三" not in page  # masked


def test_a_correction_is_checked_against_what_was_read(driving: Path) -> None:
    masked = ReviewSession(driving)  # masked, the default

    def post(session: ReviewSession, fields: dict[str, str]) -> dict[str, Any]:
        return session.review(0, json.dumps({"decision": "correct", "fields": fields}).encode())

    with pytest.raises(RequestError, match="whole value"):
        post(masked, {"owner": "陈*"})  # the masked form typed back
    with pytest.raises(RequestError, match="approve instead"):
        post(masked, {"owner": "陈志"})  # the value read, typed in full
    post(masked, {"register_date": "20240101"})  # as printed on cards: stored as ISO
    post(masked, {"owner": "陈志远"})
    post(masked, {"owner": "陈志"})  # undoing a correction is a correction
    records = masked.log.read().to_pylist()
    assert [(r["field"], r["new"]) for r in records] == [
        ("register_date", "2024-01-01"),
        ("owner", "陈志远"),
        ("owner", "陈志"),
    ]
    final = of.apply_reviews(of.read_parquet(driving), masked.log.path)
    assert final["owner"].iloc[0] == "陈志"
    assert str(final["register_date"].iloc[0]) == "2024-01-01"


def test_apply_never_overwrites_the_output_or_its_reviews(driving: Path, tmp_path: Path) -> None:
    from ocr_frames.review import apply_to_file, reviews_path

    for dest in (driving, reviews_path(driving)):
        with pytest.raises(ValueError, match="write elsewhere"):
            apply_to_file(driving, dest)
    table = apply_to_file(driving, tmp_path / "final.parquet")
    assert list(table["review_status"]) == ["unreviewed"] * 3
    assert (tmp_path / "final.parquet").stat().st_mode & 0o777 == 0o600


def test_the_image_shown_is_the_one_sent_with_the_runs_size_limit(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    import numpy as np

    ramp = np.linspace(0, 255, 1600)[None, :, None] * np.ones((1200, 1, 3))
    noise = np.random.default_rng(7).normal(0, 12, (1200, 1600, 3))
    photo = tmp_path / "photo.jpg"
    Image.fromarray((ramp + noise).clip(0, 255).astype(np.uint8)).save(photo, quality=95)
    assert photo.stat().st_size > 300_000  # over the run's limit below: re-encoded
    out = tmp_path / "p.parquet"
    of.recognize_to_parquet(
        [str(photo)],
        "driving",
        out,
        engine=engine,
        cache_dir=False,
        progress=False,
        max_bytes=300_000,
    )
    session = ReviewSession(out)
    assert session.image(0).matches is True  # the bytes rebuilt have the row's sha256
    assert session.images.display(0).matches is False  # with the default limit: not them


def test_the_row_view_says_which_engine_answered_and_why(driving: Path) -> None:
    df = pd.read_parquet(driving)
    df["answered_by"] = ["wechat", "local", None]
    df["escalated_because"] = [["low confidence: vin"], [], None]
    first = render_row(row_detail(df, 0, "driving", mask=False), None)
    assert "answered by wechat (escalated: low confidence: vin)" in first
    assert "answered by local</p>" in render_row(row_detail(df, 1, "driving"), None)
    assert "answered by" not in render_row(row_detail(df, 2, "driving"), None)
