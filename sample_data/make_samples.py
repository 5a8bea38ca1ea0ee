"""Generate the bundled sample images and their expected answers (``truth.json``).

Run ``python sample_data/make_samples.py`` (``make samples``, which installs the CJK font
from PyPI first).  Everything is synthetic and deterministic (seeded): no real person,
card, company or vehicle; bank and company names are made up.  Each kind gets 3 *clean*
images (flat, like a scanner) and 2 *noisy* ones (like a phone photo: perspective,
rotation, desk, shadow, uneven light, blur, noise, JPEG artefacts), rendered with Pillow in
Noto Sans CJK; see ``_scene.py``.

``truth.json`` maps ``"<kind>/<file>"`` to ``{"kind", "sha256", "answer", "variant",
"invalid"}``: ``answer`` is the raw platform answer (errcode/errmsg included, ``menu``
``content`` as a JSON string), ``invalid`` lists fields printed deliberately invalid (an
ID number with a wrong check character, a card number failing Luhn) - an OCR engine must
read them as printed.  The comm truth holds each printed line with its quadrilateral.
Deliberately bad files in ``idcard/`` (empty, not an image, a renamed duplicate) and a
photo with no ID card in it show per-row errors, de-duplication and 101001.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scene import LABEL_BLUE, RED, Scene, Sheet, compose, encode

HERE = Path(__file__).resolve().parent
KINDS = (
    "idcard",
    "bankcard",
    "driving",
    "drivinglicense",
    "bizlicense",
    "comm",
    "platenum",
    "menu",
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉兰建国志强"
REGIONS = {
    "440106": ("广东省广州市天河区", "广州市公安局天河分局", "粤A"),
    "110105": ("北京市朝阳区", "北京市公安局朝阳分局", "京N"),
    "310115": ("上海市浦东新区", "上海市公安局浦东分局", "沪B"),
    "320508": ("江苏省苏州市姑苏区", "苏州市公安局姑苏分局", "苏E"),
    "330106": ("浙江省杭州市西湖区", "杭州市公安局西湖分局", "浙A"),
}
CITY = {"440106": "广州市", "110105": "北京市", "310115": "上海市", "320508": "苏州市"}
STREETS = ["示例路", "样本街", "演示大道", "虚构巷", "模拟东路", "测试西街"]


@dataclass
class Sample:
    kind: str
    variant: str
    sheets: list[Sheet]
    rects: list[tuple[float, float, float, float]]
    canvas: tuple[int, int]
    answer: Callable[[Scene], dict[str, Any]]
    invalid: list[str] = field(default_factory=list)
    fmt: str = "jpg"


# --- numbers ------------------------------------------------------------------------


def id_number(region: str, birth: str, seq: int, *, valid: bool = True) -> str:
    """An 18-character resident ID with a GB 11643-1999 check character (or a wrong one)."""
    body = f"{region}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    if not valid:
        check = "10X98765432"[("10X98765432".index(check) + 3) % 11]
    return body + check


def luhn_number(rng: random.Random, prefix: str, length: int, *, valid: bool = True) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    check = (10 - total % 10) % 10
    return digits + str(check if valid else (check + 5) % 10)


def credit_code(rng: random.Random) -> str:
    """An 18-character unified social credit code shape (not a registered one)."""
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return "9144" + "".join(rng.choice(chars) for _ in range(14))


def person(rng: random.Random) -> dict[str, str]:
    region = rng.choice(list(REGIONS)[:4])
    birth = f"{rng.randrange(1965, 2003)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    surname = rng.choice(SURNAMES[:6])
    name = surname + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
    seq = rng.randrange(10, 999)
    place, authority, plate = REGIONS[region]
    street = f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
    if rng.random() < 0.5:
        road, number, block = rng.choice(STREETS), rng.randrange(1, 90), rng.randrange(1, 30)
        street = f"{road}{number}号{block}栋{rng.randrange(101, 2999)}房"
    return {
        "region": region,
        "birth": birth,
        "name": name,
        "gender": "男" if seq % 2 else "女",
        "seq": str(seq),
        "addr": place + street,
        "authority": authority,
        "plate_prefix": plate,
    }


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


def dashed(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:]}"


# --- documents ----------------------------------------------------------------------


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
    order: list[dict[str, Any]] = []
    for row in rows:
        if len(row) == 1 and isinstance(row[0], str):
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
            order.append({"name": name, "price": float(price)})
        y += 56
    return s, order


# --- the samples --------------------------------------------------------------------


def _quad(q: list[tuple[int, int]]) -> dict[str, Any]:
    names = ("left_top", "right_top", "right_bottom", "left_bottom")
    return {"pos": {n: {"x": x, "y": y} for n, (x, y) in zip(names, q, strict=True)}}


def idcard_samples(rng: random.Random) -> list[Sample]:
    out = []
    plans = [
        ("clean", "front", True),
        ("clean", "front", False),
        ("clean", "back", True),
        ("noisy", "front", True),
        ("noisy", "back", True),
    ]
    for n, (variant, side, valid) in enumerate(plans):
        p = person(rng)
        canvas = (1000, 680)
        rect = (72, 70, 856, 540)
        if side == "front":
            number = id_number(p["region"], p["birth"], int(p["seq"]), valid=valid)
            sheet = idcard_front(p, number, rng)
            answer = {
                "type": "Front",
                "name": p["name"],
                "id": number,
                "addr": p["addr"],
                "gender": p["gender"],
                "nationality": "汉",
            }
        else:
            start = (
                f"{rng.randrange(2012, 2022)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
            )
            end = "长期" if n == 4 else f"{int(start[:4]) + 10}{start[4:]}"
            shown_end = end if end == "长期" else f"{end[:4]}.{end[4:6]}.{end[6:]}"
            sheet = idcard_back(
                p["authority"], f"{start[:4]}.{start[4:6]}.{start[6:]}-{shown_end}", rng
            )
            answer = {"type": "Back", "valid_date": f"{start}-{end}"}
        out.append(
            Sample(
                "idcard",
                variant,
                [sheet],
                [rect],
                canvas,
                lambda _s, a=answer: a,
                [] if valid else ["id"],
            )
        )
    return out


def bankcard_samples(rng: random.Random) -> list[Sample]:
    banks = [
        ("晨星示范银行", "622848", ((20, 60, 130), (10, 30, 80))),
        ("东湖样本银行", "621700", ((150, 25, 35), (90, 10, 20))),
        ("北辰演示银行", "622202", ((20, 110, 90), (10, 60, 50))),
    ]
    out = []
    for n, variant in enumerate(("clean", "clean", "clean", "noisy", "noisy")):
        bank, prefix, colors = banks[n % 3]
        valid = n != 1
        number = luhn_number(rng, prefix, 16 if n % 2 else 19, valid=valid)
        sheet = bankcard(
            bank, number, rng.choice(["ZHANG WEI", "LI NA", "CHEN JIE", "WANG FANG"]), colors
        )
        answer = {"number": number}
        out.append(
            Sample(
                "bankcard",
                variant,
                [sheet],
                [(72, 70, 856, 540)],
                (1000, 680),
                lambda _s, a=answer: a,
                [] if valid else ["number"],
            )
        )
    return out


def driving_samples(rng: random.Random) -> list[Sample]:
    out = []
    models = ["江淮牌HFC7150", "大众牌SVW7152", "比亚迪牌BYD7005", "吉利牌JL7152", "长安牌SC7164"]
    types = ["小型普通客车", "小型轿车", "小型越野客车"]
    for n, variant in enumerate(("clean", "clean", "clean", "noisy", "noisy")):
        p = person(rng)
        prefix = REGIONS[p["region"]][2]
        plate = prefix + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
        reg = f"{rng.randrange(2012, 2024)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        total, prep = rng.randrange(1500, 2300), rng.randrange(1100, 1500)
        v = {
            "plate_num": plate,
            "vehicle_type": rng.choice(types),
            "owner": p["name"],
            "addr": p["addr"],
            "use_character": "非营运",
            "model": models[n],
            "vin": "L"
            + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16)),
            "engine_num": "".join(
                rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(8)
            ),
            "register_date": reg,
            "issue_date": reg[:8] + f"{min(28, int(reg[8:]) + 2):02d}",
            "plate_num_b": plate,
            "record": p["region"] + "".join(rng.choice("0123456789") for _ in range(6)),
            "passengers_num": f"{rng.choice((5, 5, 7))}人",
            "total_quality": f"{total}kg",
            "prepare_quality": f"{prep}kg",
            "overall_size": "x".join(
                str(rng.randrange(*span)) for span in ((4300, 4900), (1700, 1900), (1400, 1700))
            )
            + "mm",
        }
        front, back = driving_pages(v, rng)
        both = n != 2  # one photo shows the front page only: no card_position_back
        sheets, rects = (
            ([front, back], [(40, 70, 600, 412), (680, 70, 600, 412)])
            if both
            else ([front], [(40, 70, 600, 412)])
        )
        canvas = (1320, 560) if both else (680, 560)

        def answer(scene: Scene, v: dict[str, str] = v, both: bool = both) -> dict[str, Any]:
            a: dict[str, Any] = dict(v)
            if not both:  # the back page's fields are not in the picture
                for key in (
                    "plate_num_b",
                    "record",
                    "passengers_num",
                    "total_quality",
                    "prepare_quality",
                    "overall_size",
                ):
                    a.pop(key)
            a["card_position_front"] = _quad(scene.quads[0])
            if both:
                a["card_position_back"] = _quad(scene.quads[1])
            a["img_size"] = scene.size
            return a

        out.append(Sample("driving", variant, sheets, rects, canvas, answer))
    return out


def drivinglicense_samples(rng: random.Random) -> list[Sample]:
    out = []
    for variant in ("clean", "clean", "clean", "noisy", "noisy"):
        p = person(rng)
        year = int(p["birth"][:4]) + rng.randrange(18, 25)
        first = f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        start = f"{int(first[:4]) + 6}{first[4:]}"
        lic = {
            "id_num": id_number(p["region"], p["birth"], int(p["seq"])),
            "name": p["name"],
            "sex": p["gender"],
            "nationality": "中国",
            "address": p["addr"],
            "birth_date": dashed(p["birth"]),
            "issue_date": first,
            "car_class": rng.choice(["C1", "C2", "C1", "B2", "A1"]),
            "valid_from": start,
            "valid_to": f"{int(start[:4]) + 10}{start[4:]}",
            "official_seal": CITY[p["region"]] + "公安局交通警察支队",
        }
        sheet = drivinglicense(p, lic)
        out.append(
            Sample(
                "drivinglicense",
                variant,
                [sheet],
                [(60, 60, 880, 590)],
                (1000, 710),
                lambda _s, a=lic: a,
            )
        )
    return out


def bizlicense_samples(rng: random.Random) -> list[Sample]:
    company = {
        "enterprise_name": "left",
        "type_of_enterprise": "left",
        "legal_representative": "left",
        "business_scope": "left",
        "registered_capital": "right",
        "registered_date": "right",
        "valid_period": "right",
        "address": "right",
    }
    names = [
        "广州晨星示例科技有限公司",
        "苏州样本贸易有限公司",
        "北京演示文化传媒有限公司",
        "上海虚构餐饮管理有限公司",
        "杭州模拟信息技术有限公司",
    ]
    scopes = [
        "软件开发;信息技术咨询服务;数据处理和存储支持服务;计算机系统服务。",
        "日用百货销售;文具用品零售;办公用品销售;货物进出口。",
        "组织文化艺术交流活动;会议及展览服务;广告设计、代理;摄影扩印服务。",
        "餐饮服务;食品销售;餐饮管理;外卖递送服务。",
        "网络技术服务;软件开发;信息系统集成服务。",
    ]
    out = []
    for n, variant in enumerate(("clean", "clean", "clean", "noisy", "noisy")):
        p = person(rng)
        year = rng.randrange(2010, 2024)
        date = f"{year}年{rng.randrange(1, 13)}月{rng.randrange(1, 29)}日"
        b = {
            "reg_num": credit_code(rng),
            "serial": f"S{rng.randrange(10**12, 10**13)}",
            "enterprise_name": names[n],
            "type_of_enterprise": "有限责任公司(自然人投资或控股)",
            "legal_representative": p["name"],
            "business_scope": scopes[n],
            "registered_capital": f"{rng.choice((50, 100, 200, 500))}万元人民币",
            "registered_date": date,
            "valid_period": f"{date}至长期",
            "address": p["addr"],
        }
        if n == 1:  # a sole proprietorship: no capital, no term, a form of organisation
            b["enterprise_name"] = "苏州市姑苏区样本便利店"
            b["type_of_enterprise"] = "个体工商户"
            b["type_of_organization"] = "个人经营"
            for key in ("registered_capital", "valid_period"):
                b.pop(key)
        labels = dict(company)
        labels["type_of_organization"] = "left"
        order = [
            "enterprise_name",
            "type_of_enterprise",
            "legal_representative",
            "type_of_organization",
            "business_scope",
            "registered_capital",
            "registered_date",
            "valid_period",
            "address",
        ]
        sheet = bizlicense(b, {k: labels[k] for k in order})

        def answer(scene: Scene, b: dict[str, str] = b) -> dict[str, Any]:
            return {**b, "cert_position": _quad(scene.quads[0]), "img_size": scene.size}

        out.append(
            Sample("bizlicense", variant, [sheet], [(50, 50, 1000, 700)], (1100, 800), answer)
        )
    return out


COMM_PAGES = [
    [
        "关于二期停水检修的通知",
        "各位业主：",
        "因供水管道年度检修，定于本周六",
        "上午8:00至下午17:00暂停供水。",
        "请提前做好储水准备。",
        "如有疑问请致电物业服务中心",
        "联系电话020-12345678",
        "示例花园物业服务中心",
        "2026年3月12日",
    ],
    [
        "图书馆开放时间调整公告",
        "读者朋友们：",
        "自下月起，本馆开放时间调整为",
        "周一至周五9:00-21:00",
        "周六、周日10:00-18:00",
        "法定节假日另行通知。",
        "感谢您的理解与支持！",
        "样本市图书馆",
        "2026年4月1日",
    ],
    [
        "会议纪要",
        "时间：2026年5月8日",
        "地点：三楼第二会议室",
        "一、确定季度工作重点",
        "二、讨论预算执行情况",
        "三、安排下阶段培训计划",
        "请各部门按时落实。",
        "综合办公室",
        "2026年5月9日",
    ],
    [
        "温馨提示",
        "尊敬的顾客：",
        "本店营业时间为每日10:00至22:00",
        "会员凭卡可享受九折优惠",
        "请妥善保管好随身物品",
        "谢谢惠顾，欢迎再次光临！",
        "示例便利店",
        "2026年6月",
    ],
    [
        "课程安排通知",
        "各位同学：",
        "本学期数据分析课程改在",
        "周三下午第5至6节上课，",
        "地点为实验楼201教室。",
        "请携带笔记本电脑。",
        "教务处",
        "2026年2月20日",
    ],
]


def comm_samples(rng: random.Random) -> list[Sample]:
    out = []
    for n, variant in enumerate(("clean", "clean", "clean", "noisy", "noisy")):
        lines = COMM_PAGES[n]
        height = 150 + 56 * (len(lines) - 3) + 140
        sheet = text_page(lines, (960, height), rng)
        if variant == "clean":  # a screenshot: the page is the image
            rect, canvas, fmt = (0, 0, 960, height), (960, height), "png"
        else:
            rect, canvas, fmt = (60, 60, 960, height), (1080, height + 120), "jpg"

        def answer(scene: Scene) -> dict[str, Any]:
            items = [{"text": t, **_quad(q)} for t, q in scene.lines[0]]
            return {"items": items, "img_size": scene.size}

        out.append(Sample("comm", variant, [sheet], [rect], canvas, answer, fmt=fmt))
    return out


def platenum_samples(rng: random.Random) -> list[Sample]:
    plates = [
        ("粤B12345", "blue"),
        ("京AD12345", "green"),
        ("苏E5F678", "yellow"),
        ("浙A8K236", "blue"),
        ("沪BD04567", "green"),
    ]
    out = []
    for (number, style), variant in zip(
        plates, ("clean", "clean", "clean", "noisy", "noisy"), strict=True
    ):
        sheet = car_with_plate(number, style, rng)
        rect = (-30, -30, 1060, 700) if variant == "noisy" else (0, 0, 1000, 660)
        out.append(
            Sample(
                "platenum",
                variant,
                [sheet],
                [rect],
                (1000, 660),
                lambda _s, a={"number": number}: a,
            )
        )
    return out


MENUS = [
    (
        "示例小馆",
        True,
        [
            ("凉菜", [("拍黄瓜", 12), ("夫妻肺片", 38), ("凉拌木耳", 16), ("卤牛肉", 48)]),
            (
                "热菜",
                [
                    ("酱鸭", 48),
                    ("龙虾", 80),
                    ("芝麻鸭块", 48),
                    ("皮皮虾", 70),
                    ("小炒黄牛肉", 58),
                    ("清蒸鲈鱼", 68),
                ],
            ),
        ],
    ),
    (
        "样本面馆",
        False,
        [
            ("面食", [("牛肉面", 22), ("炸酱面", 18), ("番茄鸡蛋面", 16), ("酸辣粉", 14)]),
            ("小吃", [("煎饺", 12), ("春卷", 10.5), ("卤蛋", 3), ("豆浆", 4.5)]),
        ],
    ),
    (
        "演示茶餐厅",
        True,
        [
            ("饮品", [("港式奶茶", 18), ("柠檬茶", 16), ("鸳鸯", 18), ("红豆冰", 20)]),
            ("餐点", [("菠萝包", 12), ("干炒牛河", 42), ("叉烧饭", 36), ("咖喱鱼蛋", 22)]),
        ],
    ),
    (
        "虚构烧烤",
        False,
        [
            ("烤串", [("羊肉串", 5), ("牛肉串", 6), ("烤鸡翅", 12), ("烤韭菜", 4)]),
            ("主食", [("烤馒头", 3), ("炒面", 15), ("扬州炒饭", 18), ("凉面", 12)]),
        ],
    ),
    (
        "模拟食堂",
        True,
        [
            (
                "今日菜品",
                [
                    ("红烧肉", 28),
                    ("宫保鸡丁", 26),
                    ("麻婆豆腐", 16),
                    ("清炒时蔬", 12),
                    ("鱼香肉丝", 24),
                    ("番茄炒蛋", 15),
                ],
            )
        ],
    ),
]


def menu_samples(rng: random.Random) -> list[Sample]:
    out = []
    for (title, yuan, sections), variant in zip(
        MENUS, ("clean", "clean", "clean", "noisy", "noisy"), strict=True
    ):
        sheet, items = menu_page(title, sections, yuan)
        content = json.dumps({"menu_items": items}, ensure_ascii=False)
        out.append(
            Sample(
                "menu",
                variant,
                [sheet],
                [(40, 40, 960, 1000)],
                (1040, 1080),
                lambda _s, c=content: {"content": c},
            )
        )
    del rng
    return out


def nodoc_sample(rng: random.Random) -> Sample:
    """A sticky note on a desk: no ID card in it, the platform answers 101001."""
    s = Sheet.new(420, 420, (250, 230, 120))
    for i, line in enumerate(["购物清单", "牛奶两盒", "鸡蛋一打", "全麦面包"]):
        s.text((40, 40 + 80 * i), line, size=40, weight="Medium")
    del rng
    return Sample(
        "idcard",
        "noisy",
        [s],
        [(290, 130, 420, 420)],
        (1000, 680),
        lambda _s: {"errcode": 101001, "errmsg": "certificate not found"},
    )


BUILDERS = {
    "idcard": idcard_samples,
    "bankcard": bankcard_samples,
    "driving": driving_samples,
    "drivinglicense": drivinglicense_samples,
    "bizlicense": bizlicense_samples,
    "comm": comm_samples,
    "platenum": platenum_samples,
    "menu": menu_samples,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the synthetic sample images.")
    parser.add_argument("--out", type=Path, default=HERE, help="folder (default: sample_data/)")
    parser.add_argument("--seed", default="", help="another seed: a held-out set, same layouts")
    args = parser.parse_args(argv)
    out: Path = args.out
    truth: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        rng = random.Random(f"ocr-frames samples {kind}{args.seed}")
        samples = BUILDERS[kind](rng)
        if kind == "idcard":
            samples.append(nodoc_sample(rng))
        for n, sample in enumerate(samples, 1):
            scene = compose(
                sample.sheets, sample.canvas, sample.rects, rng, noisy=sample.variant == "noisy"
            )
            quality = 92 if sample.variant == "clean" else rng.randrange(60, 72)
            data = encode(scene.image, sample.fmt, quality)
            name = f"{kind}/{kind}_{n:02d}.{sample.fmt}"
            (out / name).write_bytes(data)
            answer = sample.answer(scene)
            truth[name] = {
                "kind": kind,
                "sha256": hashlib.sha256(data).hexdigest(),
                "answer": {"errcode": 0, "errmsg": "ok", **answer},
                "variant": sample.variant,
                "invalid": sample.invalid,
            }
    # deliberately bad rows: a renamed duplicate, an empty file, a text file named .jpg
    first = "idcard/idcard_01.jpg"
    (out / "idcard/idcard_01_copy.jpg").write_bytes((out / first).read_bytes())
    truth["idcard/idcard_01_copy.jpg"] = dict(truth[first])
    (out / "idcard/empty.png").write_bytes(b"")
    (out / "idcard/notes.jpg").write_text("not an image\n")
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {len(truth)} sample images + truth.json to {out} ({total / 1024 / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
