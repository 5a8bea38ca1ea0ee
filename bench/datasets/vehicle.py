"""Vehicle documents: the 行驶证 (vehicle licence) and the 驾驶证 (driving licence).

Both are drawn page by page on a base grid of 1000x680 scaled by ``k``; a document is the
main page alone (scaled up to 1400-1600 px wide) or the main page with its 副页 beside it
or below it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from bench.datasets._common import (
    INK,
    LABEL_INKS,
    PROVINCES,
    SEAL_RED,
    Sample,
    address,
    date,
    draw_text,
    font,
    person_name,
    text_width,
    wrap_to_width,
)
from bench.datasets.cards import PROVINCE_ABBR, _plate_chars, id_number

PAPER_TINTS = ((246, 243, 236), (240, 244, 246), (248, 246, 240), (236, 242, 236), (250, 250, 248))
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
WMIS = ("LSV", "LFV", "LGB", "LVS", "LBV", "LHG", "LDC", "LGW", "LSG", "LFM", "LZW", "LVH")


def vin(rng: random.Random) -> str:
    """A VIN with a valid ISO 3779 check digit at position 9."""
    chars = list(rng.choice(WMIS) + "".join(rng.choice(VIN_CHARS) for _ in range(14)))
    chars[9] = rng.choice("EFGHJKLMNP")  # model year
    chars[8] = "0"
    total = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
    chars[8] = "X" if total % 11 == 10 else str(total % 11)
    return "".join(chars)


VEHICLE_TYPES = (
    "小型普通客车",
    "小型轿车",
    "小型越野客车",
    "轻型普通货车",
    "重型厢式货车",
    "中型普通客车",
)
USE_CHARACTERS = ("非营运", "非营运", "营运", "出租客运", "公路客运", "货运", "租赁")
MODELS = (
    "大众汽车牌SVW7141BRD",
    "江淮牌HFC6500A1C8",
    "丰田牌TV7250",
    "本田牌HG7150",
    "别克牌SGM7151",
    "比亚迪牌BYD7006BEV",
    "吉利牌JL7152L01",
    "哈弗牌CC6460RM0A",
    "五菱牌LZW6407B3",
    "福田牌BJ1032V5JV3",
)
COMPANY_TAILS = (
    "机械厂",
    "贸易有限公司",
    "物流有限公司",
    "汽车租赁有限公司",
    "建材商行",
    "运输有限公司",
)


def _province_city(rng: random.Random) -> tuple[str, str]:
    province = rng.choice(list(PROVINCES))
    city = PROVINCES[province][0]
    return province, city  # type: ignore[return-value]


class Page:
    """A page drawn on the 1000x680 base grid scaled by ``k``."""

    def __init__(self, rng: random.Random, k: float, w: int = 1000, h: int = 1000) -> None:
        self.k = k
        tint = rng.choice(PAPER_TINTS)
        self.img = Image.new("RGB", (self.p(w), self.p(h)), tint)
        self.d = ImageDraw.Draw(self.img)
        self.rng = rng
        # faint background pattern
        pat = tuple(max(0, c - rng.randint(6, 14)) for c in tint)
        for i in range(rng.randint(0, 14)):
            y0 = rng.uniform(0, self.img.height)
            pts = [
                (x, y0 + 12 * k * math.sin(x / (60 * k) + i)) for x in range(0, self.img.width, 8)
            ]
            self.d.line(pts, fill=pat, width=1)

    def p(self, v: float) -> int:
        return round(v * self.k)

    def f(self, role: str, size: float) -> ImageFont.FreeTypeFont:
        return font(role, max(8, self.p(size)))

    def text(
        self,
        x: float,
        y: float,
        s: str,
        fnt: ImageFont.FreeTypeFont,
        fill: tuple[int, int, int] = INK,
        spacing: float = 0.0,
    ) -> float:
        return draw_text(self.d, (self.p(x), self.p(y)), s, fnt, fill, self.p(spacing)) / self.k

    def width(self, s: str, fnt: ImageFont.FreeTypeFont) -> float:
        return text_width(self.d, s, fnt) / self.k

    def fit(self, s: str, role: str, size: float, width: float) -> ImageFont.FreeTypeFont:
        fnt = self.f(role, size)
        while self.width(s, fnt) > width and size > 12:
            size -= 1
            fnt = self.f(role, size)
        return fnt

    def rule(
        self, x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int]
    ) -> None:
        self.d.line(
            (self.p(x0), self.p(y0), self.p(x1), self.p(y1)), fill=colour, width=max(1, self.p(1.5))
        )


def arc_seal(page: Page, cx: float, cy: float, r: float, text: str, rng: random.Random) -> None:
    """A translucent red round seal: ``text`` along the upper 250 degrees, chars upright
    to the rim, a star in the middle."""
    k = page.k
    img = page.img
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    alpha = rng.randint(120, 170)
    colour = (*SEAL_RED, alpha)
    X, Y, R = cx * k, cy * k, r * k
    d.ellipse((X - R, Y - R, X + R, Y + R), outline=colour, width=max(3, int(4 * k)))
    d.regular_polygon((X, Y, R * 0.28), 5, rotation=rng.uniform(-4, 4), fill=colour)
    n = len(text)
    span = 250.0 if n > 8 else 200.0
    rad = 0.76 * R
    size = int(min(0.9 * math.radians(span) * rad / n, 0.3 * R))
    fnt = font("sans-bold", max(10, size))
    for i, ch in enumerate(text):
        deg = 270 - span / 2 + span * (i + 0.5) / n
        a = math.radians(deg)
        tile = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text((size, size), ch, font=fnt, fill=colour, anchor="mm")
        tile = tile.rotate(-(deg + 90), resample=Image.Resampling.BICUBIC)
        x = X + rad * math.cos(a) - size
        y = Y + rad * math.sin(a) - size
        layer.alpha_composite(tile, (int(x), int(y)))
    img.paste(Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB"))


class Form:
    """Label/value rows on a page, with optional ruled boxes."""

    def __init__(self, page: Page, face: str, rng: random.Random, x0: float, x1: float) -> None:
        self.page = page
        self.rng = rng
        self.x0, self.x1 = x0, x1
        self.lab = page.f(rng.choice(("sans", "serif", "hei", "sans-bold")), rng.uniform(22, 26))
        self.face = face
        self.val_size = rng.uniform(25, 30)
        self.label_ink = rng.choice(LABEL_INKS)
        self.spaced = rng.random() < 0.5
        self.boxes = rng.random() < 0.6
        self.rule_ink = (
            rng.randint(90, 160),
            rng.randint(90, 160),
            rng.randint(90, 160),
        )
        self.label_w = rng.uniform(150, 175)
        self.row_h = rng.uniform(56, 66)

    def label(self, x: float, y: float, text: str, width: float) -> None:
        p = self.page
        if self.spaced and len(text) <= 3:
            n = len(text)
            w = p.width(text, self.lab)
            target = min(width - 14, p.width("四个字宽", self.lab))
            sp = max(0.0, (target - w) / max(1, n - 1))
            p.text(x, y, text, self.lab, self.label_ink, spacing=sp)
        else:
            p.text(x, y, text, self.lab, self.label_ink)

    def row(
        self,
        y: float,
        cells: list[tuple[str, str | list[str]]],
        lines: int = 1,
        split: float = 0.5,
    ) -> tuple[float, list[int]]:
        """One row of (label, value) cells; the first cell gets ``split`` of the width when
        there are two.  Values wrap up to ``lines`` lines.  Returns the next y and the
        number of lines each value used."""
        p = self.page
        total = self.x1 - self.x0
        widths = [total] if len(cells) == 1 else [total * split, total * (1 - split)]
        x = self.x0
        used: list[int] = []
        h_needed = self.row_h
        drawn: list[tuple[float, list[str], ImageFont.FreeTypeFont]] = []
        for (lab, val), cw in zip(cells, widths, strict=True):
            lw = max(self.label_w, p.width(lab, self.lab) + 20)
            vw = cw - lw - 14
            fnt = p.f(self.face, self.val_size)
            if isinstance(val, list):
                segs = val
                fnt = p.fit(max(val, key=len), self.face, self.val_size, vw)
            elif lines == 1:
                fnt = p.fit(val, self.face, self.val_size, vw)
                segs = [val]
            else:
                segs = wrap_to_width(p.d, val, fnt, vw * p.k) if val else [""]
                while len(segs) > lines:
                    fnt = p.f(self.face, fnt.size / p.k - 1)
                    segs = wrap_to_width(p.d, val, fnt, vw * p.k)
            used.append(len(segs))
            lh = fnt.size / p.k * 1.25
            h_needed = max(h_needed, lh * len(segs) + (self.row_h - lh) if len(segs) > 1 else 0)
            drawn.append((x, segs, fnt))
            x += cw
        row_h = max(self.row_h, h_needed)
        x = self.x0
        for (lab, _), cw, (cx, segs, fnt) in zip(cells, widths, drawn, strict=True):
            lw = max(self.label_w, p.width(lab, self.lab) + 20)
            lab_h = self.lab.size / p.k
            self.label(cx + 10, y + (row_h - lab_h) / 2 - 3, lab, lw)
            lh = fnt.size / p.k * 1.25
            vy = y + (row_h - lh * len(segs)) / 2
            for s in segs:
                p.text(cx + lw + self.rng.uniform(2, 10), vy, s, fnt)
                vy += lh
            if self.boxes:
                p.rule(cx + lw, y, cx + lw, y + row_h, self.rule_ink)
                if cx > self.x0:
                    p.rule(cx, y, cx, y + row_h, self.rule_ink)
            x += cw
        if self.boxes:
            p.rule(self.x0, y + row_h, self.x1, y + row_h, self.rule_ink)
        return y + row_h, used

    def frame(self, y0: float, y1: float) -> None:
        if self.boxes:
            p = self.page
            p.rule(self.x0, y0, self.x1, y0, self.rule_ink)
            p.rule(self.x0, y0, self.x0, y1, self.rule_ink)
            p.rule(self.x1, y0, self.x1, y1, self.rule_ink)


def _title(
    page: Page, text: str, y: float, en: str | None, rng: random.Random, x_c: float = 500
) -> float:
    f = page.f(rng.choice(("serif-bold", "sans-bold", "hei")), rng.uniform(34, 40))
    sp = rng.choice((0, 4, 8))
    w = page.width(text, f) + sp * (len(text) - 1)
    page.text(x_c - w / 2, y, text, f, INK, spacing=sp)
    y += f.size / page.k + 10
    if en:
        ef = page.f("serif", 17)
        page.text(x_c - page.width(en, ef) / 2, y, en, ef, (70, 70, 80))
        y += 26
    return y + 8


def _assemble(
    main: Callable[[float], Image.Image],
    sub: Callable[[float], Image.Image],
    rng: random.Random,
) -> tuple[Image.Image, str]:
    form = rng.choice(("main", "main", "main+sub-h", "main+sub-v"))
    if form == "main":
        return main(rng.uniform(1.4, 1.6)), "main"
    k = rng.uniform(0.95, 1.0)
    a, b = main(k), sub(k)
    gap = rng.randint(20, 60)
    bg = (rng.randint(225, 245),) * 3
    if form == "main+sub-h":
        img = Image.new("RGB", (a.width + b.width + gap + 40, max(a.height, b.height) + 40), bg)
        img.paste(a, (20, 20))
        img.paste(b, (20 + a.width + gap, 20 + rng.randint(0, 10)))
        return img, "main+sub"
    img = Image.new("RGB", (max(a.width, b.width) + 40, a.height + b.height + gap + 40), bg)
    img.paste(a, (20, 20))
    img.paste(b, (20 + rng.randint(0, 10), 20 + a.height + gap))
    return img, "main/sub"


# --- 行驶证 ---------------------------------------------------------------------------
def generate_driving(rng: random.Random, face: str) -> Sample:
    """A 行驶证: the main page alone, or with the 副页 beside or below it."""
    province, city = _province_city(rng)
    abbr = rng.choice(PROVINCE_ABBR)
    plate = "".join(_plate_chars(rng, rng.choice(("blue", "blue", "green"))))
    plate = abbr + plate[1:]
    if rng.random() < 0.5:
        owner = person_name(rng)
    else:
        owner = city.removesuffix("市") + "".join(rng.sample("华兴达宏鑫盛泰隆恒通远顺", 2))
        owner += rng.choice(COMPANY_TAILS)
    addr = address(rng, long=rng.random() < 0.5)
    reg = date(rng, 2008, 2023)
    issue = reg if rng.random() < 0.6 else (min(2024, reg[0] + rng.randint(0, 5)), reg[1], reg[2])
    main_ans: dict[str, str] = {
        "plate_num": plate,
        "vehicle_type": rng.choice(VEHICLE_TYPES),
        "owner": owner,
        "addr": addr,
        "use_character": rng.choice(USE_CHARACTERS),
        "model": rng.choice(MODELS),
        "vin": vin(rng),
        "engine_num": "".join(rng.choice(VIN_CHARS) for _ in range(rng.randint(6, 10))),
        "register_date": "{:04d}-{:02d}-{:02d}".format(*reg),
        "issue_date": "{:04d}-{:02d}-{:02d}".format(*issue),
    }
    length = rng.choice((4582, 4630, 4855, 3998, 4720, 5200))
    total = rng.randint(1500, 2800)
    sub_ans: dict[str, str] = {
        "plate_num_b": plate,
        "record": f"{rng.randint(100, 659)}{rng.randint(0, 10**9 - 1):09d}",
        "passengers_num": f"{rng.choice((5, 5, 5, 7, 2, 9))}人",
        "total_quality": f"{total}kg",
        "prepare_quality": f"{total - rng.randint(300, 600)}kg",
        "overall_size": f"{length}x{rng.randint(1700, 1900)}x{rng.randint(1420, 1750)}mm",
    }
    seal_text = f"{province.removesuffix('市')}{city if city != province else ''}公安局交通警察支队"
    if len(seal_text) > 16:
        seal_text = f"{city}公安局交通警察支队"
    en = rng.random() < 0.5
    main_seed = rng.getrandbits(32)
    sub_seed = rng.getrandbits(32)

    def main(k: float) -> Image.Image:
        r = random.Random(main_seed)
        page = Page(r, k)
        y = _title(
            page,
            "中华人民共和国机动车行驶证",
            22,
            "Vehicle License of the People's Republic of China" if en else None,
            r,
        )
        form = Form(page, face, r, 30, 970)
        y0 = y
        a = main_ans
        y, _ = form.row(y, [("号牌号码", a["plate_num"]), ("车辆类型", a["vehicle_type"])])
        y, _ = form.row(y, [("所有人", a["owner"])])
        y, _ = form.row(y, [("住址", a["addr"])], lines=2)
        split = r.uniform(0.38, 0.44)
        y, _ = form.row(
            y, [("使用性质", a["use_character"]), ("品牌型号", a["model"])], split=split
        )
        y, _ = form.row(y, [("车辆识别代号", a["vin"])])
        y, _ = form.row(y, [("发动机号码", a["engine_num"])])
        y, _ = form.row(y, [("注册日期", a["register_date"]), ("发证日期", a["issue_date"])])
        form.frame(y0, y)
        arc_seal(
            page, r.uniform(110, 170), y - r.uniform(80, 130), r.uniform(85, 100), seal_text, r
        )
        return page.img.crop((0, 0, page.img.width, min(page.img.height, page.p(y + 25))))

    def sub(k: float) -> Image.Image:
        r = random.Random(sub_seed)
        page = Page(r, k)
        form = Form(page, face, r, 30, 970)
        s = sub_ans
        y = y0 = 30.0
        y, _ = form.row(y, [("号牌号码", s["plate_num_b"]), ("档案编号", s["record"])])
        y, _ = form.row(y, [("核定载人数", s["passengers_num"]), ("总质量", s["total_quality"])])
        y, _ = form.row(y, [("整备质量", s["prepare_quality"]), ("核定载质量", "--")])
        y, _ = form.row(y, [("外廓尺寸", s["overall_size"])])
        y, _ = form.row(y, [("准牵引总质量", "--")])
        y, _ = form.row(y, [("备注", r.choice(("", "", "--")))])
        y, _ = form.row(y, [("检验记录", "")])
        form.frame(y0, y)
        stamp = f"检验有效期至{r.randint(2020, 2027)}年{r.randint(1, 12):02d}月"
        sf = page.f("sans-bold", 26)
        page.text(300, y - form.row_h + 8, stamp, sf, (190, 40, 40))
        return page.img.crop((0, 0, page.img.width, page.p(y + 30)))

    img, layout = _assemble(main, sub, rng)
    answer: dict[str, Any] = dict(main_ans)
    if layout != "main":
        answer.update(sub_ans)
    return Sample("driving", img, answer, layout, face)


# --- 驾驶证 ---------------------------------------------------------------------------
CAR_CLASSES = ("C1", "C1", "C1", "C2", "B1", "B2", "A1", "A2", "C1D", "A2D", "B2E")


def generate_drivinglicense(rng: random.Random, face: str) -> Sample:
    """A 驾驶证: the main page alone, or with the 副页 beside or below it."""
    province, city = _province_city(rng)
    male = rng.random() < 0.55
    birth = date(rng, 1955, 2002)
    idn = id_number(rng, birth, male)
    first = date(rng, max(birth[0] + 18, 1990), 2022)
    vf_year = rng.choice((first[0], first[0] + 6, first[0] + 16)) if first[0] < 2008 else first[0]
    vf_year = min(vf_year, 2024)
    years = rng.choice((6, 10))
    ans: dict[str, str] = {
        "id_num": idn,
        "name": person_name(rng),
        "sex": "男" if male else "女",
        "nationality": "中国",
        "address": address(rng, long=rng.random() < 0.5),
        "birth_date": "{:04d}-{:02d}-{:02d}".format(*birth),
        "issue_date": "{:04d}-{:02d}-{:02d}".format(*first),
        "car_class": rng.choice(CAR_CLASSES),
        "valid_from": f"{vf_year:04d}-{first[1]:02d}-{first[2]:02d}",
        "valid_to": f"{vf_year + years:04d}-{first[1]:02d}-{first[2]:02d}",
    }
    short = city.removesuffix("市")
    ans["official_seal"] = rng.choice(
        (
            f"{province.removesuffix('省').removesuffix('市')}省{short}市公安局交通警察支队"
            if province != city
            else f"{city}公安局公安交通管理局",
            f"{city}公安局公安交通管理局",
            f"{city}公安局交通警察支队",
        )
    )
    validity = rng.choice(("one-line", "two-lines", "start+end"))
    en = rng.random() < 0.6
    main_seed = rng.getrandbits(32)
    sub_seed = rng.getrandbits(32)
    record = f"{rng.randint(1100, 6599)}{rng.randint(0, 10**8 - 1):08d}"

    def main(k: float) -> Image.Image:
        r = random.Random(main_seed)
        page = Page(r, k)
        y = _title(
            page,
            "中华人民共和国机动车驾驶证",
            22,
            "Driving License of the People's Republic of China" if en else None,
            r,
        )
        x_photo = r.uniform(730, 760)
        form = Form(page, face, r, 30, x_photo - 15)
        y0 = y
        a = ans
        y, _ = form.row(y, [("证号", a["id_num"])])
        py0 = y
        y, _ = form.row(y, [("姓名", a["name"]), ("性别", a["sex"])], split=0.6)
        y, _ = form.row(y, [("国籍", a["nationality"])])
        y, _ = form.row(y, [("住址", a["address"])], lines=3)
        y, _ = form.row(y, [("出生日期", a["birth_date"])])
        y, _ = form.row(y, [("初次领证日期", a["issue_date"])])
        y, _ = form.row(y, [("准驾车型", a["car_class"])])
        if validity == "one-line":
            y, _ = form.row(y, [("有效期限", f"{a['valid_from']}至{a['valid_to']}")])
        elif validity == "two-lines":
            y, _ = form.row(y, [("有效期限", [a["valid_from"], f"至{a['valid_to']}"])])
        else:
            y, _ = form.row(y, [("有效起始日期", a["valid_from"])])
            y, _ = form.row(y, [("有效期限", a["valid_to"])])
        form.frame(y0, y)
        if form.boxes:
            page.rule(x_photo - 15, y0, 970, y0, form.rule_ink)
        # photo area
        pw = 970 - x_photo - 15
        page.d.rectangle(
            (page.p(x_photo), page.p(py0 + 10), page.p(x_photo + pw), page.p(py0 + 10 + pw * 1.3)),
            fill=(222, 228, 236),
        )
        cx = x_photo + pw / 2
        page.d.ellipse(
            (
                page.p(cx - pw * 0.25),
                page.p(py0 + 40),
                page.p(cx + pw * 0.25),
                page.p(py0 + 40 + pw * 0.6),
            ),
            fill=(188, 195, 205),
        )
        arc_seal(
            page,
            r.uniform(105, 135),
            y - r.uniform(110, 170),
            r.uniform(95, 110),
            a["official_seal"],
            r,
        )
        return page.img.crop((0, 0, page.img.width, min(page.img.height, page.p(y + 25))))

    def sub(k: float) -> Image.Image:
        r = random.Random(sub_seed)
        page = Page(r, k)
        y = _title(page, "中华人民共和国机动车驾驶证副页", 22, None, r)
        form = Form(page, face, r, 30, 970)
        y0 = y
        y, _ = form.row(y, [("证号", ans["id_num"])])
        y, _ = form.row(y, [("姓名", ans["name"]), ("档案编号", record)], split=0.45)
        y, _ = form.row(y, [("记录", "")])
        iss = ans["issue_date"]
        lines = r.choice(([], [f"实习期至{int(iss[:4]) + 1}{iss[4:]}"]))
        rf = page.f(face, 24)
        for line in lines:
            page.text(60, y + 10, line, rf)
            y += 40
        y += 120
        form.frame(y0, y)
        if form.boxes:
            page.rule(30, y, 970, y, form.rule_ink)
        return page.img.crop((0, 0, page.img.width, page.p(y + 30)))

    img, layout = _assemble(main, sub, rng)
    return Sample("drivinglicense", img, dict(ans), f"{layout}/{validity}", face)
