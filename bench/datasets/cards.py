"""Cards: the resident ID card (front or back), bank cards and licence plates."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageFilter

from bench.datasets._common import (
    INK,
    Sample,
    address,
    bold,
    date,
    draw_text,
    font,
    person_name,
    text_width,
    wrap_to_width,
)

# --- identity numbers ----------------------------------------------------------------
REGION_CODES = (
    "110105",
    "110108",
    "310115",
    "440106",
    "440304",
    "330106",
    "510107",
    "420111",
    "320106",
    "370102",
    "410105",
    "350102",
    "441900",
    "500103",
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def id_number(rng: random.Random, birth: tuple[int, int, int], male: bool) -> str:
    y, m, d = birth
    seq = rng.randint(0, 99) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first = f"{rng.choice(REGION_CODES)}{y:04d}{m:02d}{d:02d}{seq:03d}"
    return first + id_check(first)


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A Luhn-valid card number of ``length`` digits starting with ``prefix``."""
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        v = int(c)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return body + str((10 - total % 10) % 10)


NATIONS = ("汉",) * 8 + ("回", "满", "蒙古", "壮", "维吾尔", "苗", "彝", "土家", "藏", "朝鲜")
ID_LABEL = (40, 110, 170)


def _emblem(d: ImageDraw.ImageDraw, cx: int, cy: int, r: int) -> None:
    """A stylised national-emblem area: red disc, gold stars and rays (no text)."""
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 40, 35), outline=(220, 170, 40), width=6)
    d.regular_polygon((cx - r * 0.25, cy - r * 0.35, r * 0.22), 5, fill=(240, 200, 50))
    for i in range(4):
        ang = math.radians(-60 + 40 * i)
        d.regular_polygon(
            (cx + r * 0.25 + r * 0.3 * math.cos(ang), cy - r * 0.35 + r * 0.3 * math.sin(ang), 10),
            5,
            fill=(240, 200, 50),
        )
    d.rectangle(
        (cx - r * 0.5, cy + r * 0.1, cx + r * 0.5, cy + r * 0.45), outline=(240, 200, 50), width=5
    )
    d.arc(
        (cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85),
        20,
        160,
        fill=(240, 200, 50),
        width=6,
    )


def _guilloche(img: Image.Image, rng: random.Random, colour: tuple[int, ...]) -> None:
    d = ImageDraw.Draw(img)
    w, h = img.size
    for k in range(rng.randint(10, 22)):
        amp = rng.uniform(8, 30)
        per = rng.uniform(80, 260)
        y0 = rng.uniform(0, h)
        pts = [(x, y0 + amp * math.sin(x / per * 2 * math.pi + k)) for x in range(0, w + 10, 10)]
        d.line(pts, fill=colour, width=1)


def _card_base(rng: random.Random, tint: tuple[int, int, int]) -> Image.Image:
    w, h = 1000, 630
    img = Image.new("RGB", (w, h), tint)
    _guilloche(img, rng, tuple(max(0, c - rng.randint(12, 30)) for c in tint))
    return img


