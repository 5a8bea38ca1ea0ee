"""营业执照 (business licence): the landscape 正本 and the portrait 副本.

Both forms are drawn from what real licences look like: the national emblem and the
large title 营业执照 at the top, the credit code (统一社会信用代码, or the older 15-digit
注册号) at the top left, the serial (证照编号) at the top right, a QR code with its
caption, label/value rows (two columns on the 正本, one on the 副本) whose labels depend
on the kind of enterprise, and the registering authority with a red seal over the date.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from ._common import (
    INK,
    LABEL_INKS,
    PROVINCES,
    Sample,
    address,
    bold,
    date,
    draw_text,
    font,
    person_name,
    qr_block,
    seal,
    text_width,
    wrap_to_width,
)

# --- identity numbers ------------------------------------------------------------------
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_DIVISIONS = (
    "110105", "110108", "310115", "310104", "440106", "440104", "330106", "330108",
    "510107", "510104", "420111", "420103", "320106", "320115", "370102", "410105",
    "350102", "350111",
)  # fmt: skip


def uscc(rng: random.Random, org_type: str = "1") -> str:
    """A valid 统一社会信用代码 (GB 32100): 9 + type + division + org code + check char."""
    body = [rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8)]
    if rng.random() < 0.9:  # most organisation codes are all digits
        body = [rng.choice("0123456789") for _ in range(8)]
    s = sum(_USCC_CHARS.index(c) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    c9 = 11 - s % 11
    org = "".join(body) + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))
    head = "9" + org_type + rng.choice(_DIVISIONS) + org
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(head, _USCC_WEIGHTS, strict=True))
    check = (31 - total % 31) % 31
    return head + _USCC_CHARS[check]


def reg_no15(rng: random.Random) -> str:
    """A valid old 15-digit 注册号 (GB/T 17710 MOD 11,10 check digit)."""
    head = (
        rng.choice(_DIVISIONS)
        + rng.choice("0123456789")
        + "".join(rng.choice("0123456789") for _ in range(7))
    )
    p = 10
    for ch in head:
        s = (p + int(ch)) % 10 or 10
        p = (s * 2) % 11
    return head + str((11 - p) % 10)


# --- values ------------------------------------------------------------------------------
_DIGITS_CN = "零壹贰叁肆伍陆柒捌玖"


def _cn_upper(n: int) -> str:
    """Financial numerals for 1..99999999 (壹仟贰佰万 ...)."""

    def four(v: int) -> str:
        out = ""
        zero = False
        for unit, div in (("仟", 1000), ("佰", 100), ("拾", 10), ("", 1)):
            d = v // div % 10
            if d:
                if zero and out:
                    out += "零"
                out += _DIGITS_CN[d] + unit
                zero = False
            else:
                zero = True
        return out

    hi, lo = divmod(n, 10000)
    if hi and lo:
        return four(hi) + "万" + ("零" if lo < 1000 else "") + four(lo)
    if hi:
        return four(hi) + "万"
    return four(lo)


def capital(rng: random.Random, big: bool = True) -> str:
    """注册资本 as printed: 伍拾万元整, 人民币伍佰万元整, 50万元人民币, 100.000000万人民币 ..."""
    wan = rng.choice((3, 5, 10, 10, 30, 50, 50, 100, 100, 200, 300, 500, 1000, 2000, 5000))
    if not big:
        wan = rng.choice((1, 2, 3, 5, 10, 20))
    style = rng.randrange(5)
    if style == 0:
        return _cn_upper(wan) + "万元整"
    if style == 1:
        return "人民币" + _cn_upper(wan) + "万元整"
    if style == 2:
        return f"{wan}万元人民币"
    if style == 3:
        return f"{wan}.000000万人民币"
    return f"人民币{wan}万元"


def cn_date(y: int, m: int, d: int, pad: bool) -> str:
    return f"{y}年{m:02d}月{d:02d}日" if pad else f"{y}年{m}月{d}日"


_BRANDS = "云启华信恒达瑞丰鼎盛博远天合新创金泰宏图汇智锦程嘉禾聚源卓越德隆安泰正阳明辉"
_INDUSTRIES = (
    "科技", "信息技术", "网络科技", "商贸", "贸易", "建筑工程", "文化传媒", "餐饮管理",
    "电子科技", "生物科技", "物流", "企业管理咨询", "装饰工程", "医疗器械", "教育科技",
    "环保科技", "食品", "服装", "广告", "机械设备",
)  # fmt: skip
_SCOPES: dict[str, list[str]] = {
    "科技": [
        "技术开发、技术咨询、技术服务、技术转让",
        "计算机系统服务",
        "软件开发",
        "数据处理（数据处理中的银行卡中心、PUE值在1.5以上的云计算数据中心除外）",
        "基础软件服务；应用软件服务",
        "销售计算机、软件及辅助设备、电子产品、通讯设备",
        "信息系统集成服务",
        "互联网信息服务",
        "设计、制作、代理、发布广告",
    ],
    "商贸": [
        "销售日用品、针纺织品、服装、鞋帽、文具用品、体育用品",
        "批发零售五金交电、建筑材料、化工产品（不含危险化学品）",
        "货物进出口、技术进出口、代理进出口",
        "销售食品",
        "家用电器销售",
        "会议服务；承办展览展示活动",
        "企业管理咨询",
        "国内贸易代理",
        "日用百货销售",
    ],
    "工程": [
        "建设工程施工",
        "住宅室内装饰装修",
        "园林绿化工程施工",
        "建筑材料销售",
        "施工专业作业",
        "城市绿化管理",
        "金属门窗工程施工",
        "工程管理服务",
        "土石方工程施工",
        "机械设备租赁",
    ],
    "餐饮": [
        "餐饮服务",
        "食品经营（销售预包装食品）",
        "餐饮管理",
        "酒类经营",
        "外卖递送服务",
        "食品互联网销售",
        "小餐饮、小食杂、食品小作坊经营",
    ],
    "咨询": [
        "企业管理咨询",
        "经济贸易咨询",
        "教育咨询（不含出国留学咨询及中介服务）",
        "市场调查",
        "组织文化艺术交流活动",
        "公共关系服务",
        "企业策划、设计",
        "人力资源服务（不含职业中介活动、劳务派遣服务）",
        "财务咨询",
    ],
}
_SHOP_SCOPES = (
    "中型餐馆（不含凉菜、不含裱花蛋糕，不含生食海产品）。",
    "小吃服务；预包装食品零售。",
    "零售：日用百货、五金交电、文具用品、烟（零售）。",
    "理发服务。",
    "服装、鞋帽零售。",
    "家用电器维修；手机维修。",
    "水果、蔬菜零售。",
    "快餐服务；饮料及冷饮服务。",
)
_APPROVAL = (
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "（依法须经批准的项目，经相关部门批准后依批准的内容开展经营活动。）",
    "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
)


def business_scope(rng: random.Random, industry: str, n: int) -> str:
    key = {
        "科技": "科技",
        "信息技术": "科技",
        "网络科技": "科技",
        "电子科技": "科技",
        "生物科技": "科技",
        "教育科技": "咨询",
        "环保科技": "科技",
        "商贸": "商贸",
        "贸易": "商贸",
        "食品": "商贸",
        "服装": "商贸",
        "医疗器械": "商贸",
        "物流": "商贸",
        "机械设备": "商贸",
        "建筑工程": "工程",
        "装饰工程": "工程",
        "餐饮管理": "餐饮",
        "文化传媒": "咨询",
        "企业管理咨询": "咨询",
        "广告": "咨询",
    }.get(industry, "商贸")
    pool = list(_SCOPES[key])
    other = [c for k, v in _SCOPES.items() if k != key for c in v]
    clauses = rng.sample(pool, min(n, len(pool)))
    if n > len(pool) or rng.random() < 0.4:
        clauses += rng.sample(other, max(1, n - len(pool)))
    sep = rng.choice(("；", "；", "、"))
    body = sep.join(clauses) + "。"
    return body + rng.choice(_APPROVAL)


def _place(province: str) -> tuple[str, list[str]]:
    """The city and districts of a province in the fictional address data."""
    city, districts = PROVINCES[province]
    return str(city), [str(x) for x in districts]


@dataclass
class _Enterprise:
    kind: str
    rows: list[tuple[str, str, str]]  # (label, answer field or "", value)


def _enterprise(rng: random.Random, old: bool) -> _Enterprise:
    kind = rng.choices(
        ("company", "branch", "individual", "partnership", "sole"), (6, 1.5, 2.5, 1.2, 1)
    )[0]
    province = rng.choice(list(PROVINCES))
    city, districts = _place(province)
    city_short = city.removesuffix("市")
    district = rng.choice(districts)
    brand = "".join(rng.sample(_BRANDS, 2))
    industry = rng.choice(_INDUSTRIES)
    y, m, d = date(rng, 1995 if old else 2012, 2015 if old else 2024)
    pad = rng.random() < 0.7
    start = cn_date(y, m, d, pad)
    years = rng.choice((10, 20, 20, 30, 50))
    end = cn_date(y + years, m, max(1, d - 1), pad)
    period = rng.choice((f"{start}至长期", f"{start}至{end}", "长期", f"{start}至长期"))
    boss = person_name(rng)
    rows: list[tuple[str, str, str]]
    if kind in ("company", "branch"):
        suffix = rng.choice(("有限公司", "有限公司", "有限责任公司", "股份有限公司"))
        name = f"{city_short}{brand}{industry}{suffix}"
        if rng.random() < 0.3:
            name = f"{city_short}市{brand}{industry}{suffix}"
        if kind == "branch":
            name += rng.choice((district.removesuffix("区"), "第一", "城东", "高新")) + "分公司"
            etype = rng.choice(
                ("股份有限公司分公司（非上市、自然人投资或控股）", "其他股份有限公司分公司")
                if suffix == "股份有限公司"
                else ("有限责任公司分公司（自然人投资或控股）", "其他有限责任公司分公司")
            )
            rows = [
                ("名称", "enterprise_name", name),
                ("类型", "type_of_enterprise", etype),
                ("负责人", "legal_representative", boss),
                ("成立日期", "registered_date", start),
                ("营业期限", "valid_period", period),
                ("营业场所", "address", address(rng)),
            ]
        else:
            if suffix == "股份有限公司":
                etype = rng.choice(
                    ("股份有限公司（非上市、自然人投资或控股）", "其他股份有限公司（非上市）")
                )
            else:
                etype = rng.choice(
                    ("有限责任公司（自然人投资或控股）", "有限责任公司（自然人独资）",
                     "有限责任公司（法人独资）", "其他有限责任公司",
                     "有限责任公司（非自然人投资或控股的法人独资）")
                )  # fmt: skip
            cap = capital(rng)
            rows = [
                ("名称", "enterprise_name", name),
                ("类型", "type_of_enterprise", etype),
                ("法定代表人", "legal_representative", boss),
                ("注册资本", "registered_capital", cap),
            ]
            if old and rng.random() < 0.6:
                rows.append(("实收资本", "paid_in_capital", cap))
            rows += [
                ("成立日期", "registered_date", start),
                ("营业期限", "valid_period", period),
                ("住所", "address", address(rng)),
            ]
        scope = business_scope(rng, industry, rng.randint(3, 12))
        rows.append(("经营范围", "business_scope", scope))
    elif kind == "individual":
        shop = rng.choice(("饮食店", "面馆", "小吃店", "便利店", "理发店", "服装店", "电器维修部",
                           "水果店", "快餐店", "百货商店"))  # fmt: skip
        owner = boss
        name = rng.choice(
            (f"{district}{owner[0]}记{shop}", f"{city_short}市{district}{brand}{shop}",
             f"{brand}{shop}")
        )  # fmt: skip
        scope = rng.choice(_SHOP_SCOPES)
        if rng.random() < 0.5:
            scope += rng.choice(_APPROVAL)
        rows = [
            ("名称", "enterprise_name", name),
            ("类型", "type_of_enterprise", "个体工商户"),
            ("经营者", "legal_representative", owner),
            ("组成形式", "type_of_organization", rng.choice(("个人经营", "个人经营", "家庭经营"))),
            ("注册日期", "registered_date", start),
            ("经营场所", "address", address(rng)),
            ("经营范围", "business_scope", scope),
        ]
    elif kind == "partnership":
        limited = rng.random() < 0.6
        trade = rng.choice(("投资管理", "企业管理咨询", "股权投资", "科技"))
        name = f"{city_short}{brand}{trade}合伙企业"
        name += "（有限合伙）" if limited else "（普通合伙）"
        partner = boss if rng.random() < 0.5 else f"{city_short}{brand}投资管理有限公司"
        if rng.random() < 0.3 and not partner.endswith("公司"):
            partner = f"{city_short}{brand}资产管理有限公司（委派代表：{boss}）"
        rows = [
            ("名称", "enterprise_name", name),
            ("类型", "type_of_enterprise", "有限合伙企业" if limited else "普通合伙企业"),
            ("执行事务合伙人", "legal_representative", partner),
        ]
        if rng.random() < 0.6:
            rows.append(("出资额", "registered_capital", capital(rng)))
        rows += [
            ("成立日期", "registered_date", start),
            ("合伙期限", "valid_period", period),
            ("主要经营场所", "address", address(rng)),
            ("经营范围", "business_scope", business_scope(rng, "企业管理咨询", rng.randint(2, 6))),
        ]
    else:  # sole proprietorship
        trade = rng.choice(("商贸部", "建材经营部", "咨询服务中心", "装饰工作室"))
        name = f"{city_short}{district}{brand}{trade}"
        rows = [
            ("名称", "enterprise_name", name),
            ("类型", "type_of_enterprise", "个人独资企业"),
            ("投资人", "legal_representative", boss),
        ]
        if rng.random() < 0.5:
            rows.append(("出资额", "registered_capital", capital(rng, big=False)))
        rows += [
            ("成立日期", "registered_date", start),
            ("住所", "address", address(rng)),
            ("经营范围", "business_scope", business_scope(rng, industry, rng.randint(2, 6))),
        ]
    return _Enterprise(kind, rows)


# --- drawing -------------------------------------------------------------------------------
_CAPTIONS = (
    ("扫描二维码登录“国家企业信用", "信息公示系统”了解更多登记、", "备案、许可、监管信息。"),
    ("扫描市场主体身份码", "了解更多登记、备案、", "许可、监管信息，", "体验更多应用服务。"),
)


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    tint = rng.choice(((252, 250, 244), (250, 246, 236), (246, 248, 246), (255, 253, 250)))
    img = Image.new("RGB", size, tint)
    d = ImageDraw.Draw(img)
    w, h = size
    # a faint guilloche-like wave pattern, as on the real security paper
    if rng.random() < 0.7:
        col = tuple(max(0, c - rng.randint(8, 16)) for c in tint)
        step = rng.randint(18, 30)
        amp = rng.uniform(4, 10)
        for y0 in range(0, h, step):
            pts = [(x, y0 + amp * math.sin(x / 37.0 + y0)) for x in range(0, w, 12)]
            d.line(pts, fill=col, width=1)
    # the decorative border: an outer band and an inner thin frame
    m = int(min(w, h) * rng.uniform(0.025, 0.04))
    band = rng.choice(((196, 150, 70), (180, 60, 50), (170, 130, 80), (120, 110, 100)))
    bw = rng.randint(10, 22)
    d.rectangle((m, m, w - m, h - m), outline=band, width=bw)
    inner = m + bw + rng.randint(6, 14)
    d.rectangle((inner, inner, w - inner, h - inner), outline=band, width=2)
    for cx, cy in ((m, m), (w - m, m), (m, h - m), (w - m, h - m)):
        d.rectangle((cx - bw, cy - bw, cx + bw, cy + bw), fill=band)
    return img


def _emblem(img: Image.Image, centre: tuple[int, int], r: int) -> None:
    """A crude national emblem: a red disc with a gold rim, five gold stars and a gate."""
    d = ImageDraw.Draw(img)
    cx, cy = centre
    gold = (226, 176, 40)
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=gold)
    d.ellipse((cx - r * 0.82, cy - r * 0.82, cx + r * 0.82, cy + r * 0.82), fill=(200, 30, 30))
    d.regular_polygon((cx, cy - r * 0.38, r * 0.2), 5, fill=gold)
    for k in range(4):
        ang = math.radians(-150 + 40 * k)
        d.regular_polygon(
            (cx + r * 0.55 * math.cos(ang) * 0.9, cy + r * 0.2 + r * 0.55 * math.sin(ang) * 0.6,
             r * 0.08), 5, fill=gold
        )  # fmt: skip
    d.rectangle((cx - r * 0.45, cy + r * 0.15, cx + r * 0.45, cy + r * 0.45), fill=gold)
    d.rectangle((cx - r * 0.12, cy + r * 0.25, cx + r * 0.12, cy + r * 0.45), fill=(200, 30, 30))


@dataclass
class _Style:
    face: str
    label_face: str
    size: int
    label_ink: tuple[int, int, int]
    ink: tuple[int, int, int]
    colon: bool
    justify: int  # labels justified to this many characters (0: natural width)
    line_gap: float
    row_gap: float


def _label_width(draw: ImageDraw.ImageDraw, st: _Style, labels: list[str]) -> float:
    lf = font(st.label_face, st.size)
    em = text_width(draw, "国", lf)
    natural = max(text_width(draw, lab + ("：" if st.colon else ""), lf) for lab in labels)
    return max(natural, em * st.justify + (em if st.colon else 0))


def _draw_label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], label: str, st: _Style) -> None:
    lf = font(st.label_face, st.size)
    em = text_width(draw, "国", lf)
    spacing = 0.0
    if st.justify and len(label) > 1 and len(label) < st.justify:
        spacing = (em * st.justify - text_width(draw, label, lf)) / (len(label) - 1)
    draw_text(draw, xy, label + ("：" if st.colon and not spacing else ""), lf, st.label_ink,
              spacing)  # fmt: skip
    if st.colon and spacing:
        draw_text(draw, (xy[0] + em * st.justify, xy[1]), "：", lf, st.label_ink)


def _draw_rows(
    draw: ImageDraw.ImageDraw,
    rows: list[tuple[str, str, str]],
    x: float,
    y: float,
    right: float,
    st: _Style,
    max_lines: dict[str, int],
) -> float | None:
    """Draw label/value rows in a column; returns the bottom, or None when a value needs
    more lines than ``max_lines`` allows for its field."""
    vf = font(st.face, st.size)
    lw = _label_width(draw, st, [r[0] for r in rows])
    vx = x + lw + st.size * 0.6
    for label, fld, value in rows:
        lines = wrap_to_width(draw, value, vf, right - vx)
        if len(lines) > max_lines.get(fld, 2):
            return None
        _draw_label(draw, (x, y), label, st)
        for i, line in enumerate(lines):
            draw_text(draw, (vx, y + i * st.size * st.line_gap), line, vf, st.ink)
        y += (len(lines) - 1) * st.size * st.line_gap + st.size * st.row_gap
    return y


def _shorten_scope(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The rows with one clause less in the business scope (when it does not fit)."""
    out = []
    for label, fld, value in rows:
        if fld == "business_scope":
            body, dot, tail = value.partition("。")
            cut = max(body.rfind("；"), body.rfind("、"))
            if cut > 0:
                value = body[:cut] + dot + tail
            elif tail:
                value = body + dot
        out.append((label, fld, value))
    return out


