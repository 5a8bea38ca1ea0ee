"""The local engine's trust signals: per-character scores, field confidence, suggestions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import ocr_frames as of
from ocr_frames.kinds import KINDS, spec
from ocr_frames.local._confidence import (
    CALIBRATION,
    UNMATCHED,
    Index,
    calibrate,
    confidences,
    field_box,
)
from ocr_frames.local._ocr import TextBox
from ocr_frames.local._suggest import suggest, suggestions

pytest.importorskip("rapidocr")

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
ID_IMAGE = SAMPLES / "idcard" / "idcard_01.jpg"
ID_NUMBER = "32050819750201116X"
QUAD = ((0.0, 0.0), (100.0, 0.0), (100.0, 20.0), (0.0, 20.0))


def line(
    text: str,
    probs: list[float] | None = None,
    alts: dict[int, list[tuple[str, float]]] | None = None,
) -> TextBox:
    probs = probs or [0.999] * len(text)
    alts = alts or {}
    chars = tuple((p, tuple(alts.get(i, ()))) for i, p in enumerate(probs))
    return TextBox(text, QUAD, min(probs), chars)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def engine() -> of.local.LocalEngine:
    return of.local.LocalEngine()


def test_every_line_carries_its_characters_scores(engine: of.local.LocalEngine) -> None:
    from ocr_frames.local._ocr import decode_image

    core = engine._core()
    boxes = core.read(decode_image(ID_IMAGE.read_bytes()))
    assert boxes
    for box in boxes:  # fails if a rapidocr release rebuilds the strings and drops them
        assert len(box.chars) == len(box.text), box.text
        for p, alternatives in box.chars:
            assert 0 < p <= 1
            assert all(0 <= q <= p for _, q in alternatives)


def test_a_clean_card_is_read_with_high_confidence(engine: of.local.LocalEngine) -> None:
    answer = engine.recognize_bytes("idcard", ID_IMAGE.read_bytes())
    assert answer["id"] == ID_NUMBER
    confidence = answer["confidence"]
    assert set(confidence) == {"type", "name", "id", "addr", "gender", "nationality"}
    assert all(0.9 <= c <= 1 for c in confidence.values()), confidence
    assert "suggested" not in answer  # the number passes its check: nothing to suggest


def _smudged_id_card() -> bytes:
    """idcard_01 with the top half of the 6th digit of the ID number painted over: the
    recogniser reads an ``o`` there (the engine makes it ``0``); its runners-up hold 8."""
    image = np.asarray(Image.open(ID_IMAGE).convert("RGB")).copy()
    x0, x1, y0, y1 = 317, 639, 526, 560  # the ID number's line in this sample
    width = (x1 - x0) / 18
    image[y0 : y0 + (y1 - y0) // 2, int(x0 + 5 * width) : int(x0 + 6 * width)] = 255
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def test_a_suggestion_fixes_a_one_digit_misread(
    engine: of.local.LocalEngine, tmp_path: Path
) -> None:
    path = tmp_path / "smudged.png"
    path.write_bytes(_smudged_id_card())
    df = of.recognize([str(path)], "idcard", engine=engine, checks=True, cache_dir=tmp_path / "c")
    row = df.iloc[0]
    assert row["id"] != ID_NUMBER  # misread: one digit wrong ...
    assert sum(a != b for a, b in zip(row["id"], ID_NUMBER, strict=True)) == 1
    assert row["check_id_checksum"] == False  # noqa: E712  (... and the check says so)
    assert row["id_suggested"] == ID_NUMBER  # the suggestion is right
    assert row["id_conf"] < 0.9
    assert row["needs_review"]
    reasons = list(row["review_reasons"])
    assert "suggestion: id" in reasons and "low confidence: id" in reasons


def test_conf_columns_are_float32_in_every_schema() -> None:
    for kind in KINDS:
        schema = of.kinds.schema(kind)
        kind_spec = spec(kind)
        for name in kind_spec.confidence_fields:
            assert schema.field(f"{name}_conf").type == pa.float32()
        for name in kind_spec.suggested:
            assert schema.field(f"{name}_suggested").type == pa.string()
        if kind_spec.list_field:
            item = schema.field(kind_spec.list_field).type.value_type
            assert item.field("conf").type == pa.float32()


def test_confidence_comes_from_the_lines_the_value_was_read_from() -> None:
    index = Index([line("姓名张三"), line("公民身份号码"), line(ID_NUMBER, [0.999] * 17 + [0.5])])
    fields = {"type": "Front", "name": "张三", "id": ID_NUMBER}
    out = confidences("idcard", fields, index)["confidence"]
    assert out["name"] > 0.9
    assert out["id"] < out["name"]  # one uncertain letter lowers it
    assert "addr" not in out  # not found, and not a field every front prints
    assert "valid_date" not in out  # a field of the back: no confidence on the front


def test_a_key_field_not_found_gets_zero_and_a_letter_the_parser_wrote_counts_low() -> None:
    index = Index([line("姓名张三")])
    out = confidences("idcard", {"type": "Front", "name": "张四"}, index)["confidence"]
    assert out["id"] == 0.0
    raw = index.probabilities("张四")
    assert raw[1] == UNMATCHED  # 四 is in no line


def test_the_back_of_an_id_card_needs_no_name() -> None:
    index = Index([line("有效期限2017.10.25-2027.10.25")])
    fields = {"type": "Back", "valid_date": "20171025-20271025"}
    out = confidences("idcard", fields, index)["confidence"]
    assert "name" not in out and "id" not in out
    assert out["valid_date"] > 0.9


def test_calibration_is_monotone_and_within_bounds() -> None:
    xs = [x for x, _ in CALIBRATION]
    ys = [y for _, y in CALIBRATION]
    assert xs == sorted(xs) and ys == sorted(ys)
    assert calibrate(-1) == ys[0] and calibrate(2) == ys[-1]
    values = [calibrate(i / 100) for i in range(101)]
    assert values == sorted(values) and all(0 <= v <= 1 for v in values)


def test_a_suggestion_takes_the_runner_up_that_passes_the_check() -> None:
    wrong = ID_NUMBER[:5] + "0" + ID_NUMBER[6:]  # 8 read as 0
    probs = [0.999] * 18
    probs[5] = 0.6
    index = Index([line(wrong, probs, {5: [("8", 0.3), ("6", 0.05)]})])
    assert suggest(wrong, index, lambda n: n == ID_NUMBER, 2) == ID_NUMBER
    assert suggestions("idcard", {"id": wrong}, index) == {"id": ID_NUMBER}


def test_no_suggestion_when_the_value_passes_or_nothing_valid_is_near() -> None:
    index = Index([line(ID_NUMBER)])
    assert suggestions("idcard", {"id": ID_NUMBER}, index) == {}
    wrong = ID_NUMBER[:5] + "0" + ID_NUMBER[6:]
    probs = [0.999] * 18
    probs[5] = 0.6
    index = Index([line(wrong, probs, {5: [("6", 0.3)]})])  # 6 does not pass either
    assert suggestions("idcard", {"id": wrong}, index) == {}


def test_two_equally_likely_fixes_give_no_suggestion() -> None:
    number = "6222020200112233445"  # a 19-digit card number that fails Luhn
    from stdnum import luhn

    assert not luhn.is_valid(number)
    probs = [0.999] * 19
    probs[3] = probs[10] = 0.6
    fixes = {}
    for position in (3, 10):
        for digit in "0123456789":
            candidate = number[:position] + digit + number[position + 1 :]
            if luhn.is_valid(candidate):
                fixes[position] = digit
    alts = {position: [(digit, 0.3)] for position, digit in fixes.items()}
    index = Index([line(number, probs, alts)])
    assert suggestions("bankcard", {"number": number}, index) == {}  # ambiguous: none


@pytest.mark.parametrize(
    ("kind", "field", "value", "ok"),
    [
        ("idcard", "name", "张三", True),
        ("idcard", "name", "阿卜杜热合曼·买买提", True),
        ("idcard", "name", "张三住址", True),  # a shape, not a dictionary: still a name
        ("idcard", "name", "张三，", False),
        ("idcard", "nationality", "汉", True),
        ("idcard", "nationality", "汊", False),
        ("driving", "use_character", "非营运", True),
        ("driving", "use_character", "交非营运", False),
        ("driving", "vehicle_type", "小型普通客车", True),
        ("drivinglicense", "car_class", "C1", True),
        ("drivinglicense", "car_class", "A2 D", True),
        ("drivinglicense", "car_class", "C7", False),
        ("bizlicense", "legal_representative", "王辉晨许可、监管信息,", False),
        ("bizlicense", "business_scope", "anything at all、", True),  # no shape known
    ],
)
def test_values_outside_their_fields_shapes(kind: str, field: str, value: str, ok: bool) -> None:
    from ocr_frames.local._plausible import plausible

    assert plausible(kind, field, value) is ok


def test_an_implausible_value_gets_a_low_confidence() -> None:
    index = Index([line("使用性质交非营运")])
    out = confidences("driving", {"use_character": "交非营运"}, index)["confidence"]
    assert out["use_character"] < 0.9
    out = confidences("driving", {"use_character": "非营运"}, index)["confidence"]
    assert out["use_character"] > 0.9


def test_a_date_is_not_vouched_for_by_the_id_number_holding_its_digits() -> None:
    poorly_read_date = line("出生1975年2月1日", [0.6] * 11)
    index = Index([line(ID_NUMBER), poorly_read_date])
    fields = {"birth_date": "1975-02-01", "id_num": ID_NUMBER}
    out = confidences("drivinglicense", fields, index)["confidence"]
    assert out["birth_date"] < 0.9 < out["id_num"]


def test_two_runners_up_giving_the_same_reading_still_suggest_it() -> None:
    wrong = ID_NUMBER[:-1] + "1"  # the check character X read as 1
    probs = [0.999] * 17 + [0.5]
    index = Index([line(wrong, probs, {17: [("x", 0.3), ("X", 0.15)]})])
    assert suggestions("idcard", {"id": wrong}, index) == {"id": ID_NUMBER}


def test_masking_hides_the_suggested_numbers_too() -> None:
    from ocr_frames._tables.flatten import to_arrow
    from ocr_frames.mask import mask_frame

    answer = {"errcode": 0, "id": "11010119900307123X", "suggested": {"id": "110101199003071234"}}
    masked = mask_frame(to_arrow("idcard", [answer]).to_pandas(), "idcard")
    assert masked["id"].iloc[0] == "1101**********123X"
    assert masked["id_suggested"].iloc[0] == "1101**********1234"


def test_a_price_off_its_dishs_row_lowers_the_items_confidence() -> None:
    index = Index([line("红油耳丝"), line("28")])
    items = [
        {"name": "红油耳丝", "price": 28.0, "_row": 0.95},
        {"name": "红油耳丝", "price": 28.0, "_row": 0.4},  # the price may be the next dish's
    ]
    out = confidences("menu", {"menu_items": items}, index)["menu_items"]
    assert out[0]["conf"] > 0.9 > out[1]["conf"]
    assert all(set(item) == {"name", "price", "conf"} for item in out)  # _row never leaks
    bare = confidences("menu", {"menu_items": items}, Index([]))["menu_items"]
    assert all(set(item) == {"name", "price"} for item in bare)


def test_a_field_box_is_the_stretch_of_its_line_the_value_was_read_from() -> None:
    label_and_name = TextBox(
        "姓名张三",
        ((100, 20), (180, 20), (180, 40), (100, 40)),  # type: ignore[arg-type]
        0.99,
        tuple((0.99, ()) for _ in range(4)),
    )
    index = Index([label_and_name])
    box = field_box(index.match("张三"))
    assert box == {
        "pos": {
            "left_top": {"x": 140, "y": 20},
            "right_top": {"x": 180, "y": 20},
            "right_bottom": {"x": 180, "y": 40},
            "left_bottom": {"x": 140, "y": 40},
        },
    }
    # a line a parser read from a crop has no place on the page: no box
    cropped = Index([], unplaced=[label_and_name])
    assert cropped.match("张三") and field_box(cropped.match("张三")) is None
    assert field_box(index.match("李四")) is None


def test_the_local_engine_says_where_each_field_was_read(
    engine: of.local.LocalEngine, tmp_path: Path
) -> None:
    image = Path(__file__).resolve().parents[2] / "sample_data" / "idcard" / "idcard_01.jpg"
    df = of.recognize([str(image)], "idcard", engine=engine, progress=False, cache_dir=tmp_path)
    boxes = json.loads(df["field_boxes"].iloc[0])
    assert {"name", "id", "addr"} <= set(boxes)
    (name_lt, name_rt, _, name_lb), (id_lt, id_rt, _, _) = boxes["name"], boxes["id"]
    assert id_lt[1] > name_lb[1]  # the ID number is printed below the name
    assert id_rt[0] - id_lt[0] > 2 * (name_rt[0] - name_lt[0]) > 0  # and is longer