def _id_front(rng: random.Random, face: str) -> Sample:
    tint = (rng.randint(238, 250), rng.randint(238, 248), rng.randint(225, 240))
    img = _card_base(rng, tint)
    d = ImageDraw.Draw(img)
    male = rng.random() < 0.5
    birth = date(rng, 1950, 2005)
    name = person_name(rng)
    nation = rng.choice(NATIONS)
    addr = address(rng, long=rng.random() < 0.5)
    idn = id_number(rng, birth, male)
    lab_size = rng.randint(26, 30)
    val_size = rng.randint(32, 38)
    lab = font(rng.choice(("sans", "hei", "sans-bold")), lab_size)
    val = font(face, val_size)
    label_ink = ID_LABEL if rng.random() < 0.8 else (90, 90, 100)
    x0 = rng.randint(60, 90)
    xv = x0 + rng.randint(95, 115)
    y = rng.randint(55, 80)
    step = val_size + rng.randint(26, 40)
    spaced = rng.random() < 0.6
    sp = lab_size * 0.9 if spaced else 0.0
    # photo area at the right
    px0, py0 = 660 + rng.randint(-10, 20), 90 + rng.randint(-20, 20)
    d.rectangle((px0, py0, px0 + 270, py0 + 330), fill=(228, 232, 238))
    d.ellipse((px0 + 70, py0 + 50, px0 + 200, py0 + 200), fill=(190, 196, 205))
    d.chord((px0 + 20, py0 + 190, px0 + 250, py0 + 420), 180, 360, fill=(190, 196, 205))
    dy = (val_size - lab_size) // 2 + 2
    draw_text(d, (x0, y + dy), "姓名", lab, label_ink, sp)
    draw_text(d, (xv, y), name, val, INK)
    y += step
    draw_text(d, (x0, y + dy), "性别", lab, label_ink, sp)
    draw_text(d, (xv, y), "男" if male else "女", val, INK)
    x2 = xv + rng.randint(110, 150)
    draw_text(d, (x2, y + dy), "民族", lab, label_ink, sp)
    draw_text(d, (x2 + rng.randint(90, 110), y), nation, val, INK)
    y += step
    draw_text(d, (x0, y + dy), "出生", lab, label_ink, sp)
    by, bm, bd = birth
    parts = [(str(by), 0), ("年", 1), (str(bm), 0), ("月", 1), (str(bd), 0), ("日", 1)]
    x: float = xv
    for text, is_label in parts:
        f = lab if is_label else val
        x = draw_text(d, (x, y + (dy if is_label else 0)), text, f, label_ink if is_label else INK)
        x += rng.randint(8, 16)
    y += step
    draw_text(d, (x0, y + dy), "住址", lab, label_ink, sp)
    max_w = px0 - 20 - xv
    lines = wrap_to_width(d, addr, val, max_w)
    while len(lines) > 3:
        max_w += 20
        lines = wrap_to_width(d, addr, val, max_w)
    for line in lines:
        draw_text(d, (xv, y), line, val, INK)
        y += val_size + rng.randint(6, 12)
    idf = font(rng.choice((face, "mono", bold(face))), rng.randint(38, 44))
    yid = max(y + 20, 520 + rng.randint(-15, 20))
    lab2 = "公民身份号码"
    xe = draw_text(d, (x0, yid + 8), lab2, lab, label_ink, 4 if spaced else 0)
    xid = xe + rng.randint(30, 60)
    draw_text(d, (xid, yid), idn, idf, INK, spacing=rng.choice((0, 2, 4)))
    answer = {
        "type": "Front",
        "name": name,
        "id": idn,
        "addr": addr,
        "gender": "男" if male else "女",
        "nationality": nation,
    }
    return Sample("idcard", img, answer, "front", face, {"lines": len(lines)})


BUREAU_SUFFIX = ("分局", "公安局", "公安分局")


def _id_back(rng: random.Random, face: str) -> Sample:
    tint = (rng.randint(236, 250), rng.randint(238, 250), rng.randint(228, 244))
    img = _card_base(rng, tint)
    d = ImageDraw.Draw(img)
    r = rng.randint(80, 95)
    cx, cy = 80 + r + rng.randint(-10, 10), 70 + r + rng.randint(-10, 10)
    _emblem(d, cx, cy, r)
    tx = cx + r + rng.randint(50, 90)
    t1 = font(rng.choice(("serif-bold", "sans-bold", "hei")), rng.randint(44, 52))
    draw_text(d, (tx, cy - r + 10), "中华人民共和国", t1, INK, spacing=rng.randint(6, 16))
    t2 = font(rng.choice(("serif-bold", "sans-bold", "hei")), rng.randint(70, 86))
    draw_text(d, (tx - 30, cy + 5), "居民身份证", t2, INK, spacing=rng.randint(8, 20))
    lab = font(rng.choice(("sans", "hei")), rng.randint(26, 30))
    val = font(face, rng.randint(30, 36))
    province = address(rng).split("市")[0] + "市"
    if "省" in province:
        province = province.split("省")[1]
    district = rng.choice(("朝阳", "海淀", "天河", "西湖", "武侯", "洪山", "鼓楼", "历下", "金水"))
    authority = (
        f"{province}公安局{district}{rng.choice(BUREAU_SUFFIX[:1])}"
        if rng.random() < 0.6
        else f"{province}公安局"
    )
    y, m, dd = date(rng, 2005, 2023)
    if rng.random() < 0.2:
        valid_print = f"{y:04d}.{m:02d}.{dd:02d}-长期"
        valid_truth = f"{y:04d}{m:02d}{dd:02d}-长期"
    else:
        years = rng.choice((10, 20, 20, 5))
        valid_print = f"{y:04d}.{m:02d}.{dd:02d}-{y + years:04d}.{m:02d}.{dd:02d}"
        valid_truth = f"{y:04d}{m:02d}{dd:02d}-{y + years:04d}{m:02d}{dd:02d}"
    x0 = rng.randint(150, 230)
    y0 = rng.randint(440, 470)
    sp = rng.choice((0, 0, 8))
    xe = draw_text(d, (x0, y0 + 4), "签发机关", lab, ID_LABEL, sp)
    draw_text(d, (xe + rng.randint(25, 45), y0), authority, val, INK)
    y1 = y0 + rng.randint(60, 75)
    xe = draw_text(d, (x0, y1 + 4), "有效期限", lab, ID_LABEL, sp)
    draw_text(d, (xe + rng.randint(25, 45), y1), valid_print, val, INK)
    answer = {"type": "Back", "valid_date": valid_truth}
    return Sample("idcard", img, answer, "back", face)