def _authority(rng: random.Random) -> str:
    province = rng.choice(list(PROVINCES))
    city, districts = _place(province)
    return rng.choice(
        (f"{city}{rng.choice(districts)}市场监督管理局", f"{city}市场监督管理局",
         f"{city}工商行政管理局")
    )  # fmt: skip


def _style(rng: random.Random, face: str, size: int) -> _Style:
    return _Style(
        face=face,
        label_face=rng.choice((bold("sans"), "serif-bold", "sans", face, bold(face))),
        size=size,
        label_ink=rng.choice(LABEL_INKS),
        ink=rng.choice((INK, (10, 10, 10), (45, 40, 40))),
        colon=rng.random() < 0.25,
        justify=rng.choice((0, 4, 4, 5)),
        line_gap=rng.uniform(1.3, 1.55),
        row_gap=rng.uniform(1.9, 2.5),
    )


def generate_bizlicense(rng: random.Random, face: str) -> Sample:
    """One 营业执照, 正本 (landscape, two columns) or 副本 (portrait, one column)."""
    old = rng.random() < 0.2
    ent = _enterprise(rng, old)
    code = reg_no15(rng) if old else uscc(rng, "2" if ent.kind == "individual" else "1")
    serial = (
        rng.choice(("S", ""))
        + "".join(rng.choice("0123456789") for _ in range(rng.choice((18, 20))))
        if rng.random() < 0.65
        else ""
    )
    if serial and rng.random() < 0.3:
        serial += f"({rng.randint(1, 3)}-1)"
    if rng.random() < 0.5:
        return _draw_zheng(rng, face, ent, code, serial, old)
    return _draw_fu(rng, face, ent, code, serial, old)


