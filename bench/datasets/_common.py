"""What every document generator of the evaluation set shares: fonts, the split rules,
the :class:`Sample` it returns, drawing helpers and fictional data.

This generator is deliberately independent of ``sample_data/make_samples.py`` (which the
local engine was first fitted to): other fonts, other label positions and label variants,
values that wrap, seals and QR codes over text, several layout forms per kind.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# --- the split -----------------------------------------------------------------------
#: Seeds the engine may be tuned on, and seeds only ever used for the reported figures.
TUNE_SEEDS = range(0, 100_000)
REPORT_SEEDS = range(1_000_000, 1_100_000)

#: Font roles; each is a list of candidate (file, index) in preference order.  ``pip``
#: stands for the Noto Sans CJK wheel (manimgx-fonts-cjk), the only one a fresh machine is
#: sure to have after ``pip install -e .[dev]``; the others come from Debian packages
#: (fonts-noto-cjk, fonts-arphic-ukai, fonts-arphic-uming, fonts-wqy-zenhei,
#: fonts-dejavu-core).
_FONT_FILES: dict[str, list[tuple[str, int]]] = {
    "sans": [("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2), ("pip", 2)],
    "sans-bold": [("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2), ("pip", 2)],
    "serif": [("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)],
    "serif-bold": [("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2)],
    "kai": [("/usr/share/fonts/truetype/arphic/ukai.ttc", 0)],
    "ming": [("/usr/share/fonts/truetype/arphic/uming.ttc", 0)],
    "hei": [("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0)],
    "mono": [("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0)],
}
#: Text faces (a document picks one for its values); ``ming`` and ``hei`` are never used
#: on the tuning split, so the report split also measures fonts never seen while tuning.
TEXT_FACES = ("sans", "serif", "kai", "ming", "hei")
HELD_OUT_FACES = frozenset({"ming", "hei"})


#: ``OCR_FRAMES_BENCH_FONTS=wheel`` draws every role with the Noto Sans CJK wheel only (bold
#: roles in its Bold instance), ignoring Debian fonts, so that a document looks the same on
#: every machine (CI has only the wheel).  :func:`font_mode` switches it in-process.
FONTS_ENV = "OCR_FRAMES_BENCH_FONTS"
FONT_MODES = ("system", "wheel")
_forced_mode: str | None = None


def fonts_mode() -> str:
    """'wheel' (the pip wheel for every role) or 'system' (Debian fonts first)."""
    if _forced_mode is not None:
        return _forced_mode
    return "wheel" if os.environ.get(FONTS_ENV, "").strip().lower() == "wheel" else "system"


@contextlib.contextmanager
def font_mode(mode: str) -> Iterator[None]:
    """Draw with ``mode`` ('wheel' or 'system') inside the block, whatever the environment."""
    global _forced_mode
    if mode not in FONT_MODES:
        raise ValueError(f"font mode must be one of {FONT_MODES}, not {mode!r}")
    before = _forced_mode
    _forced_mode = mode
    _clear_font_caches()
    try:
        yield
    finally:
        _forced_mode = before
        _clear_font_caches()


def _clear_font_caches() -> None:
    _available_faces.cache_clear()
    _font.cache_clear()


def _resolve(candidates: Sequence[tuple[str, int]], mode: str = "system") -> tuple[str, int] | None:
    for path, index in candidates:
        if path == "pip":
            try:
                import manimgx_fonts_cjk
            except ImportError:
                continue
            found = sorted(Path(manimgx_fonts_cjk.__file__).parent.glob("*.tt[cf]"))
            if found:
                return str(found[0]), index
        elif mode != "wheel" and Path(path).exists():
            return path, index
    return None


def available_faces() -> tuple[str, ...]:
    """The font roles this machine can draw with (in wheel mode: sans and sans-bold)."""
    return _available_faces(fonts_mode())


@functools.cache
def _available_faces(mode: str) -> tuple[str, ...]:
    return tuple(role for role, files in _FONT_FILES.items() if _resolve(files, mode) is not None)


def font(role: str, size: int) -> ImageFont.FreeTypeFont:
    """The font of a role at a pixel size; falls back to ``sans`` (``sans-bold`` for bold
    roles in wheel mode) when a role is missing."""
    return _font(role, size, fonts_mode())


@functools.cache
def _font(role: str, size: int, mode: str) -> ImageFont.FreeTypeFont:
    fallback = "sans-bold" if mode == "wheel" and "bold" in role else "sans"
    found = _resolve(_FONT_FILES[role], mode) or _resolve(_FONT_FILES[fallback], mode)
    if found is None:
        raise RuntimeError("no CJK font: install manimgx-fonts-cjk (pip) or fonts-noto-cjk (apt)")
    path, index = found
    loaded = ImageFont.truetype(path, size, index=index)
    if path.endswith("NotoSansCJK-VF.otf.ttc"):
        # the variable font's default instance is Thin
        loaded.set_variation_by_name("Bold" if "bold" in role else "Regular")
    return loaded


def pick_face(rng: random.Random, split: str) -> str:
    """A text face for one document of ``split`` ('tune' or 'report')."""
    faces = [
        f
        for f in TEXT_FACES
        if f in available_faces() and (split == "report" or f not in HELD_OUT_FACES)
    ]
    return rng.choice(faces or ["sans"])


def bold(face: str) -> str:
    """The bold role of a face (faces without a bold cut draw as themselves)."""
    return f"{face}-bold" if f"{face}-bold" in _FONT_FILES else face


# --- what a generator returns --------------------------------------------------------
@dataclass
class Sample:
    """One generated document: the upright flat image and what the platform would answer.

    ``answer`` holds only the text fields of the kind's answer, named as the platform
    names them (see ``../shared/reference``): for comm ``{"items": [{"text": ...}, ...]}``
    in reading order, for menu ``{"menu_items": [{"name": ..., "price": float}, ...]}`` in
    reading order (column by column).  ``layout`` names the layout form ("正本",
    "副本", "menu-2col", ...), ``face`` the text font role.
    """

    kind: str
    image: Image.Image
    answer: dict[str, Any]
    layout: str
    face: str
    extra: dict[str, Any] = field(default_factory=dict)


# --- drawing -------------------------------------------------------------------------
INK = (28, 28, 32)
LABEL_INKS = ((40, 40, 48), (30, 60, 120), (60, 60, 60), (20, 20, 20))
SEAL_RED = (210, 40, 40)


def text_width(draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont) -> float:
    return float(draw.textlength(text, font=fnt))


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    fnt: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int] = INK,
    spacing: float = 0.0,
) -> float:
    """Draw ``text`` with ``spacing`` extra pixels between characters; returns the right
    edge.  Letter-spaced labels (``姓  名``) are common on real documents."""
    x, y = xy
    if not spacing:
        draw.text((x, y), text, font=fnt, fill=fill)
        return x + text_width(draw, text, fnt)
    for ch in text:
        draw.text((x, y), ch, font=fnt, fill=fill)
        x += text_width(draw, ch, fnt) + spacing
    return x - spacing


def wrap_to_width(
    draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont, width: float
) -> list[str]:
    """Lines no wider than ``width`` pixels (closing punctuation never starts a line)."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and text_width(draw, line + ch, fnt) > width and ch not in "，。、；）)":
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


