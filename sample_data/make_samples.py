"""Generate the bundled sample images and their expected answers (``truth.json``).

Run ``python sample_data/make_samples.py`` (``make samples``, which installs the CJK font
from PyPI first).  Everything is synthetic and deterministic (seeded): no real person,
card, company or vehicle; bank and company names are made up.  Each kind gets 3 *clean*
images (flat, like a scanner) and 2 *noisy* ones (like a phone photo: perspective,
rotation, desk, shadow, uneven light, blur, noise, JPEG artefacts), rendered with Pillow in
Noto Sans CJK; see ``_documents.py`` (the documents) and ``_scene.py`` (the photos).

``truth.json`` maps ``"<kind>/<file>"`` to ``{"kind", "sha256", "answer", "variant",
"invalid"}``: ``answer`` is the raw platform answer (errcode/errmsg included, ``menu``
``content`` as a JSON string), ``invalid`` lists fields printed deliberately invalid (an
ID number with a wrong check character, a card number failing Luhn) - an OCR engine must
read them as printed.  The comm truth holds each printed line with its quadrilateral.
Deliberately bad files in ``idcard/`` (empty, not an image, a renamed duplicate) and a
photo with no ID card in it show per-row errors, de-duplication and 101001.

``--seed S --out DIR`` writes another set from the same generator (held-out images for
``bench/local_engine.py --held-out DIR``); without them the committed set is rebuilt
with the same values, byte for byte given the same Pillow, OpenCV and NumPy (other
versions move some pixels by a few levels, so the JPEG bytes differ).
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

from _documents import (
    bankcard,
    bizlicense,
    car_with_plate,
    driving_pages,
    drivinglicense,
    idcard_back,
    idcard_front,
    menu_page,
    text_page,
)
from _scene import Scene, Sheet, compose, encode

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


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # ISO 3779: no I, O, Q
#: ISO 3779 transliteration: digits as themselves, A-H 1-8, J-N 1-5, P 7, R 9, S-Z 2-9
VIN_VALUES = {c: int(c) for c in "0123456789"} | {
    c: int(v) for c, v in zip("ABCDEFGHJKLMNPRSTUVWXYZ", "12345678123457923456789", strict=True)
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def credit_code(rng: random.Random) -> str:
    """A unified social credit code valid under GB 32100-2015 (not a registered one).

    ``91`` (工商, enterprise), a Guangdong region ``44xxxx``, a random organisation code
    and the MOD 31 check character.  Draws 14 characters, as always, so that every later
    value of the samples stays the same: letters among the region's four draws become
    digits, the last draw gives way to the check character.
    """
    draws = [rng.choice(USCC_ALPHABET) for _ in range(14)]
    region = "44" + "".join(str(USCC_ALPHABET.index(c) % 10) for c in draws[:4])
    body = "91" + region + "".join(draws[4:13])
    total = sum(USCC_ALPHABET.index(c) * (3**i % 31) for i, c in enumerate(body))
    return body + USCC_ALPHABET[-total % 31]


def vin(rng: random.Random) -> str:
    """A China-built (``L``) VIN with its ISO 3779 / GB 16735 position-9 check digit.

    Draws 16 characters, as always; the eighth draw gives way to the check digit.
    """
    draws = "L" + "".join(rng.choice(VIN_ALPHABET) for _ in range(16))
    total = sum(VIN_VALUES[c] * w for c, w in zip(draws, VIN_WEIGHTS, strict=True))
    return draws[:8] + "0123456789X"[total % 11] + draws[9:]


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


def dashed(date: str) -> str:
    return f"{date[:4]}-{date[4:6]}-{date[6:]}"


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
        front_fields = {
            "plate_num": plate,
            "vehicle_type": rng.choice(types),
            "owner": p["name"],
            "addr": p["addr"],
            "use_character": "非营运",
            "model": models[n],
            "vin": vin(rng),
            "engine_num": "".join(rng.choice(VIN_ALPHABET) for _ in range(8)),
            "register_date": reg,
            "issue_date": reg[:8] + f"{min(28, int(reg[8:]) + 2):02d}",
        }
        back_fields = {
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
        v = {**front_fields, **back_fields}
        front, back = driving_pages(v, rng)
        both = n != 2  # one photo shows the front page only: no card_position_back
        sheets, rects = (
            ([front, back], [(40, 70, 600, 412), (680, 70, 600, 412)])
            if both
            else ([front], [(40, 70, 600, 412)])
        )
        canvas = (1320, 560) if both else (680, 560)

        shown = v if both else front_fields  # not the fields of a page not in the picture

        def answer(
            scene: Scene, shown: dict[str, str] = shown, both: bool = both
        ) -> dict[str, Any]:
            a: dict[str, Any] = dict(shown)
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