def generate_idcard(rng: random.Random, face: str) -> Sample:
    """A resident ID card, front (name, gender, nation, birth, address, number) or back
    (emblem, issuing authority, validity)."""
    return _id_front(rng, face) if rng.random() < 0.6 else _id_back(rng, face)


# --- bank cards ----------------------------------------------------------------------
BANKS = (
    ("中国工商银行", "ICBC", (200, 20, 30), ("622202", "621226", "620200")),
    ("中国建设银行", "CHINA CONSTRUCTION BANK", (0, 70, 150), ("621700", "622700", "436742")),
    ("中国农业银行", "AGRICULTURAL BANK OF CHINA", (0, 130, 110), ("622848", "622845", "103")),
    ("中国银行", "BANK OF CHINA", (170, 20, 30), ("621661", "456351", "601382")),
    ("招商银行", "CHINA MERCHANTS BANK", (190, 30, 40), ("622588", "621483", "410062")),
    ("交通银行", "BANK OF COMMUNICATIONS", (20, 50, 130), ("622260", "622262", "405512")),
    ("中国邮政储蓄银行", "POSTAL SAVINGS BANK OF CHINA", (0, 110, 60), ("621799", "622188")),
    ("浦发银行", "SPD BANK", (20, 40, 110), ("622521", "622518")),
    ("兴业银行", "INDUSTRIAL BANK", (10, 60, 140), ("622909", "622908")),
    ("平安银行", "PING AN BANK", (230, 90, 20), ("622155", "623058")),
)
PINYIN = [
    "WANG",
    "LI",
    "ZHANG",
    "LIU",
    "CHEN",
    "YANG",
    "HUANG",
    "ZHAO",
    "WU",
    "ZHOU",
    "XU",
    "SUN",
    "MA",
    "ZHU",
    "HU",
    "GUO",
    "HE",
    "GAO",
    "LIN",
    "LUO",
    "WEI",
    "FANG",
    "NA",
    "MIN",
    "JING",
    "QIANG",
    "LEI",
    "JUN",
    "YANG",
    "YONG",
    "YAN",
    "JIE",
    "JUAN",
    "TAO",
    "MING",
    "CHAO",
    "XIU",
    "XIA",
    "PING",
]


def _chip(d: ImageDraw.ImageDraw, x: int, y: int, rng: random.Random) -> None:
    gold = (rng.randint(200, 225), rng.randint(170, 190), rng.randint(90, 120))
    d.rounded_rectangle(
        (x, y, x + 110, y + 85), radius=14, fill=gold, outline=(140, 110, 60), width=2
    )
    for yy in (y + 28, y + 57):
        d.line((x, yy, x + 110, yy), fill=(140, 110, 60), width=2)
    d.line((x + 55, y, x + 55, y + 28), fill=(140, 110, 60), width=2)
    d.line((x + 55, y + 57, x + 55, y + 85), fill=(140, 110, 60), width=2)
    d.rectangle((x + 35, y + 28, x + 75, y + 57), outline=(140, 110, 60), width=2)


def _group(number: str, rng: random.Random) -> str:
    if len(number) == 16:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    form = rng.choice(("4-4-4-4-3", "6-13", "19"))
    if form == "4-4-4-4-3":
        return " ".join(number[i : i + 4] for i in range(0, 19, 4))
    if form == "6-13":
        return f"{number[:6]} {number[6:]}"
    return number


