"""Pages turned by a quarter turn: the local engine reads them as if upright (EXIF tag or
none) and reports positions in the image as it was sent.  Real models, a few samples."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ocr_frames.local import LocalEngine
from ocr_frames.local._orient import map_back, turn_point
from tests.helpers import EXIF_ORIENTATION
from tests.local.test_engine import POSITIONS, SAMPLES, TRUTH, corners, expected

NAMES = ("idcard/idcard_01.jpg", "drivinglicense/drivinglicense_01.jpg", "driving/driving_01.jpg")
#: PIL's counter-clockwise turns by degrees.
TURNS = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    local = LocalEngine()
    local.warm_up()
    return local


def jpeg(image: Image.Image, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def fields(answer: dict[str, Any]) -> dict[str, Any]:
    trust = ("confidence", "suggested", "field_boxes")  # tests/local/test_trust.py, below
    return {k: v for k, v in answer.items() if k not in (*POSITIONS, "img_size", *trust)}


def turned(point: tuple[int, int], degrees: int, w: int, h: int) -> tuple[float, float]:
    """Where a point of a ``w`` x ``h`` image lands when PIL turns it counter-clockwise."""
    x, y = point
    return {90: (y, w - x), 180: (w - x, h - y), 270: (h - y, x)}[degrees]


@pytest.fixture(scope="module")
def upright(engine: LocalEngine) -> dict[str, dict[str, Any]]:
    return {
        name: engine.recognize_one((SAMPLES / name).read_bytes(), TRUTH[name]["kind"])
        for name in NAMES
    }


@pytest.mark.parametrize("name", NAMES)
def test_upright_answers_are_the_truth(upright: dict[str, dict[str, Any]], name: str) -> None:
    assert fields(upright[name]) == fields(expected(name))


@pytest.mark.parametrize("degrees", sorted(TURNS))
@pytest.mark.parametrize("name", NAMES)
def test_a_turned_page_gives_the_exact_fields_and_positions_in_the_sent_image(
    engine: LocalEngine, upright: dict[str, dict[str, Any]], name: str, degrees: int
) -> None:
    with Image.open(SAMPLES / name) as image:
        sent = image.convert("RGB").transpose(TURNS[degrees])
    got = engine.recognize_one(jpeg(sent), TRUTH[name]["kind"])
    assert fields(got) == fields(expected(name))
    base = upright[name]
    # where each field was read moves with the page, like the document's corners
    up_w, up_h = (sent.height, sent.width) if degrees in (90, 270) else sent.size
    boxes = base["field_boxes"]
    assert set(got["field_boxes"]) == set(boxes) and len(boxes) >= 3
    for field, box in boxes.items():
        want = [turned(p, degrees, up_w, up_h) for p in corners(box)]
        pairs = zip(want, corners(got["field_boxes"][field]), strict=True)
        limit = 0.02 * (up_w**2 + up_h**2) ** 0.5
        assert all(abs(a - c) + abs(b - d) < limit for (a, b), (c, d) in pairs), field
    if "img_size" not in base:  # ID cards and driving licences report no position
        assert "img_size" not in got
        return
    w, h = base["img_size"]["w"], base["img_size"]["h"]
    assert got["img_size"] == {"w": sent.width, "h": sent.height}
    diagonal = (w**2 + h**2) ** 0.5
    for key in POSITIONS:
        if key in base:  # the document's own corners, moved with the page
            want = [turned(p, degrees, w, h) for p in corners(base[key])]
            pairs = zip(want, corners(got[key]), strict=True)
            assert all(abs(a - c) + abs(b - d) < 0.01 * diagonal for (a, b), (c, d) in pairs)


def test_an_exif_orientation_tag_is_honoured(
    engine: LocalEngine, upright: dict[str, dict[str, Any]]
) -> None:
    name = "driving/driving_01.jpg"
    with Image.open(SAMPLES / name) as image:
        stored = image.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # shown turned 90° clockwise: upright
    got = engine.recognize_one(jpeg(stored, exif), TRUTH[name]["kind"])
    assert fields(got) == fields(expected(name))
    assert got["img_size"] == upright[name]["img_size"]


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_points_map_back_to_the_sent_image(turns: int) -> None:
    sent = np.zeros((5, 8), np.uint8)
    for x, y in [(0, 0), (7, 0), (2, 3), (7, 4)]:
        sent[:] = 0
        sent[y, x] = 1
        rows, cols = np.nonzero(np.rot90(sent, turns))
        back = turn_point((cols[0] + 0.5, rows[0] + 0.5), turns, 8, 5)
        assert back == (x + 0.5, y + 0.5)


def test_map_back_moves_every_quadrilateral_and_the_image_size() -> None:
    quad = {"pos": {"left_top": {"x": 1, "y": 2}, "right_top": {"x": 9, "y": 2}}}
    answer = {
        "name": "x",
        "cert_position": quad,
        "items": [{"text": "a", **quad}],
        "img_size": {"w": 50, "h": 100},
    }
    got = map_back(answer, 1, 100, 50)  # upright 50 x 100 came from a 100 x 50 image
    moved = {"pos": {"left_top": {"x": 98, "y": 1}, "right_top": {"x": 98, "y": 9}}}
    assert got == {
        "name": "x",
        "cert_position": moved,
        "items": [{"text": "a", **moved}],
        "img_size": {"w": 100, "h": 50},
    }
    assert answer["img_size"] == {"w": 50, "h": 100}  # the input is left as it was


def test_positions_of_an_image_read_scaled_down_are_in_the_pixels_sent(
    engine: LocalEngine, upright: dict[str, dict[str, Any]]
) -> None:
    """A photo larger than the engine reads (MAX_SIDE) is read scaled down; its positions,
    card corners and field boxes alike, are reported in the image as sent."""
    name = "driving/driving_01.jpg"
    with Image.open(SAMPLES / name) as image:
        big = image.convert("RGB").resize((image.width * 3, image.height * 3))
    assert max(big.size) > 2400  # read scaled down
    got = engine.recognize_one(jpeg(big), TRUTH[name]["kind"])
    base = upright[name]
    assert got["img_size"] == {"w": big.width, "h": big.height}
    diagonal = (big.width**2 + big.height**2) ** 0.5
    pairs = [
        (corners(base["card_position_front"]), corners(got["card_position_front"])),
        *(
            (corners(box), corners(got["field_boxes"][field]))
            for field, box in base["field_boxes"].items()
        ),
    ]
    for small, large in pairs:
        for (a, b), (c, d) in zip(small, large, strict=True):
            assert abs(3 * a - c) + abs(3 * b - d) < 0.02 * diagonal
