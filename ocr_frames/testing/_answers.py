"""What the emulated platform answers when nothing is registered: realistic fallback answers.

Fallback answers have exactly the platform's JSON shapes and are a pure function of
(kind, sha256); error bodies are the protocol's (:func:`ocr_frames._server.protocol.error_body`).

Every generated identifier is valid, not merely well-formed: ID numbers carry the
GB 11643 check digit, bank card numbers the Luhn digit, VINs the ISO 3779 check digit and
business licence numbers the GB 32100 unified social credit code check character, so
validators downstream can be exercised on them.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from typing import Any, Final

from ocr_frames.kinds import check_kind

__all__ = ["fallback_answer"]

# (division code, province, city, district, plate prefix)
_REGIONS: Final = (
    ("440106", "广东省", "广州市", "天河区", "粤A"),
    ("440305", "广东省", "深圳市", "南山区", "粤B"),
    ("110105", "北京市", "", "朝阳区", "京N"),
    ("310115", "上海市", "", "浦东新区", "沪D"),
    ("330106", "浙江省", "杭州市", "西湖区", "浙A"),
    ("320106", "江苏省", "南京市", "鼓楼区", "苏A"),
    ("510107", "四川省", "成都市", "武侯区", "川A"),
    ("420106", "湖北省", "武汉市", "武昌区", "鄂A"),
    ("610113", "陕西省", "西安市", "雁塔区", "陕A"),
    ("370202", "山东省", "青岛市", "市南区", "鲁B"),
)
_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉玲桂英华建国志红"
_STREETS: Final = ("中山路", "人民路", "解放路", "建设路", "和平路", "文化路", "滨江大道")
_ETHNIC: Final = (("汉", 90), ("回", 3), ("满", 3), ("壮", 2), ("苗", 2))
_BANK_PREFIXES: Final = (("622202", 19), ("621700", 19), ("622848", 19), ("621483", 16))
_CAR_MODELS: Final = (
    ("LSV", "大众汽车牌SVW7141BRD", "小型轿车", "4669x1806x1469mm", 5, 1360),
    ("LFV", "一汽大众牌FV7207FBDWG", "小型轿车", "4866x1832x1479mm", 5, 1520),
    ("LVG", "丰田牌TV7250HEV", "小型普通客车", "4885x1840x1455mm", 5, 1620),
    ("LGB", "日产牌DFL7201VBL2", "小型轿车", "4869x1840x1445mm", 5, 1480),
    ("LGX", "比亚迪牌BYD6481ST6HEV", "小型普通客车", "4870x1950x1725mm", 7, 2040),
)
_DISHES: Final = (
    "酱鸭", "龙虾", "芝麻鸭块", "皮皮虾", "花甲", "小鸭翅", "鸭肠", "八宝", "千叶豆腐",
    "鸭脖", "毛豆", "鸭锁骨", "藕片", "鱿鱼须", "腐竹", "鸭舌", "花生米", "牛肉串",
)  # fmt: skip
_LINES: Final = (
    "腾讯", "微信团队", "通知", "发票代码", "金额合计", "备注", "联系电话 020-81167888",
    "地址: 广州市海珠区新港中路397号", "2023年5月12日", "Total 128.00", "WeChat OCR",
)  # fmt: skip
_BIZ_WORDS: Final = ("锦华", "恒通", "瑞丰", "宏达", "新源", "佳禾", "云帆", "博远")
_BIZ_TRADES: Final = (
    ("贸易", "日用百货、五金交电、电子产品的批发和零售。"),
    ("餐饮管理", "餐饮服务;餐饮管理;食品销售。"),
    ("信息技术", "软件开发;信息技术咨询服务;数据处理和存储服务。"),
)
_USCC_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VIN_CHARS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES: Final = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", (*range(1, 9), *range(1, 6), 7, 9,
                                                          *range(2, 10)), strict=True))  # fmt: skip
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_PLATE_CHARS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def fallback_answer(kind: str, sha256: str) -> dict[str, Any]:
    """The answer the emulator gives for ``sha256`` when nothing is registered for it."""
    rng = random.Random(f"{check_kind(kind)}:{sha256}")  # test data, not secrets
    return {"errcode": 0, "errmsg": "ok", **_BUILDERS[kind](rng)}


# --- identifiers --------------------------------------------------------------------
def _id_number(rng: random.Random, region: str, birth: dt.date, male: bool) -> str:
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(body))
    return body + "10X98765432"[total % 11]


def _luhn(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def _vin(rng: random.Random, wmi: str) -> str:
    chars = list(wmi + "".join(rng.choice(_VIN_CHARS) for _ in range(14)))
    chars[9] = rng.choice("KLMNPR")  # model year 2019-2024
    total = sum(
        (int(c) if c.isdigit() else _VIN_VALUES[c]) * w
        for c, w in zip(chars, _VIN_WEIGHTS, strict=True)
    )
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


def _uscc(rng: random.Random, region: str) -> str:
    body = "92" if rng.random() < 0.3 else "91"
    body += region + "MA" + "".join(rng.choice(_USCC_CHARS) for _ in range(7))
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_CHARS[-total % 31]


# --- small pieces -------------------------------------------------------------------
def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.sample(_GIVEN, rng.choice((1, 2, 2))))


def _date(rng: random.Random, first_year: int, last_year: int) -> dt.date:
    start = dt.date(first_year, 1, 1).toordinal()
    return dt.date.fromordinal(rng.randrange(start, dt.date(last_year, 12, 31).toordinal()))


def _add_years(day: dt.date, years: int) -> dt.date:
    return day.replace(year=day.year + years, day=min(day.day, 28) if day.month == 2 else day.day)


def _addr(rng: random.Random, region: tuple[str, ...]) -> str:
    building = f"{rng.randint(1, 30)}栋{rng.randint(1, 30)}0{rng.randint(1, 6)}房"
    return f"{''.join(region[1:4])}{rng.choice(_STREETS)}{rng.randint(1, 999)}号{building}"


def _plate(rng: random.Random, prefix: str) -> str:
    if rng.random() < 0.2:  # new-energy plates have six characters after the prefix
        return prefix + rng.choice("DF") + "".join(rng.choice("0123456789") for _ in range(5))
    return prefix + "".join(rng.choice(_PLATE_CHARS) for _ in range(5))


def _pos(rng: random.Random, left: int, top: int, width: int, height: int) -> dict[str, Any]:
    def corner(x: int, y: int) -> dict[str, int]:
        return {"x": max(0, x + rng.randint(-3, 3)), "y": max(0, y + rng.randint(-3, 3))}

    return {
        "left_top": corner(left, top),
        "right_top": corner(left + width, top),
        "right_bottom": corner(left + width, top + height),
        "left_bottom": corner(left, top + height),
    }


def _img_size(rng: random.Random) -> dict[str, int]:
    w, h = rng.choice(((1280, 720), (1920, 1080), (3120, 4208), (1080, 1440), (966, 728)))
    return {"w": w, "h": h}


def _card_position(rng: random.Random, size: dict[str, int], half: int) -> dict[str, Any]:
    width = size["w"] // 2 - size["w"] // 20
    left = half * size["w"] // 2 + size["w"] // 40
    top = rng.randint(size["h"] // 10, size["h"] // 3)
    return {"pos": _pos(rng, left, top, width, width * 2 // 3)}


# --- one builder per kind -----------------------------------------------------------
def _idcard(rng: random.Random) -> dict[str, Any]:
    region = rng.choice(_REGIONS)
    if rng.random() < 0.35:
        start = _date(rng, 2008, 2023)
        years = rng.choice((5, 10, 20, 0))
        end = _add_years(start, years).strftime("%Y%m%d") if years else "长期"
        return {"type": "Back", "valid_date": f"{start:%Y%m%d}-{end}"}
    male = rng.random() < 0.5
    return {
        "type": "Front",
        "name": _name(rng),
        "id": _id_number(rng, region[0], _date(rng, 1950, 2005), male),
        "addr": _addr(rng, region),
        "gender": "男" if male else "女",
        "nationality": rng.choices([e for e, _ in _ETHNIC], [w for _, w in _ETHNIC])[0],
    }


def _bankcard(rng: random.Random) -> dict[str, Any]:
    prefix, length = rng.choice(_BANK_PREFIXES)
    return {"number": _luhn(rng, prefix, length)}


def _driving(rng: random.Random) -> dict[str, Any]:
    region = rng.choice(_REGIONS)
    wmi, model, vehicle_type, overall, seats, mass = rng.choice(_CAR_MODELS)
    registered = _date(rng, 2010, 2023)
    plate = _plate(rng, region[4])
    size = _img_size(rng)
    answer: dict[str, Any] = {
        "plate_num": plate,
        "vehicle_type": vehicle_type,
        "owner": _name(rng),
        "addr": _addr(rng, region),
        "use_character": "非营运",
        "model": model,
        "vin": _vin(rng, wmi),
        "engine_num": "".join(rng.choice(_PLATE_CHARS) for _ in range(8)),
        "register_date": registered.isoformat(),
        "issue_date": (registered + dt.timedelta(days=rng.choice((0, 0, 3, 700)))).isoformat(),
        "plate_num_b": plate,
        "record": region[0][:4] + "".join(rng.choice("0123456789") for _ in range(8)),
        "passengers_num": f"{seats}人",
        "total_quality": f"{mass + seats * 75 + 100}kg",
        "prepare_quality": f"{mass}kg",
        "overall_size": overall,
        "card_position_front": _card_position(rng, size, 0),
    }
    if rng.random() < 0.5:
        answer["card_position_back"] = _card_position(rng, size, 1)
    answer["img_size"] = size
    return answer


def _drivinglicense(rng: random.Random) -> dict[str, Any]:
    region = rng.choice(_REGIONS)
    birth = _date(rng, 1960, 2004)
    male = rng.random() < 0.6
    valid_from = _add_years(birth, rng.randint(18, 20)) + dt.timedelta(days=rng.randint(0, 300))
    return {
        "id_num": _id_number(rng, region[0], birth, male),
        "name": _name(rng),
        "sex": "男" if male else "女",
        "nationality": "中国",
        "address": _addr(rng, region),
        "birth_date": birth.isoformat(),
        "issue_date": valid_from.isoformat(),
        "car_class": rng.choice(("C1", "C1", "C2", "B2", "A1")),
        "valid_from": valid_from.isoformat(),
        "valid_to": _add_years(valid_from, rng.choice((6, 10))).isoformat(),
        "official_seal": f"{region[1]}{region[2]}公安局交通警察支队",
    }


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _bizlicense(rng: random.Random) -> dict[str, Any]:
    region = rng.choice(_REGIONS)
    trade, scope = rng.choice(_BIZ_TRADES)
    founded = _date(rng, 2005, 2023)
    reg_num = _uscc(rng, region[0])
    city = region[2] or region[1]
    answer: dict[str, Any] = {"reg_num": reg_num}
    if rng.random() < 0.6:  # fields the licence does not show are omitted, not null
        answer["serial"] = "".join(rng.choice("0123456789") for _ in range(12))
    answer["legal_representative"] = _name(rng)
    if reg_num.startswith("92"):  # sole proprietorship (个体工商户)
        answer["enterprise_name"] = f"{city}{region[3]}{rng.choice(_BIZ_WORDS)}{trade}店"
        answer["type_of_organization"] = "个人经营"
    else:
        answer["enterprise_name"] = f"{city}{rng.choice(_BIZ_WORDS)}{trade}有限公司"
        answer["type_of_enterprise"] = "有限责任公司(自然人投资或控股)"
    answer["address"] = _addr(rng, region)
    answer["business_scope"] = scope
    if not reg_num.startswith("92"):
        capital = f"{rng.choice((10, 50, 100, 200, 500))}万元"
        answer["registered_capital"] = capital
        if rng.random() < 0.3:
            answer["paid_in_capital"] = capital
    answer["valid_period"] = rng.choice(("长期", f"{_cn_date(founded)}至长期"))
    answer["registered_date"] = _cn_date(founded)
    size = _img_size(rng)
    width = size["w"] * 3 // 5
    top = rng.randint(0, size["h"] // 5)
    answer["cert_position"] = {"pos": _pos(rng, size["w"] // 5, top, width, size["h"] * 3 // 5)}
    answer["img_size"] = size
    return answer


def _comm(rng: random.Random) -> dict[str, Any]:
    size = _img_size(rng)
    items = []
    top = rng.randint(10, size["h"] // 8)
    for text in rng.sample(_LINES, rng.randint(2, 6)):
        height = rng.randint(14, 32)
        left = rng.randint(10, size["w"] // 4)
        width = min(len(text) * height, size["w"] - left - 10)
        items.append({"text": text, "pos": _pos(rng, left, top, width, height)})
        top += height + rng.randint(8, 40)
    return {"items": items, "img_size": size}


def _platenum(rng: random.Random) -> dict[str, Any]:
    return {"number": _plate(rng, rng.choice(_REGIONS)[4])}


def _menu(rng: random.Random) -> dict[str, Any]:
    items = [
        {"name": dish, "price": float(rng.randint(5, 140)) + rng.choice((0.0, 0.0, 0.5))}
        for dish in rng.sample(_DISHES, rng.randint(2, 8))
    ]
    # the platform sends the menu as a JSON *string* inside the JSON answer
    return {"content": json.dumps({"menu_items": items}, ensure_ascii=False)}


_BUILDERS: Final[dict[str, Callable[[random.Random], dict[str, Any]]]] = {
    "idcard": _idcard,
    "bankcard": _bankcard,
    "driving": _driving,
    "drivinglicense": _drivinglicense,
    "bizlicense": _bizlicense,
    "comm": _comm,
    "platenum": _platenum,
    "menu": _menu,
}
