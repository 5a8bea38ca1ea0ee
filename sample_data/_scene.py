"""Rendering helpers for ``make_samples.py``: fonts, flat document sheets, photo-like scenes.

A *sheet* is one flat document (card, page, plate) drawn with Pillow in a CJK font; a
*scene* places one or more sheets on a background, either like a flatbed scan ("clean":
axis-aligned, even light, high JPEG quality) or like a phone photo ("noisy": perspective,
a few degrees of rotation, a textured desk, a drop shadow, uneven light, blur, sensor noise,
strong JPEG compression).  Every sheet's corners are mapped into the scene, so the truth
knows the document quadrilaterals and the position of each printed line.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]
Quad = list[tuple[int, int]]
RGB = tuple[int, int, int]

INK: RGB = (25, 25, 30)
LABEL_BLUE: RGB = (40, 80, 140)
RED: RGB = (200, 40, 40)


@cache
def _font_file() -> str:
    try:
        import manimgx_fonts_cjk  # Noto Sans CJK (OFL), shipped as a PyPI wheel
    except ImportError:
        raise SystemExit(
            "make_samples.py needs a CJK font: pip install -e '.[samples]' (make samples does it)"
        ) from None
    return str(Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc"))


@cache
def font(size: int, weight: str = "Regular") -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC (face 2 of the collection) at ``size`` px in a named weight."""
    face = ImageFont.truetype(_font_file(), size, index=2)
    face.set_variation_by_name(weight.encode())
    return face


@dataclass
class Sheet:
    """A flat document being drawn; ``lines`` records every text drawn with its box."""

    img: Image.Image
    lines: list[tuple[str, Box]] = field(default_factory=list)
    round_corners: int = 0

    @classmethod
    def new(cls, w: int, h: int, color: RGB, *, round_corners: int = 0) -> Sheet:
        return cls(Image.new("RGB", (w, h), color), round_corners=round_corners)

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.img)

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        size: int,
        *,
        weight: str = "Regular",
        fill: RGB = INK,
        anchor: str = "la",
        record: bool = True,
    ) -> Box:
        face = font(size, weight)
        self.draw.text(xy, text, font=face, fill=fill, anchor=anchor)
        left, top, right, bottom = (int(v) for v in self.draw.textbbox(xy, text, face, anchor))
        if record:
            self.lines.append((text, (left, top, right, bottom)))
        return left, top, right, bottom

    def gradient(self, top: RGB, bottom: RGB) -> None:
        w, h = self.img.size
        t = np.linspace(0.0, 1.0, h)[:, None, None]
        arr = np.array(top, float) * (1 - t) + np.array(bottom, float) * t
        self.img.paste(Image.fromarray(np.repeat(arr, w, axis=1).astype(np.uint8)))

    def guilloche(self, color: RGB, rng: random.Random, n: int = 14) -> None:
        """Faint wavy security lines, as printed under the text of real cards."""
        w, h = self.img.size
        draw = self.draw
        for _ in range(n):
            y0, amp, period = rng.uniform(0, h), rng.uniform(8, 30), rng.uniform(120, 300)
            phase = rng.uniform(0, 6.3)
            pts = [(x, y0 + amp * np.sin(x / period * 6.283 + phase)) for x in range(0, w, 6)]
            draw.line(pts, fill=color, width=1)

    def alpha(self) -> np.ndarray:
        w, h = self.img.size
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, w - 1, h - 1), self.round_corners, 255)
        return np.array(mask)


@dataclass
class Scene:
    """The final image and, per sheet, its corner quad and the mapped boxes of its lines."""

    image: np.ndarray  # RGB
    quads: list[Quad]
    lines: list[list[tuple[str, Quad]]]

    @property
    def size(self) -> dict[str, int]:
        return {"w": int(self.image.shape[1]), "h": int(self.image.shape[0])}


