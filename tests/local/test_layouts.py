"""Layout parsing of the local engine on hand-made OCR lines (no model involved).

Each test lays out text boxes the way a card prints them and checks that labels are
paired with values by position: split labels, multi-line values, skewed photos, values
below their label, absent fields, the documents' own clean-ups.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ocr_frames.local._ocr import TextBox
from ocr_frames.local.layouts import parse
from ocr_frames.local.layouts._fix import alnum, id_number, iso_date, plate

IMAGE = np.full((700, 1000, 3), 128, np.uint8)


def box(text: str, x: float, y: float, w: float | None = None, h: float = 30) -> TextBox:
    w = w if w is not None else 28 * len(text)
    return TextBox(text, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 0.99)


def rotated(
    boxes: list[TextBox], degrees: float, cx: float = 500, cy: float = 350
) -> list[TextBox]:
    a = math.radians(degrees)

    def turn(p: tuple[float, float]) -> tuple[float, float]:
        x, y = p[0] - cx, p[1] - cy
        return (cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))

    return [
        TextBox(b.text, (turn(b.quad[0]), turn(b.quad[1]), turn(b.quad[2]), turn(b.quad[3])), 0.9)
        for b in boxes
    ]


ID_FRONT = [
    box("姓名", 60, 60),
    box("张芳英", 150, 58),
    box("性别女", 60, 120),
    box("民族", 260, 120),
    box("汉", 350, 118),
    box("出生", 60, 180),
    box("1975年2月1日", 150, 178, 220),
    box("住址", 60, 240),
    box("江苏省苏州市姑苏区演示", 150, 238),
    box("大道188号", 150, 280, 150),
    box("公民身份号码", 60, 450),
    box("32050819750201116X", 260, 448, 330),
]
ID_ANSWER = {
    "type": "Front",
    "name": "张芳英",
    "id": "32050819750201116X",
    "addr": "江苏省苏州市姑苏区演示大道188号",
    "gender": "女",
    "nationality": "汉",
}


@pytest.mark.parametrize("degrees", [0, 4, -5])
def test_idcard_front_labels_pair_with_values_even_when_skewed(degrees: float) -> None:
    assert parse("idcard", rotated(ID_FRONT, degrees), IMAGE) == ID_ANSWER


def test_idcard_front_in_shuffled_reading_order() -> None:
    assert parse("idcard", list(reversed(ID_FRONT)), IMAGE) == ID_ANSWER


def test_idcard_back_validity_with_long_term_end() -> None:
    boxes = [
        box("签发机关", 150, 380),
        box("苏州市公安局姑苏分局", 290, 378),
        box("有效期限", 150, 440),
    ]
    boxes.append(box("2019.09.06-长期", 290, 438, 230))
    assert parse("idcard", boxes, IMAGE) == {"type": "Back", "valid_date": "20190906-长期"}


def test_idcard_without_labels_is_no_document() -> None:
    assert parse("idcard", [box("购物清单", 100, 100), box("牛奶两盒", 100, 160)], IMAGE) is None


def test_bankcard_number_split_into_groups_and_letter_confusions() -> None:
    boxes = [box("晨星示范银行", 50, 40), box("VALID THRU", 330, 420), box("12/29", 440, 416)]
    boxes += [box("6228 4828", 60, 330, 260, 50), box("72O8 2206 277", 340, 330, 330, 50)]
    assert parse("bankcard", boxes, IMAGE) == {"number": "6228482872082206277"}


def test_bankcard_without_number_is_no_document() -> None:
    assert parse("bankcard", [box("VALID THRU", 330, 420), box("12/29", 440, 416)], IMAGE) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [("粵B·12345", "粤B12345"), ("京A·D12345", "京AD12345"), ("苏E·5F678", "苏E5F678")],
)
def test_platenum_drops_the_dot_and_reads_traditional_province(text: str, number: str) -> None:
    boxes = [box("示例汽车", 400, 200), box(text, 330, 430, 400, 90)]
    assert parse("platenum", boxes, IMAGE) == {"number": number}


def test_platenum_without_plate_is_no_document() -> None:
    assert parse("platenum", [box("示例汽车", 400, 200)], IMAGE) is None


def test_menu_pairs_names_with_prices_and_reads_column_by_column() -> None:
    boxes = [
        box("示例小馆", 380, 40),
        box("热菜", 80, 150),
        box("酱鸭", 90, 214),
        box("48元", 380, 214, 60),
        box("龙虾", 520, 214),
        box("¥80", 820, 214, 60),
        box("春卷 10.5元", 90, 270, 200),
        box("鱼头", 520, 270),
        box("28.00", 820, 270, 60),
    ]
    got = parse("menu", boxes, IMAGE)
    assert got is not None
    rows = [item.pop("_row", None) for item in got["menu_items"]]  # for the confidence
    assert rows == [1.0, None, 1.0, 1.0]  # prices level with their dishes; 春卷 in one line
    assert got == {
        "menu_items": [
            {"name": "酱鸭", "price": 48.0},
            {"name": "春卷", "price": 10.5},
            {"name": "龙虾", "price": 80.0},
            {"name": "鱼头", "price": 28.0},
        ]
    }


def test_menu_in_one_column_reads_row_by_row_despite_the_gap_before_prices() -> None:
    names = ["拍黄瓜", "夫妻肺片", "凉拌木耳", "卤牛肉", "酱鸭"]
    boxes = [box("菜单", 400, 40)]
    for i, name in enumerate(names):
        boxes += [
            box(name, 90, 120 + 50 * i, 30 * len(name)),
            box(f"{i + 10}", 800, 120 + 50 * i, 40),
        ]
    answer = parse("menu", boxes, IMAGE)
    assert answer is not None
    assert [item["name"] for item in answer["menu_items"]] == names


def test_menu_heading_above_both_columns_starts_a_section() -> None:
    """A heading alone at its height (nothing beside it in the other column) separates
    sections; each section is read column by column."""
    boxes = [
        box("面食", 80, 150),
        box("牛肉面", 90, 214),
        box("¥22", 380, 214, 60),
        box("炸酱面", 520, 214),
        box("¥18", 820, 214, 60),
        box("番茄面", 90, 270),
        box("¥16", 380, 270, 60),
        box("酸辣粉", 520, 270),
        box("¥14", 820, 270, 60),
        box("小吃", 80, 330),
        box("煎饺", 90, 390),
        box("¥12", 380, 390, 60),
        box("春卷", 520, 390),
        box("¥10", 820, 390, 60),
    ]
    answer = parse("menu", boxes, IMAGE)
    assert answer is not None
    assert [item["name"] for item in answer["menu_items"]] == [
        "牛肉面",
        "番茄面",
        "炸酱面",
        "酸辣粉",
        "煎饺",
        "春卷",
    ]


def test_comm_lines_in_reading_order_with_their_quads() -> None:
    boxes = [box("第二行", 80, 200), box("右边", 600, 120), box("标题", 80, 118)]
    answer = parse("comm", boxes, IMAGE)
    assert answer is not None
    assert [item["text"] for item in answer["items"]] == ["标题", "右边", "第二行"]
    assert answer["items"][0]["pos"]["left_top"] == {"x": 80, "y": 118}
    assert answer["img_size"] == {"w": 1000, "h": 700}


def test_bizlicense_multiline_values_code_below_label_and_absent_fields_omitted() -> None:
    boxes = [
        box("统一社会信用代码", 60, 56, 180, 22),
        box("9144W01P7PE6HWPWKQ", 60, 84, 240, 24),
        box("营业执照", 400, 100, 240, 70),
        box("名称", 70, 228),
        box("苏州市姑苏区样本便利店", 190, 226),
        box("类型", 70, 290),
        box("个体工商户", 190, 288),
        box("经营范围", 70, 352, 100),
        box("日用百货销售;文具用品零售;", 190, 350, 330),
        box("货物进出口。", 190, 388, 160),
        box("成立日期", 560, 228, 100),
        box("2018年1月1日", 670, 226, 160),
        box("住所", 560, 290),
        box("江苏省苏州市姑苏区示例", 670, 288, 290),
        box("路1号", 670, 326, 80),
        box("登记机关", 620, 560, 100),
    ]
    answer = parse("bizlicense", boxes, IMAGE)
    assert answer is not None
    fields = {k: v for k, v in answer.items() if k not in ("cert_position", "img_size")}
    assert fields == {
        "reg_num": "9144W01P7PE6HWPWKQ",
        "enterprise_name": "苏州市姑苏区样本便利店",
        "address": "江苏省苏州市姑苏区示例路1号",
        "type_of_enterprise": "个体工商户",
        "business_scope": "日用百货销售;文具用品零售;货物进出口。",
        "registered_date": "2018年1月1日",
    }
    assert set(answer["cert_position"]["pos"]) == {
        "left_top",
        "right_top",
        "right_bottom",
        "left_bottom",
    }


def test_drivinglicense_validity_range_and_seal_lines() -> None:
    boxes = [
        box("中华人民共和国机动车驾驶证", 250, 20, 420),
        box("证号", 40, 100),
        box("440106199012215678", 130, 98, 300),
        box("姓名", 40, 160),
        box("王伟性别男", 130, 158, 200),
        box("国籍", 560, 160),
        box("中国", 630, 158),
        box("出生日期", 230, 320, 100),
        box("1990-12-21", 390, 318, 140),
        box("广州市公安局", 70, 370, 110, 22),
        box("初次领证日期", 230, 380, 140),
        box("2012-12-21", 390, 378, 140),
        box("交通警察支队", 70, 400, 110, 22),
        box("准驾车型", 230, 440, 100),
        box("C1", 390, 438, 40),
        box("有效期限", 40, 530, 100),
        box("2018-07-06至2024-07-06", 150, 528, 300),
    ]
    answer = parse("drivinglicense", boxes, IMAGE)
    assert answer == {
        "id_num": "440106199012215678",
        "name": "王伟",
        "sex": "男",
        "nationality": "中国",
        "address": "",
        "birth_date": "1990-12-21",
        "issue_date": "2012-12-21",
        "car_class": "C1",
        "valid_from": "2018-07-06",
        "valid_to": "2024-07-06",
        "official_seal": "广州市公安局交通警察支队",
    }


def test_fixes_keep_printed_check_characters_and_read_confusable_letters() -> None:
    assert id_number("32050819750201116x") == "32050819750201116X"
    assert id_number("3205O819750201116X") == "32050819750201116X"
    assert id_number("32050819750201116") is None
    assert iso_date("2018年7月6日") == "2018-07-06"
    assert iso_date("2018.13.01") is None
    assert alnum("LJ2U6BNRSVEC9TGZY") == "LJ2U6BNRSVEC9TGZY"
    assert alnum("lg742 oupljgh18vkl") == "LG7420UPLJGH18VKL"
    assert plate("示例汽车") is None


def test_comm_form_and_receipt_read_row_by_row_not_as_columns() -> None:
    """A label column beside a value column (a form), or items beside amounts (a receipt),
    is not text set in columns."""
    form = [("姓名", "张三"), ("性别", "男"), ("电话", "13800000000"), ("地址", "北京市某路1号")]
    boxes = []
    for i, (label, value) in enumerate(form):
        boxes += [box(label, 80, 100 + 60 * i), box(value, 300, 100 + 60 * i)]
    answer = parse("comm", boxes, IMAGE)
    assert answer is not None
    assert [item["text"] for item in answer["items"]] == [t for pair in form for t in pair]


def test_comm_two_columns_of_text_read_column_by_column() -> None:
    left = [f"左栏第{i}行的文字内容比较长" for i in range(5)]
    right = [f"右栏第{i}行的文字内容比较长" for i in range(5)]
    boxes = [box("标题", 420, 40)]
    for i in range(5):
        boxes += [box(left[i], 60, 120 + 50 * i), box(right[i], 520, 120 + 50 * i)]
    answer = parse("comm", boxes, IMAGE)
    assert answer is not None
    assert [item["text"] for item in answer["items"]] == ["标题", *left, *right]


def test_seal_authority_endings_put_right_only_when_one_letter_is_off() -> None:
    from ocr_frames.local.layouts.vehicle import _authority

    assert _authority("广东省广州市公安局交通盛察支队") == "广东省广州市公安局交通警察支队"
    for name in (
        "重庆市公安局交通巡逻警察总队",
        "某市公安局某分局交通警察大队",
        "某省公安厅交通管理局",
    ):
        assert _authority(name) == name
