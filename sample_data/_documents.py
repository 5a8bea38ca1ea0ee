"""Flat documents for ``make_samples.py``: the cards, licences, pages, plates and menus,
each drawn with Pillow as one :class:`~_scene.Sheet` (fictional layouts modelled on the
real documents: the same printed labels, in the same places)."""

from __future__ import annotations

import random
from typing import Any

from _scene import LABEL_BLUE, RED, Sheet


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters; closing punctuation never starts a line."""
    lines: list[str] = []
    while text:
        cut = width
        while 1 < cut < len(text) and text[cut] in ")）。，,;；、":
            cut -= 1
        lines.append(text[:cut])
        text = text[cut:]
    return lines


def idcard_front(p: dict[str, str], number: str, rng: random.Random) -> Sheet:
    s = Sheet.new(856, 540, (236, 240, 236), round_corners=34)
    s.gradient((238, 242, 236), (226, 233, 240))
    s.guilloche((208, 218, 226), rng)
    label = {"size": 24, "fill": LABEL_BLUE}
    value = {"size": 29, "weight": "Medium"}
    s.text((60, 56), "姓名", **label)  # type: ignore[arg-type]
    s.text((150, 52), p["name"], **value)  # type: ignore[arg-type]
    s.text((60, 118), "性别", **label)  # type: ignore[arg-type]
    s.text((150, 114), p["gender"], **value)  # type: ignore[arg-type]
    s.text((260, 118), "民族", **label)  # type: ignore[arg-type]
    s.text((350, 114), "汉", **value)  # type: ignore[arg-type]
    s.text((60, 180), "出生", **label)  # type: ignore[arg-type]
    b = p["birth"]
    s.text((150, 176), f"{b[:4]}  年  {int(b[4:6])}  月  {int(b[6:])}  日", **value)  # type: ignore[arg-type]
    s.text((60, 242), "住址", **label)  # type: ignore[arg-type]
    for i, line in enumerate(wrap(p["addr"], 11)):
        s.text((150, 238 + 42 * i), line, **value)  # type: ignore[arg-type]
    s.text((60, 452), "公民身份号码", **label)  # type: ignore[arg-type]
    s.text((250, 446), number, size=33, weight="Medium")
    d = s.draw
    d.rectangle((610, 50, 810, 330), fill=(222, 226, 230))
    d.ellipse((660, 90, 760, 210), fill=(170, 175, 185))
    d.pieslice((630, 200, 790, 400), 180, 360, fill=(170, 175, 185))
    return s


def idcard_back(authority: str, valid: str, rng: random.Random) -> Sheet:
    s = Sheet.new(856, 540, (236, 240, 236), round_corners=34)
    s.gradient((240, 238, 230), (228, 234, 240))
    s.guilloche((214, 220, 210), rng)
    d = s.draw
    d.ellipse((60, 50, 200, 190), fill=(205, 40, 40))
    for cx, cy, r in ((110, 100, 18), (150, 85, 7), (160, 105, 7), (155, 125, 7), (140, 140, 7)):
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 210, 60))
    s.text((260, 66), "中华人民共和国", size=44, weight="Bold")
    s.text((300, 140), "居民身份证", size=58, weight="Bold")
    s.text((150, 384), "签发机关", size=24, fill=LABEL_BLUE)
    s.text((290, 380), authority, size=28, weight="Medium")
    s.text((150, 446), "有效期限", size=24, fill=LABEL_BLUE)
    s.text((290, 442), valid, size=28, weight="Medium")
    return s


def bankcard(bank: str, number: str, holder: str, colors: tuple[Any, Any]) -> Sheet:
    s = Sheet.new(856, 540, colors[0], round_corners=36)
    s.gradient(*colors)
    s.guilloche(tuple(min(255, c + 25) for c in colors[0]), random.Random(bank), 10)  # type: ignore[arg-type]
    white = (245, 245, 245)
    s.text((50, 40), bank, size=38, weight="Bold", fill=white)
    s.text((52, 100), "借记卡 DEBIT", size=22, fill=white)
    d = s.draw
    d.rounded_rectangle((90, 190, 200, 272), 12, fill=(212, 180, 90), outline=(150, 120, 50))
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    text = "  ".join(groups)
    s.text((63, 333), text, size=54, weight="Medium", fill=(30, 30, 40), record=False)
    s.text((60, 330), text, size=54, weight="Medium", fill=(232, 232, 236))
    s.text((330, 425), "VALID THRU", size=15, fill=white)
    s.text((440, 416), "12/29", size=26, fill=white)
    s.text((60, 466), holder, size=26, fill=white)
    for i, color in enumerate(((200, 30, 40), (0, 80, 160), (0, 130, 110))):
        d.rounded_rectangle((640 + 38 * i, 420, 720 + 38 * i, 500), 8, fill=color)
    s.text((667, 436), "银联", size=30, weight="Bold", fill=white, record=False)
    return s


def grid_page(title: str | None, rows: list[list[tuple[str, str, str]]], paper: Any) -> Sheet:
    """A 行驶证-style page: ruled rows of (label, English label, value) cells."""
    s = Sheet.new(640, 440, paper, round_corners=6)
    d = s.draw
    top = 16
    if title:
        s.text((320, 18), title, size=26, weight="Bold", anchor="ma")
        top = 66
    row_h = (428 - top) // len(rows)
    d.rectangle((10, top, 630, top + row_h * len(rows)), outline=(90, 90, 90), width=2)
    for r, cells in enumerate(rows):
        y = top + r * row_h
        d.line((10, y, 630, y), fill=(90, 90, 90), width=1)
        cols = [(10, 118, 330), (330, 438, 630)] if len(cells) == 2 else [(10, 118, 630)]
        for (x0, xv, _x1), (lab, eng, val) in zip(cols, cells, strict=True):
            d.line((xv, y, xv, y + row_h), fill=(150, 150, 150), width=1)
            if x0 != 10:
                d.line((x0, y, x0, y + row_h), fill=(90, 90, 90), width=1)
            s.text((x0 + 6, y + 6), lab, size=17, fill=(60, 60, 60))
            s.text((x0 + 6, y + 30), eng, size=9, fill=(90, 90, 90), record=False)
            if val:
                s.text((xv + 8, y + row_h / 2), val, size=19, weight="Medium", anchor="lm")
    return s


def driving_pages(v: dict[str, str], rng: random.Random) -> tuple[Sheet, Sheet]:
    front = grid_page(
        "中华人民共和国机动车行驶证",
        [
            [
                ("号牌号码", "Plate No.", v["plate_num"]),
                ("车辆类型", "Vehicle Type", v["vehicle_type"]),
            ],
            [("所有人", "Owner", v["owner"])],
            [("住址", "Address", v["addr"])],
            [("使用性质", "Use Character", v["use_character"]), ("品牌型号", "Model", v["model"])],
            [("车辆识别代号", "VIN", v["vin"])],
            [("发动机号码", "Engine No.", v["engine_num"])],
            [
                ("注册日期", "Register Date", v["register_date"]),
                ("发证日期", "Issue Date", v["issue_date"]),
            ],
        ],
        (236, 238, 228),
    )
    front.draw.ellipse((480, 272, 580, 372), outline=(215, 70, 70), width=4)
    back = grid_page(
        None,
        [
            [("号牌号码", "Plate No.", v["plate_num_b"]), ("档案编号", "File No.", v["record"])],
            [
                ("核定载人数", "Approved Passengers", v["passengers_num"]),
                ("总质量", "Gross Mass", v["total_quality"]),
            ],
            [
                ("整备质量", "Unladen Mass", v["prepare_quality"]),
                ("核定载质量", "Approved Load", "--"),
            ],
            [("外廓尺寸", "Overall Dimension", v["overall_size"].replace("x", "×"))],
            [("准牵引总质量", "Traction Mass", "--")],
            [("备注", "Notes", "")],
            [
                (
                    "检验记录",
                    "Inspection Record",
                    f"检验有效期至{int(v['issue_date'][:4]) + 6}年07月",
                )
            ],
        ],
        (234, 238, 230),
    )
    del rng
    return front, back


def drivinglicense(p: dict[str, str], lic: dict[str, str]) -> Sheet:
    s = Sheet.new(880, 590, (240, 240, 236), round_corners=20)
    s.gradient((242, 240, 236), (232, 238, 242))
    s.guilloche((236, 214, 220), random.Random(p["name"]), 12)
    s.text((440, 22), "中华人民共和国机动车驾驶证", size=32, weight="Bold", anchor="ma")
    s.text(
        (440, 64),
        "Driving License of the People's Republic of China",
        size=13,
        anchor="ma",
        record=False,
    )
    lab = {"size": 20, "fill": (60, 60, 60)}
    val = {"size": 23, "weight": "Medium"}
    rows = [
        ((40, 104), "证号", (130, 100), lic["id_num"]),
        ((40, 164), "姓名", (130, 160), lic["name"]),
        ((360, 164), "性别", (430, 160), lic["sex"]),
        ((560, 164), "国籍", (630, 160), lic["nationality"]),
        ((230, 324), "出生日期", (390, 320), lic["birth_date"]),
        ((230, 384), "初次领证日期", (390, 380), lic["issue_date"]),
        ((230, 444), "准驾车型", (390, 440), lic["car_class"]),
        ((40, 530), "有效期限", (150, 526), f"{lic['valid_from']} 至 {lic['valid_to']}"),
    ]
    for lpos, label, vpos, value in rows:
        s.text(lpos, label, **lab)  # type: ignore[arg-type]
        s.text(vpos, value, **val)  # type: ignore[arg-type]
    s.text((40, 224), "住址", **lab)  # type: ignore[arg-type]
    for i, line in enumerate(wrap(lic["address"], 17)):
        s.text((130, 220 + 40 * i), line, **val)  # type: ignore[arg-type]
    d = s.draw
    d.rectangle((670, 300, 840, 500), fill=(222, 226, 230))
    d.ellipse((715, 330, 795, 420), fill=(170, 175, 185))
    d.ellipse((48, 330, 198, 480), outline=RED, width=4)
    first, second = lic["official_seal"][:-6], lic["official_seal"][-6:]
    s.text((123, 378), first, size=18, fill=RED, anchor="ma")
    s.text((123, 408), second, size=18, fill=RED, anchor="ma")
    return s


def bizlicense(b: dict[str, str], labels: dict[str, str]) -> Sheet:
    s = Sheet.new(1000, 700, (250, 247, 238), round_corners=2)
    d = s.draw
    d.rectangle((14, 14, 986, 686), outline=(170, 110, 60), width=5)
    d.rectangle((24, 24, 976, 676), outline=(170, 110, 60), width=2)
    d.ellipse((470, 34, 530, 94), fill=(205, 40, 40))
    s.text((500, 100), "营业执照", size=62, weight="Bold", anchor="ma")
    s.text((60, 56), "统一社会信用代码", size=17)
    s.text((60, 82), b["reg_num"], size=21, weight="Medium")
    s.text((740, 60), "编号", size=17)
    s.text((790, 58), b["serial"], size=19, weight="Medium")
    columns = {"left": (70, 190, 15), "right": (560, 670, 13)}
    y = {"left": 226, "right": 226}
    for key, side in labels.items():
        if key not in b:
            continue
        lx, vx, width = columns[side]
        s.text((lx, y[side] + 2), LABEL_TEXT[key], size=19, fill=(50, 50, 50))
        lines = wrap(b[key], width)
        for i, line in enumerate(lines):
            s.text((vx, y[side] + 36 * i), line, size=21, weight="Medium")
        y[side] += 36 * len(lines) + 26
    d.ellipse((760, 520, 900, 660), outline=RED, width=4)
    s.text((620, 560), "登记机关", size=19, fill=(50, 50, 50))
    s.text((760, 640), b["registered_date"], size=19, record=False)
    return s


LABEL_TEXT = {
    "enterprise_name": "名称",
    "type_of_enterprise": "类型",
    "legal_representative": "法定代表人",
    "type_of_organization": "组成形式",
    "business_scope": "经营范围",
    "registered_capital": "注册资本",
    "registered_date": "成立日期",
    "valid_period": "营业期限",
    "address": "住所",
}


def text_page(lines: list[str], size: tuple[int, int], rng: random.Random) -> Sheet:
    s = Sheet.new(*size, (252, 252, 250), round_corners=0)
    s.text((size[0] / 2, 40), lines[0], size=34, weight="Bold", anchor="ma")
    y = 120
    for line in lines[1:-2]:
        indent = 80 if line.endswith("：") else 80 + rng.choice((0, 48))
        s.text((indent, y), line, size=25)
        y += 56
    for line in lines[-2:]:
        s.text((size[0] - 80, y + 20), line, size=25, anchor="ra")
        y += 52
    return s


def car_with_plate(number: str, style: str, rng: random.Random) -> Sheet:
    s = Sheet.new(1080, 720, (170, 180, 190))
    s.gradient((160, 175, 190), (90, 95, 100))
    d = s.draw
    body = rng.choice(((180, 30, 40), (230, 230, 232), (40, 60, 110), (60, 60, 64)))
    d.rounded_rectangle((80, 140, 1000, 640), 90, fill=body)
    d.rounded_rectangle((200, 170, 880, 300), 40, fill=(50, 60, 70))
    for x in (120, 820):
        d.rounded_rectangle((x, 330, x + 140, 390), 20, fill=(230, 80, 60))
    d.rectangle((60, 560, 1020, 660), fill=(40, 40, 44))
    s.text(
        (540, 330),
        "示例汽车",
        size=30,
        weight="Bold",
        fill=(200, 200, 200),
        anchor="ma",
        record=False,
    )
    plate = {"blue": ((20, 70, 180), (245, 245, 245)), "yellow": ((240, 190, 20), (20, 20, 20))}
    x0, y0, w, h = 320, 420, 440, 140
    if style == "green":
        d.rectangle((x0, y0, x0 + w, y0 + h), fill=(120, 200, 120))
        d.rectangle((x0, y0, x0 + w, y0 + 40), fill=(230, 245, 230))
        ink = (20, 20, 20)
    else:
        bg, ink = plate[style]
        d.rounded_rectangle((x0, y0, x0 + w, y0 + h), 10, fill=bg)
        d.rounded_rectangle((x0 + 6, y0 + 6, x0 + w - 6, y0 + h - 6), 8, outline=ink, width=3)
    shown = number[:2] + "·" + number[2:]
    s.text(
        (x0 + w / 2, y0 + h / 2 + 2),
        shown,
        size=86 if len(number) == 7 else 76,
        weight="Bold",
        fill=ink,
        anchor="mm",
    )
    s.text(
        (540, 590),
        "广州示例汽车销售服务有限公司",
        size=20,
        fill=(200, 200, 200),
        anchor="ma",
        record=False,
    )
    return s


def menu_page(
    title: str, sections: list[tuple[str, list[tuple[str, float]]]], yuan: bool
) -> tuple[Sheet, list[dict[str, Any]]]:
    s = Sheet.new(960, 1000, (250, 244, 228), round_corners=4)
    d = s.draw
    d.rectangle((20, 20, 940, 980), outline=(140, 60, 40), width=4)
    s.text((480, 50), title, size=46, weight="Bold", fill=(140, 40, 30), anchor="ma")
    rows: list[list[tuple[str, float] | str]] = []
    for header, items in sections:
        rows.append([header])  # type: ignore[list-item]
        for i in range(0, len(items), 2):
            rows.append(list(items[i : i + 2]))
    y = 150
    # items are answered in reading order: each section column by column
    order: list[dict[str, Any]] = []
    columns: list[list[dict[str, Any]]] = [[], []]
    for row in [*rows, ["end"]]:
        if len(row) == 1 and isinstance(row[0], str):
            order.extend(columns[0] + columns[1])
            columns = [[], []]
            if row[0] == "end":
                break
            s.text((80, y), row[0], size=30, weight="Bold", fill=(140, 40, 30))
            d.line((80, y + 44, 880, y + 44), fill=(180, 120, 90), width=2)
            y += 64
            continue
        for col, item in enumerate(row):
            assert not isinstance(item, str)
            name, price = item
            x = 90 if col == 0 else 520
            s.text((x, y), name, size=27, weight="Medium")
            shown = f"{price:g}元" if yuan else f"¥{price:g}"
            s.text((x + 350, y), shown, size=27, anchor="ra")
            columns[col].append({"name": name, "price": float(price)})
        y += 56
    return s, order