def _background(w: int, h: int, rng: random.Random, noisy: bool) -> np.ndarray:
    nrng = np.random.default_rng(rng.randrange(2**32))
    if not noisy:  # a scanner lid: flat light grey
        base = np.full((h, w, 3), rng.choice([(205, 205, 200), (60, 62, 66)]), np.float32)
        return base + nrng.normal(0, 1.5, (h, w, 1)).astype(np.float32)
    color = rng.choice([(120, 85, 55), (90, 92, 96), (150, 120, 90), (45, 55, 70)])
    small = nrng.normal(0, 1, (h // 16 + 2, w // 16 + 2)).astype(np.float32)
    low = cv2.resize(cv2.GaussianBlur(small, (0, 0), 2), (w, h))
    grain = cv2.GaussianBlur(nrng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    streaks = np.sin(np.arange(h, dtype=np.float32)[:, None] / rng.uniform(3, 9)) * 4
    texture = low * 12 + grain * 6 + streaks
    return np.array(color, np.float32)[None, None, :] + texture[:, :, None]


def _destination(
    rect: tuple[float, float, float, float], rng: random.Random, noisy: bool
) -> np.ndarray:
    x, y, w, h = rect
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    if not noisy:
        return corners
    center = corners.mean(axis=0)
    angle = np.deg2rad(rng.uniform(-4, 4))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    corners = (corners - center) @ rot.T + center
    jitter = np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)], np.float32)
    return np.asarray(corners + jitter * np.array([w, h], np.float32) * 0.03, np.float32)


def compose(
    sheets: list[Sheet],
    canvas: tuple[int, int],
    rects: list[tuple[float, float, float, float]],
    rng: random.Random,
    *,
    noisy: bool,
) -> Scene:
    """Place each sheet into its rect (x, y, w, h) of a ``canvas`` (w, h) sized scene."""
    cw, ch = canvas
    scene = _background(cw, ch, rng, noisy)
    quads: list[Quad] = []
    lines: list[list[tuple[str, Quad]]] = []
    for sheet, rect in zip(sheets, rects, strict=True):
        w, h = sheet.img.size
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        dst = _destination(rect, rng, noisy)
        matrix = cv2.getPerspectiveTransform(src, dst)
        page = cv2.warpPerspective(
            np.array(sheet.img, np.float32), matrix, (cw, ch), flags=cv2.INTER_AREA
        )
        mask = cv2.warpPerspective(sheet.alpha().astype(np.float32) / 255, matrix, (cw, ch))
        if noisy:  # a soft drop shadow, offset down-right
            shadow = cv2.GaussianBlur(np.roll(mask, (9, 7), axis=(0, 1)), (0, 0), 7)
            scene *= (1 - 0.45 * shadow)[:, :, None]
        scene = scene * (1 - mask[:, :, None]) + page * mask[:, :, None]
        quads.append([(round(float(px)), round(float(py))) for px, py in dst])
        mapped = []
        for text, (left, top, right, bottom) in sheet.lines:
            box = np.array([[[left, top], [right, top], [right, bottom], [left, bottom]]], float)
            pts = cv2.perspectiveTransform(box, matrix)[0]
            mapped.append((text, [(round(float(px)), round(float(py))) for px, py in pts]))
        lines.append(mapped)
    if noisy:
        scene = _photo_effects(scene, rng)
    return Scene(np.clip(scene, 0, 255).astype(np.uint8), quads, lines)


def _photo_effects(img: np.ndarray, rng: random.Random) -> np.ndarray:
    h, w = img.shape[:2]
    nrng = np.random.default_rng(rng.randrange(2**32))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    light = 1.08 - 0.25 * np.hypot(xx - cx, yy - cy) / np.hypot(w, h)  # uneven light
    img = img * light[:, :, None] * rng.uniform(0.88, 1.0)
    img += np.array([rng.uniform(-6, 6) for _ in range(3)], np.float32)  # white balance
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.7, 1.0))
    return img + nrng.normal(0, rng.uniform(3, 5), img.shape).astype(np.float32)


def encode(image: np.ndarray, fmt: str, quality: int = 90) -> bytes:
    """RGB array → JPEG (``quality``) or PNG bytes, with no metadata."""
    out = io.BytesIO()
    pil = Image.fromarray(image)
    if fmt == "png":
        pil.save(out, "PNG", optimize=True)
    else:
        pil.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