def seal(
    img: Image.Image, centre: tuple[int, int], radius: int, text: str, rng: random.Random
) -> None:
    """A translucent red round seal with a star and ``text`` around it, over what is there."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    cx, cy = centre
    alpha = rng.randint(110, 170)
    colour = (*SEAL_RED, alpha)
    d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=colour, width=4)
    r = radius * 0.25
    d.regular_polygon((cx, cy, r), 5, rotation=rng.uniform(-5, 5), fill=colour)
    fnt = font("sans", max(10, radius // 5))
    n = max(1, len(text))
    for i, ch in enumerate(text):
        ang = math.radians(200 + (140 * i / max(1, n - 1)))
        x = cx + 0.72 * radius * math.cos(ang)
        y = cy + 0.72 * radius * math.sin(ang)
        d.text((x, y), ch, font=fnt, fill=colour, anchor="mm")
    img.paste(Image.alpha_composite(img.convert("RGBA"), layer).convert(img.mode))


def qr_block(img: Image.Image, box: tuple[int, int, int], rng: random.Random) -> None:
    """A QR-code-like block of square modules at ``(x, y, size)``."""
    x, y, size = box
    d = ImageDraw.Draw(img)
    n = 25
    cell = size / n
    for i in range(n):
        for j in range(n):
            finder = (i < 7 and j < 7) or (i < 7 and j >= n - 7) or (i >= n - 7 and j < 7)
            on = (
                (i in (0, 6) or j in (0, 6) or (2 <= i <= 4 and 2 <= j <= 4))
                if finder and (i < 7 and j < 7)
                else rng.random() < 0.5
            )
            if finder and not (i < 7 and j < 7):
                ii, jj = i % (n - 7) if i >= n - 7 else i, j % (n - 7) if j >= n - 7 else j
                on = ii in (0, 6) or jj in (0, 6) or (2 <= ii <= 4 and 2 <= jj <= 4)
            if on:
                d.rectangle(
                    (x + j * cell, y + i * cell, x + (j + 1) * cell - 1, y + (i + 1) * cell - 1),
                    fill=(0, 0, 0),
                )


# --- fictional data ------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志宏海波辉斌宇浩"
    "然欣怡子轩梓涵雨桐思远晨曦嘉怡俊杰文博立新国庆春梅秋菊冬雪"
)
PROVINCES = {
    "北京市": ["北京市", ["朝阳区", "海淀区", "东城区", "丰台区"]],
    "上海市": ["上海市", ["浦东新区", "徐汇区", "静安区", "闵行区"]],
    "广东省": ["广州市", ["天河区", "越秀区", "番禺区", "白云区"]],
    "浙江省": ["杭州市", ["西湖区", "拱墅区", "滨江区", "萧山区"]],
    "四川省": ["成都市", ["武侯区", "锦江区", "青羊区", "金牛区"]],
    "湖北省": ["武汉市", ["洪山区", "江汉区", "武昌区", "汉阳区"]],
    "江苏省": ["南京市", ["鼓楼区", "玄武区", "秦淮区", "江宁区"]],
    "山东省": ["济南市", ["历下区", "市中区", "槐荫区", "天桥区"]],
    "河南省": ["郑州市", ["金水区", "中原区", "二七区", "管城区"]],
    "福建省": ["福州市", ["鼓楼区", "台江区", "仓山区", "晋安区"]],
}
ROADS = "建设人民解放中山和平胜利新华文化长江黄河青年团结光明幸福振兴兴业创新科技"
ROAD_KINDS = ("路", "街", "大道", "巷", "中路", "东路", "西路", "北街")


def person_name(rng: random.Random) -> str:
    n = rng.choice((1, 2, 2, 2))
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(n))


def address(rng: random.Random, long: bool = False) -> str:
    """A fictional address; ``long`` adds a building, unit and room (wraps on cards)."""
    province = rng.choice(list(PROVINCES))
    city, districts = PROVINCES[province]
    prefix = city if province == city else province + city
    road = "".join(rng.sample(ROADS, 2)) + rng.choice(ROAD_KINDS)
    text = f"{prefix}{rng.choice(districts)}{road}{rng.randint(1, 999)}号"
    if long or rng.random() < 0.4:
        room = f"{rng.randint(1, 32)}{rng.randint(1, 9):02d}"
        text += f"{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{room}室"
    return text


def date(rng: random.Random, start: int = 1960, end: int = 2024) -> tuple[int, int, int]:
    return rng.randint(start, end), rng.randint(1, 12), rng.randint(1, 28)