def generate_bankcard(rng: random.Random, face: str) -> Sample:
    """A bank card: bank name and logo, chip, number (embossed or flat printed), holder name
    in latin letters, valid thru; the answer is ``{"number": digits}``."""
    w, h = 1000, 630
    bank, bank_en, colour, bins = rng.choice(BANKS)
    light = rng.random() < 0.35
    c0: tuple[int, ...]
    c1: tuple[int, ...]
    if light:
        c0 = (rng.randint(225, 245), rng.randint(225, 245), rng.randint(225, 245))
        c1 = tuple(min(255, v + rng.randint(-30, 5)) for v in c0)
    else:
        c0 = tuple(max(0, min(255, v + rng.randint(-25, 25))) for v in colour)
        c1 = tuple(max(0, min(255, v + rng.randint(-60, 40))) for v in colour)
    img = Image.new("RGB", (w, h), c0)
    d = ImageDraw.Draw(img)
    for x in range(w):
        t = x / w
        col = tuple(int(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))
        d.line((x, 0, x, h), fill=col)
    # decorative shapes
    for _ in range(rng.randint(1, 4)):
        r = rng.randint(120, 420)
        cx, cy = rng.randint(0, w), rng.randint(0, h)
        shade = tuple(max(0, min(255, v + rng.randint(-25, 25))) for v in c1)
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=shade, width=rng.randint(2, 30))
    ink = (30, 30, 40) if light else (250, 250, 250)
    # logo block + bank name
    lx, ly = rng.randint(40, 60), rng.randint(35, 55)
    d.ellipse((lx, ly, lx + 70, ly + 70), fill=colour if light else (250, 250, 250))
    d.rectangle((lx + 22, ly + 22, lx + 48, ly + 48), fill=c0 if light else colour)
    bf = font(rng.choice(("sans-bold", "serif-bold", "hei", "kai")), rng.randint(40, 50))
    draw_text(d, (lx + 90, ly + 2), bank, bf, ink)
    ef = font("sans", rng.randint(15, 19))
    draw_text(d, (lx + 92, ly + 58), bank_en, ef, ink)
    # card product label
    pf = font("sans-bold", rng.randint(24, 30))
    product = rng.choice(("借记卡", "信用卡", "储蓄卡", "DEBIT", "金穗借记卡", "龙卡", "一卡通"))
    pw = text_width(d, product, pf)
    draw_text(d, (w - pw - 50, ly + 20), product, pf, ink)
    _chip(d, rng.randint(80, 130), rng.randint(200, 240), rng)
    # number
    length = rng.choice((16, 19, 19))
    prefix = rng.choice(bins)
    number = luhn_complete(prefix, length, rng)
    printed = _group(number, rng)
    embossed = rng.random() < 0.5
    nf_role = rng.choice(("mono", face, bold(face), "mono"))
    size = rng.randint(50, 62)
    nf = font(nf_role, size)
    while text_width(d, printed, nf) + 140 > w:
        size -= 2
        nf = font(nf_role, size)
    nx = rng.randint(60, int(max(61, w - text_width(d, printed, nf) - 60)))
    ny = rng.randint(350, 390)
    if embossed:
        if light:  # dark or gold relief on a light card, silver or gold on a dark one
            metal = (60, 60, 70) if rng.random() < 0.6 else (175, 135, 50)
        else:
            metal = (230, 230, 230) if rng.random() < 0.6 else (225, 195, 115)
        layer = Image.new("L", (w, h), 0)
        ImageDraw.Draw(layer).text((nx, ny), printed, font=nf, fill=255)
        dark = Image.new("RGB", (w, h), (40, 40, 40))
        hi = Image.new("RGB", (w, h), (255, 255, 255))
        img.paste(dark, (2, 2), layer.filter(ImageFilter.GaussianBlur(1)))
        img.paste(hi, (-1, -1), layer)
        img.paste(Image.new("RGB", (w, h), metal), (0, 0), layer)
        d = ImageDraw.Draw(img)
    else:
        draw_text(d, (nx, ny), printed, nf, ink)
    # valid thru and holder
    sf = font("sans", 16)
    vy = ny + size + rng.randint(20, 35)
    vx = rng.randint(300, 480)
    draw_text(d, (vx, vy), "VALID", sf, ink)
    draw_text(d, (vx, vy + 18), "THRU", sf, ink)
    mm, yy = rng.randint(1, 12), rng.randint(25, 35)
    draw_text(d, (vx + 60, vy), f"{mm:02d}/{yy:02d}", font("mono", 34), ink)
    if rng.random() < 0.7:
        holder = f"{rng.choice(PINYIN)} {rng.choice(PINYIN)}{rng.choice(PINYIN).lower()}"
        draw_text(d, (nx, vy + 55), holder.upper(), font("mono", 32), ink)
    # network logo block bottom right
    bx, by = w - 200, h - 130
    d.rounded_rectangle((bx, by, bx + 150, by + 95), radius=10, fill=(225, 30, 40))
    d.rounded_rectangle((bx + 40, by, bx + 110, by + 95), radius=10, fill=(20, 60, 140))
    d.rounded_rectangle((bx + 85, by, bx + 150, by + 95), radius=10, fill=(0, 130, 130))
    lf = font("sans-bold", 22)
    draw_text(d, (bx + 22, by + 30), "银联", lf, (255, 255, 255))
    draw_text(d, (bx + 78, by + 58), "UnionPay", font("sans-bold", 15), (255, 255, 255))
    img = _round_corners(img, 36, rng)
    layout = f"{'embossed' if embossed else 'flat'}-{len(number)}"
    return Sample("bankcard", img, {"number": number}, layout, face, {"printed": printed})