def _top(
    img: Image.Image,
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    face: str,
    code: str,
    serial: str,
    old: bool,
    title_y: int,
    title_size: int,
    fu: bool,
) -> tuple[dict[str, str], int]:
    """Emblem, title, code and serial; returns the answer so far and the title's bottom."""
    w, _ = img.size
    answer: dict[str, str] = {}
    _emblem(img, (w // 2 + rng.randint(-6, 6), title_y - int(title_size * 0.85)),
            int(title_size * 0.55))  # fmt: skip
    tf = font(rng.choice(("serif-bold", "serif-bold", bold("sans"), "hei")), title_size)
    title = "营业执照"
    sp = title_size * rng.uniform(0.25, 0.6)
    tw = sum(text_width(draw, c, tf) for c in title) + sp * 3
    tx = (w - tw) / 2
    draw_text(draw, (tx, title_y), title, tf, (20, 20, 20), sp)
    bottom = title_y + int(title_size * 1.25)
    if fu:
        sf = font(rng.choice(("serif", "sans")), int(title_size * 0.4))
        s = "（副本）"
        draw_text(draw, ((w - text_width(draw, s, sf)) / 2, bottom), s, sf, (20, 20, 20))
        bottom += int(title_size * 0.55)
        if rng.random() < 0.5:
            nf = font("sans", int(title_size * 0.28))
            note = f"副本编号：{rng.randint(1, 3)}-1"
            draw_text(draw, (w * 0.64, bottom - title_size * 0.4), note, nf, INK)
    top_y = min(img.size) * 0.04 + 45
    emblem_l = w / 2 - title_size * 0.7
    emblem_r = w / 2 + title_size * 0.7
    # code at the top left, on one line or two, never under the emblem
    cs = int(title_size * rng.uniform(0.3, 0.36))
    lf = font(rng.choice(("sans", bold("sans"), "serif")), cs)
    cf = font(rng.choice(("sans", bold("sans"), face)), cs)
    cx = w * rng.uniform(0.08, 0.11)
    label = "注册号" if old else "统一社会信用代码"
    lw = text_width(draw, label, lf) + cs * 0.6
    inline = rng.random() < 0.5 and cx + lw + text_width(draw, code, cf) < emblem_l
    if inline:
        cy = max(top_y, title_y - title_size * rng.uniform(0.7, 1.0))
        draw_text(draw, (cx, cy), label, lf, INK)
        draw_text(draw, (cx + lw, cy), code, cf, INK)
    else:
        while cx + max(lw, text_width(draw, code, cf)) > emblem_l and cs > 16:
            cs -= 2
            lf = font(_face_of(lf), cs)
            cf = font(_face_of(cf), cs)
        cy = max(top_y, title_y - title_size * rng.uniform(1.0, 1.2))
        draw_text(draw, (cx, cy), label, lf, INK)
        draw_text(draw, (cx, cy + cs * 1.45), code, cf, INK)
    answer["reg_num"] = code
    if serial:
        ss = int(cs * 0.85)
        txt = "证照编号：" + serial
        while text_width(draw, txt, font("sans", ss)) > w * 0.92 - emblem_r - 20 and ss > 14:
            ss -= 1
        sfnt = font("sans", ss)
        sx = w * 0.92 - text_width(draw, txt, sfnt)
        draw_text(draw, (sx, max(top_y, title_y - title_size * 1.25)), txt, sfnt, INK)
        answer["serial"] = serial
    return answer, bottom


def _face_of(fnt: ImageFont.FreeTypeFont) -> str:
    """The role a loaded font was made for (to reload it at another size)."""
    for role in ("sans-bold", "serif-bold", "sans", "serif", "kai", "ming", "hei"):
        if font(role, 20).path == fnt.path and font(role, 20).index == fnt.index:
            return role
    return "sans"


def _qr(img: Image.Image, draw: ImageDraw.ImageDraw, rng: random.Random, x: int, y: int,
        size: int, caption_side: str) -> None:  # fmt: skip
    qr_block(img, (x, y, size), rng)
    cap = rng.choice(_CAPTIONS)
    cf = font("sans", max(14, size // 9))
    lh = cf.size * 1.35
    if caption_side == "right":
        for i, line in enumerate(cap):
            draw_text(draw, (x + size + 14, y + size / 2 - lh * len(cap) / 2 + i * lh), line, cf)
    else:
        for i, line in enumerate(cap):
            tw = text_width(draw, line, cf)
            draw_text(draw, (x + size / 2 - tw / 2, y + size + 8 + i * lh), line, cf)


def _issue(img: Image.Image, draw: ImageDraw.ImageDraw, rng: random.Random, face: str,
           x: float, y: float, size: int) -> None:  # fmt: skip
    """登记机关 with the seal over the issue date."""
    lf = font(rng.choice((bold("sans"), "serif-bold")), size)
    draw_text(draw, (x, y), "登记机关", lf, INK, size * rng.uniform(0, 0.4))
    iy, im, idd = date(rng, 2016, 2025)
    dtxt = f"{iy}年{im:02d}月{idd:02d}日"
    df = font(face, size)
    dy = y + size * 2.6
    dx = x + size * rng.uniform(0.3, 1.0)
    draw_text(draw, (dx, dy), dtxt, df, INK)
    r = int(size * rng.uniform(2.6, 3.1))
    cx = int(dx + text_width(draw, dtxt, df) / 2 + rng.randint(-size, size))
    cy = int(dy + size * rng.uniform(-0.6, 0.4))
    seal(img, (cx, cy), r, _authority(rng), rng)


def _draw_zheng(
    rng: random.Random, face: str, ent: _Enterprise, code: str, serial: str, old: bool
) -> Sample:
    w = rng.randint(1800, 2000)
    h = int(w / rng.uniform(1.38, 1.45))
    rows = ent.rows
    left_fields = ("enterprise_name", "type_of_enterprise", "legal_representative",
                   "type_of_organization", "business_scope")  # fmt: skip
    left = [r for r in rows if r[1] in left_fields]
    right = [r for r in rows if r[1] not in left_fields]
    # label order varies slightly within a column (名称 first, 经营范围 last)
    if rng.random() < 0.3 and len(left) > 3:
        left[1], left[2] = left[2], left[1]
    if rng.random() < 0.3 and len(right) > 2:
        right[0], right[1] = right[1], right[0]
    paper = _background((w, h), rng)
    sizes = (rng.randint(34, 42), 32, 30, 28)
    for attempt in range(20):
        size = sizes[min(attempt, len(sizes) - 1)]
        if attempt >= len(sizes):
            left = _shorten_scope(left)
            rows = left + right
        img = paper.copy()
        draw = ImageDraw.Draw(img)
        title_size = int(w * rng.uniform(0.055, 0.065))
        title_y = int(h * rng.uniform(0.16, 0.185))
        answer, tb = _top(img, draw, rng, face, code, serial, old, title_y, title_size, False)
        qr_top = rng.random() < 0.5
        qsize = int(h * rng.uniform(0.11, 0.14))
        if qr_top:
            _qr(img, draw, rng, int(w * 0.92 - qsize), int(title_y - title_size * 0.6), qsize,
                "below")  # fmt: skip
            tb = max(tb, int(title_y - title_size * 0.6 + qsize + 20 + qsize * 0.45))
        st = _style(rng, face, size)
        lx = w * rng.uniform(0.08, 0.11)
        rx = w * rng.uniform(0.52, 0.57)
        top = tb + size * rng.uniform(0.8, 1.8)
        bottom_limit = h * 0.76 if not qr_top else h * 0.78
        yl = _draw_rows(draw, left, lx, top, rx - size * 2.2, st,
                        {"business_scope": 5, "enterprise_name": 2, "type_of_enterprise": 2,
                         "legal_representative": 2})  # fmt: skip
        yr = _draw_rows(draw, right, rx, top, w * 0.9, st, {"address": 3})
        if yl is None or yr is None or max(yl, yr) - st.size * (st.row_gap - 1) > bottom_limit:
            continue
        if not qr_top:
            _qr(img, draw, rng, int(lx), int(h * 0.8), qsize, "right")
        _issue(img, draw, rng, face, w * rng.uniform(0.62, 0.68), h * 0.79, int(size * 0.95))
        for _, fld, value in rows:
            answer[fld] = value
        return Sample("bizlicense", img, answer, "正本", face, {"kind": ent.kind})
    raise RuntimeError("licence rows do not fit")  # pragma: no cover


def _draw_fu(
    rng: random.Random, face: str, ent: _Enterprise, code: str, serial: str, old: bool
) -> Sample:
    w = rng.randint(1250, 1350)
    h = int(w * rng.uniform(1.38, 1.45))
    rows = list(ent.rows)
    paper = _background((w, h), rng)
    sizes = (rng.randint(32, 38), 30, 28, 26)
    for attempt in range(20):
        size = sizes[min(attempt, len(sizes) - 1)]
        if attempt >= len(sizes):
            rows = _shorten_scope(rows)
        img = paper.copy()
        draw = ImageDraw.Draw(img)
        title_size = int(w * rng.uniform(0.085, 0.1))
        title_y = int(h * rng.uniform(0.12, 0.14))
        answer, tb = _top(img, draw, rng, face, code, serial, old, title_y, title_size, True)
        qsize = int(w * rng.uniform(0.13, 0.16))
        corner = rng.choice(("top-right", "bottom-left"))
        if corner == "top-right":
            qy = int(tb + 10)
            _qr(img, draw, rng, int(w * 0.9 - qsize), qy, qsize, "below")
        # beside a top-right QR code the rows are narrower
        right = w * 0.89 - (qsize + size * 1.5 if corner == "top-right" else 0)
        st = _style(rng, face, size)
        x = w * rng.uniform(0.1, 0.14)
        y = _draw_rows(draw, rows, x, tb + size * rng.uniform(0.6, 1.4), right, st,
                       {"business_scope": 5, "address": 3, "enterprise_name": 2,
                        "type_of_enterprise": 2, "legal_representative": 2})  # fmt: skip
        if y is None or y - st.size * (st.row_gap - 1) > h * 0.77:
            continue
        if corner == "bottom-left":
            _qr(img, draw, rng, int(x), int(h * 0.8), qsize, "right")
        _issue(img, draw, rng, face, w * rng.uniform(0.56, 0.62), h * 0.79, size)
        for _, fld, value in rows:
            answer[fld] = value
        return Sample("bizlicense", img, answer, "副本", face, {"kind": ent.kind, "qr": corner})
    raise RuntimeError("licence rows do not fit")  # pragma: no cover


__all__ = ["generate_bizlicense", "reg_no15", "uscc"]
