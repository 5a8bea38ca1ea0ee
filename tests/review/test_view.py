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
    answer = session.review(
        1, json.dumps({"decision": "correct", "fields": {"owner": " 陈志 "}}).encode()
    )
    assert answer["status"] == "corrected"
    assert {f["name"]: f["corrected"] for f in answer["fields"]}["owner"] == "陈志"
    record = session.log.read().to_pylist()[0]
    assert (record["field"], record["old"], record["new"]) == ("owner", EVIL, "陈志")