def _round_corners(img: Image.Image, r: int, rng: random.Random) -> Image.Image:
    """Rounded card corners over a plain margin (what a scan of a card shows)."""
    m = 24
    bg = (rng.randint(235, 250),) * 3
    out = Image.new("RGB", (img.width + 2 * m, img.height + 2 * m), bg)
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, img.width - 1, img.height - 1), radius=r, fill=255
    )
    out.paste(img, (m, m), mask)
    return out


# --- licence plates ------------------------------------------------------------------
PROVINCE_ABBR = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"


def _plate_chars(rng: random.Random, kind: str) -> list[str]:
    chars = [rng.choice(PROVINCE_ABBR), rng.choice(PLATE_LETTERS[:16])]
    if kind == "green":
        if rng.random() < 0.7:  # small new-energy car: D/F + alnum + 4 digits
            chars += [rng.choice("DF"), rng.choice(PLATE_ALNUM)]
            chars += [rng.choice(DIGITS) for _ in range(4)]
        else:  # large new-energy: 5 digits + D/F
            chars += [rng.choice(DIGITS) for _ in range(5)] + [rng.choice("DF")]
        return chars
    n_letters = rng.choice((0, 0, 1, 1, 2))
    tail = [rng.choice(DIGITS) for _ in range(5 - n_letters)] + [
        rng.choice(PLATE_LETTERS) for _ in range(n_letters)
    ]
    rng.shuffle(tail)
    chars += tail
    if kind in ("yellow-学", "white-警"):
        chars[-1] = kind[-1]
    return chars


def _glyph(ch: str, role: str, box: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    """``ch`` drawn to fill a ``box`` (condensed like plate lettering), on transparency."""
    bw, bh = box
    f = font(role, bh)
    tmp = Image.new("L", (bh * 2, bh * 2), 0)
    ImageDraw.Draw(tmp).text((bh // 4, bh // 4), ch, font=f, fill=255)
    bbox = tmp.getbbox() or (0, 0, 1, 1)
    glyph = tmp.crop(bbox)
    gw, gh = glyph.size
    tw = bw if gw > bw * 0.5 else max(1, int(gw * bh / gh))
    glyph = glyph.resize((min(bw, tw), bh), Image.Resampling.LANCZOS)
    out = Image.new("RGBA", glyph.size, (*colour, 0))
    out.putalpha(glyph)
    solid = Image.new("RGBA", glyph.size, (*colour, 255))
    solid.putalpha(glyph)
    return solid


def _plate(rng: random.Random, kind: str, face: str) -> tuple[Image.Image, str]:
    chars = _plate_chars(rng, kind)
    green = kind == "green"
    pw, ph = (480, 140) if green else (440, 140)
    s = 2
    pw, ph = pw * s, ph * s
    if kind == "blue":
        bg, fg = (15, 60, 180), (245, 245, 245)
    elif kind.startswith("yellow"):
        bg, fg = (245, 190, 20), (15, 15, 15)
    elif kind.startswith("white"):
        bg, fg = (245, 245, 245), (15, 15, 15)
    else:
        bg, fg = (240, 250, 240), (15, 15, 15)
    plate = Image.new("RGB", (pw, ph), bg)
    d = ImageDraw.Draw(plate)
    if green:
        for y in range(ph):
            t = y / ph
            col = (int(240 - 150 * t), int(250 - 40 * t), int(240 - 130 * t))
            d.line((0, y, pw, y), fill=col)
    d.rounded_rectangle((6, 6, pw - 7, ph - 7), radius=20, outline=fg, width=5)
    role = rng.choice(("sans-bold", "hei", bold(face), "sans-bold"))
    cw, chh = 45 * s, 90 * s
    gap = 12 * s if not green else 9 * s
    n = len(chars)
    dot = 34 * s
    total = n * cw + (n - 1) * gap + dot - gap
    x = (pw - total) // 2
    y = (ph - chh) // 2
    for i, ch in enumerate(chars):
        colour = (200, 20, 20) if ch == "警" else fg
        g = _glyph(ch, role, (cw, chh), colour)
        plate.paste(g, (x + (cw - g.width) // 2, y), g)
        x += cw + gap
        if i == 1:
            d.ellipse(
                (x - gap // 2 + 4 * s, ph // 2 - 5 * s, x - gap // 2 + 14 * s, ph // 2 + 5 * s),
                fill=fg,
            )
            x += dot - gap
    return plate.resize((pw // s, ph // s), Image.Resampling.LANCZOS), "".join(chars)


def generate_platenum(rng: random.Random, face: str) -> Sample:
    """A licence plate (blue, yellow, green new-energy; sometimes 学/警), alone or on a crude
    car front; the answer is ``{"number": "粤A12345"}`` (without the separator dot)."""
    kind = rng.choices(
        ("blue", "yellow", "green", "yellow-学", "white-警"), weights=(45, 20, 25, 6, 4)
    )[0]
    plate, number = _plate(rng, kind, face)
    scale = rng.uniform(1.2, 1.8)
    plate = plate.resize(
        (int(plate.width * scale), int(plate.height * scale)), Image.Resampling.LANCZOS
    )
    if rng.random() < 0.5:
        w, h = plate.width + rng.randint(60, 200), plate.height + rng.randint(60, 160)
        img = Image.new("RGB", (w, h), (rng.randint(90, 200),) * 3)
        img.paste(plate, ((w - plate.width) // 2, (h - plate.height) // 2))
        layout = f"{kind}-alone"
    else:
        w, h = 1200, 800
        body = tuple(rng.randint(30, 230) for _ in range(3))
        img = Image.new(
            "RGB", (w, h), (rng.randint(120, 200), rng.randint(120, 200), rng.randint(120, 200))
        )
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((60, 120, w - 60, h - 40), radius=120, fill=body)
        d.rounded_rectangle((90, 30, w - 90, 260), radius=60, fill=(60, 80, 100))  # windscreen
        d.ellipse((100, 300, 300, 420), fill=(235, 235, 210), outline=(80, 80, 80), width=4)
        d.ellipse((w - 300, 300, w - 100, 420), fill=(235, 235, 210), outline=(80, 80, 80), width=4)
        gx0, gy0 = 360, 300
        d.rounded_rectangle((gx0, gy0, w - gx0, gy0 + 120), radius=30, fill=(30, 30, 35))
        for k in range(1, 6):
            d.line((gx0 + 10, gy0 + k * 20, w - gx0 - 10, gy0 + k * 20), fill=(90, 90, 95), width=3)
        if plate.width > w - 200:
            r = (w - 200) / plate.width
            plate = plate.resize(
                (int(plate.width * r), int(plate.height * r)), Image.Resampling.LANCZOS
            )
        px, py = (w - plate.width) // 2, 470 + rng.randint(0, 30)
        d.rectangle(
            (px - 12, py - 12, px + plate.width + 12, py + plate.height + 12), fill=(20, 20, 20)
        )
        img.paste(plate, (px, py))
        layout = f"{kind}-car"
    return Sample("platenum", img, {"number": number}, layout, face)
