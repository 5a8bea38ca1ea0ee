"""Synthetic degradations for ``bench/quality.py``: each returns new encoded image bytes.

Every function takes the original's pixels (upright RGB, as the generator makes them) and
a seeded :class:`random.Random`, so a run is reproducible.  The document box is found from
strong gradients (1st-99th percentile of their coordinates), independently of the
heuristics under test.
"""

from __future__ import annotations

import io
import math
import random
import zlib
from collections.abc import Collection, Iterator

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageEnhance, ImageFilter

Box = tuple[int, int, int, int]

#: Gaussian sigmas at 1000 px; at least 2 is "should warn".
BLUR_SIGMAS = (1.0, 2.0, 4.0)
WARN_SIGMA = 2.0
#: Screen pixel-grid periods at the original's scale, used in turn.
GRID_PERIODS = (2, 3, 4, 5, 6, 8)
DOWNSCALE_WIDTHS = (300, 200)
EDITORS = (
    "Adobe Photoshop 25.0 (Windows)",
    "GIMP 2.10.34",
    "Meitu",
    "美图秀秀",
    "PicsArt",
    "Snapseed 2.0",
    "Adobe Photoshop Lightroom Classic 13.0 (Windows)",
    "Pixelmator Pro 3.5",
    "Canva",
    "醒图",
)
FIRMWARE = ("HDR+ 1.0.540104767zd", "iOS 17.1", "MIUI Camera", "Android", "G998BXXU5CVDD")


def encode(image: Image.Image, quality: int = 90, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, **params)
    return buf.getvalue()


def document_box(image: Image.Image) -> Box:
    """(left, top, right, bottom) of the strong-gradient pixels, in image pixels."""
    scale = min(1.0, 400 / max(image.size))
    small = image.convert("L").resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    )
    luma = np.asarray(small, np.float32)
    grad = np.zeros_like(luma)
    grad[:, 1:] += np.abs(np.diff(luma, axis=1))
    grad[1:, :] += np.abs(np.diff(luma, axis=0))
    ys, xs = np.nonzero(grad > max(30.0, np.percentile(grad, 97)))
    if xs.size < 10:
        return 0, 0, image.width, image.height
    box = (np.percentile(xs, 1), np.percentile(ys, 1), np.percentile(xs, 99), np.percentile(ys, 99))
    return tuple(round(float(v) / scale) for v in box)  # type: ignore[return-value]


def text_point(image: Image.Image, box: Box, rng: random.Random) -> tuple[int, int]:
    """A strong-gradient pixel in the inner part of the box (where the text is)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    crop = image.convert("L").crop((left + w // 6, top + h // 6, right - w // 6, bottom - h // 6))
    luma = np.asarray(crop, np.float32)
    grad = np.abs(np.diff(luma, axis=1))
    ys, xs = np.nonzero(grad > 40)
    if xs.size == 0:
        return (left + right) // 2, (top + bottom) // 2
    i = rng.randrange(xs.size)
    return left + w // 6 + int(xs[i]), top + h // 6 + int(ys[i])


def blur(image: Image.Image, sigma_1000: float) -> bytes:
    sigma = sigma_1000 * max(image.size) / 1000
    return encode(image.filter(ImageFilter.GaussianBlur(sigma)))


def greyscale_copy(image: Image.Image, rng: random.Random) -> bytes:
    grey = ImageEnhance.Contrast(image.convert("L")).enhance(rng.uniform(1.3, 1.9))
    arr = np.asarray(grey, np.float32)
    nrng = np.random.default_rng(rng.getrandbits(32))
    arr = arr + nrng.normal(0, rng.uniform(2, 8), arr.shape)
    rgb = np.repeat(np.clip(arr, 0, 255)[..., None], 3, axis=2)
    if rng.random() < 0.5:  # photographed under warm or cool light: a colour cast
        rgb *= np.array([1 + rng.uniform(-0.04, 0.04) for _ in range(3)], np.float32)
    return encode(Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)))


def _ellipse_field(
    shape: tuple[int, int], centre: tuple[float, float], axes: tuple[float, float], angle: float
) -> npt.NDArray[np.float32]:
    """Squared normalised radius of a rotated ellipse at every pixel (1 on its outline)."""
    h, w = shape
    ys, xs = np.ogrid[:h, :w]
    dx, dy = xs - centre[0], ys - centre[1]
    cos, sin = math.cos(angle), math.sin(angle)
    u = (dx * cos + dy * sin) / axes[0]
    v = (-dx * sin + dy * cos) / axes[1]
    return (u * u + v * v).astype(np.float32)


def glare(image: Image.Image, rng: random.Random) -> bytes:
    """A specular reflection: light added over the text, clipped where the sensor saturates.

    The highlight is an ellipse covering 5-20 % of the document box at half strength,
    centred on a text pixel, with a Gaussian fall-off (a soft edge) and a core where the
    added light saturates every channel.  Its colour is white or, two times in three,
    slightly bluish (a window, a daylight lamp); the added light is 1.0-1.6 times full
    scale, so it is clipped over the core whatever the paper.
    """
    box = document_box(image)
    cx, cy = text_point(image, box, rng)
    area = rng.uniform(0.05, 0.20) * (box[2] - box[0]) * (box[3] - box[1])
    aspect = rng.uniform(0.6, 1.6)
    a = math.sqrt(area * aspect / math.pi)
    radius2 = _ellipse_field(
        (image.height, image.width), (cx, cy), (a, area / (math.pi * a)), rng.uniform(0, math.pi)
    )
    # strength k * exp(-r2 / (2 s2)) is 1/2 on the ellipse (r2 = 1) and clipped to 1 inside
    peak = rng.uniform(1.5, 3.0)
    strength = np.minimum(1.0, peak * np.exp(-radius2 * math.log(2 * peak)))[..., None]
    tint = (1.0, 1.0, 1.0)
    if rng.random() < 2 / 3:
        tint = (rng.uniform(0.86, 0.95), rng.uniform(0.92, 0.98), 1.0)
    light = 255 * rng.uniform(1.0, 1.6) * np.asarray(tint, np.float32)
    arr = np.asarray(image, np.float32) + strength * light
    return encode(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))


def screen(image: Image.Image, rng: random.Random, period: float) -> bytes:
    """Multiply by a pixel grid of ``period`` px, then resample without anti-aliasing."""
    h, w = image.height, image.width
    angle = math.radians(rng.uniform(-4, 4))
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    u = xs * math.cos(angle) + ys * math.sin(angle)
    v = -xs * math.sin(angle) + ys * math.cos(angle)
    depth = rng.uniform(0.15, 0.35)
    grid = (1 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * u / period))) * (
        1 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * v / period))
    )
    arr = np.asarray(image, np.float32) * grid[..., None] / grid.mean()
    shown = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    ratio = rng.uniform(0.55, 0.9)
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    # a camera samples the screen: bilinear at the sample points, no prefilter (aliasing)
    sampled = shown.transform(
        size, Image.Transform.AFFINE, (1 / ratio, 0, 0, 0, 1 / ratio, 0), Image.Resampling.BILINEAR
    )
    return encode(sampled, quality=rng.randint(85, 93))


def incomplete(image: Image.Image, rng: random.Random) -> bytes:
    left, top, right, bottom = document_box(image)
    w, h = right - left, bottom - top
    cut = rng.uniform(0.12, 0.3)
    sides = rng.choice(
        [
            ("left",),
            ("right",),
            ("top",),
            ("bottom",),
            ("left", "top"),
            ("right", "bottom"),
            ("right", "top"),
            ("left", "bottom"),
        ]
    )
    crop = [0, 0, image.width, image.height]
    if "left" in sides:
        crop[0] = left + int(w * cut)
    if "right" in sides:
        crop[2] = right - int(w * cut)
    if "top" in sides:
        crop[1] = top + int(h * cut)
    if "bottom" in sides:
        crop[3] = bottom - int(h * cut)
    return encode(image.crop(tuple(crop)))


def downscale(image: Image.Image, width: int) -> bytes:
    height = max(1, round(image.height * width / image.width))
    return encode(image.resize((width, height), Image.Resampling.LANCZOS))


#: What covers the document in ``occlude``: the detail of its labels.
OCCLUDERS = ("finger", "sticker", "paper-coloured sticker")
#: Skin tones (RGB of a lit fingertip), light to dark.
SKIN_TONES = (
    (255, 219, 190),
    (240, 195, 160),
    (224, 172, 135),
    (198, 140, 100),
    (160, 105, 70),
    (120, 78, 52),
    (90, 58, 40),
)


def _paper_colour(image: Image.Image, box: Box) -> tuple[float, float, float]:
    """The brightest common colour of the box (its 70th percentile per channel)."""
    arr = np.asarray(image.crop(box).reduce(4), np.float32).reshape(-1, 3)
    return tuple(float(v) for v in np.percentile(arr, 70, axis=0))  # type: ignore[return-value]


def _finger(
    image: Image.Image, box: Box, area: float, rng: random.Random
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """(coverage 0-1, colour H x W x 3) of a finger reaching in from one side of the box."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    side = rng.choice(("left", "right", "bottom", "bottom", "top"))
    across = w if side in ("left", "right") else h  # how far the finger can reach in
    along = h if side in ("left", "right") else w
    width = min(along * 0.8, max(area / (across * 0.7), math.sqrt(area) * rng.uniform(0.45, 0.7)))
    reach = area / width  # length inside the box, the rounded tip included
    pos = rng.uniform(0.15, 0.85) * along
    # axis from far outside the box to the tip, tilted up to 25 degrees
    tilt = math.radians(rng.uniform(-25, 25))
    dirs = {"left": (1.0, 0.0), "right": (-1.0, 0.0), "top": (0.0, 1.0), "bottom": (0.0, -1.0)}
    dx, dy = dirs[side]
    dx, dy = dx * math.cos(tilt) - dy * math.sin(tilt), dx * math.sin(tilt) + dy * math.cos(tilt)
    start = {
        "left": (left, top + pos),
        "right": (right, top + pos),
        "top": (left + pos, top),
        "bottom": (left + pos, bottom),
    }[side]
    tip = (start[0] + dx * reach, start[1] + dy * reach)
    hh, ww = image.height, image.width
    ys, xs = np.mgrid[:hh, :ww].astype(np.float32)
    t = (xs - tip[0]) * -dx + (ys - tip[1]) * -dy  # distance back from the tip along the axis
    n = (xs - tip[0]) * -dy + (ys - tip[1]) * dx  # signed distance across the axis
    half = width / 2
    centre_t = np.maximum(t, half)  # a capsule: round tip of radius half, then straight
    dist = np.hypot(np.where(t < half, centre_t - t, 0.0), n)
    inside = np.clip((half - dist) / max(1.0, half * 0.08) + 0.5, 0.0, 1.0)
    # a finger is a lit cylinder: darker towards its sides, a little darker further back
    shade = 1.0 - 0.35 * np.clip(np.abs(n) / half, 0, 1) ** 2 - 0.1 * np.clip(t / (4 * width), 0, 1)
    base = np.asarray(rng.choice(SKIN_TONES), np.float32) * rng.uniform(0.85, 1.05)
    colour = base[None, None, :] * shade[..., None]
    return inside.astype(np.float32), colour.astype(np.float32)


def _sticker(
    image: Image.Image, box: Box, area: float, rng: random.Random
) -> tuple[str, tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]]:
    """(label, (coverage, colour)) of a rotated rectangle (a label, a slip, an object)."""
    cx, cy = text_point(image, box, rng)
    aspect = rng.uniform(0.5, 2.0)
    sx, sy = math.sqrt(area * aspect) / 2, math.sqrt(area / aspect) / 2
    angle = math.radians(rng.uniform(-20, 20))
    hh, ww = image.height, image.width
    ys, xs = np.ogrid[:hh, :ww]
    u = (xs - cx) * math.cos(angle) + (ys - cy) * math.sin(angle)
    v = -(xs - cx) * math.sin(angle) + (ys - cy) * math.cos(angle)
    inside = np.clip(np.minimum(sx - np.abs(u), sy - np.abs(v)) + 0.5, 0.0, 1.0)
    what = "sticker"
    if rng.random() < 0.4:  # close to the paper: a white label, a slip of the same paper
        what = "paper-coloured sticker"
        paper = np.asarray(_paper_colour(image, box), np.float32)
        offset = rng.uniform(8, 30) * rng.choice((-1, 1))
        base = np.clip(paper + offset + np.array([rng.uniform(-6, 6) for _ in range(3)]), 0, 255)
    else:
        base = np.asarray([rng.randint(0, 255) for _ in range(3)], np.float32)
    grain = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(1, 4), (hh, ww, 1))
    colour = base[None, None, :] + grain.astype(np.float32)
    return what, (inside.astype(np.float32), colour.astype(np.float32))


def occlude(image: Image.Image, rng: random.Random) -> tuple[str, bytes]:
    """A finger or a sticker over 8-25 % of the document box, partly over the text.

    A finger (half the cases) reaches in from a side of the box as a shaded capsule of one
    of :data:`SKIN_TONES`, out of focus (it is close to the lens); a sticker is a rotated
    rectangle with paper grain, of a random colour or, in 40 % of stickers, within 8-30
    grey levels of the paper's own colour.  Both cast a soft shadow on the document.
    """
    box = document_box(image)
    area = rng.uniform(0.08, 0.25) * (box[2] - box[0]) * (box[3] - box[1])
    finger = rng.random() < 0.5
    if finger:
        what, (cover, colour) = "finger", _finger(image, box, area, rng)
    else:
        what, (cover, colour) = _sticker(image, box, area, rng)
    scale = max(image.size) / 1000
    shadow_img = Image.fromarray((cover * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(scale * rng.uniform(3, 10))
    )
    shift = (round(scale * rng.uniform(-8, 8)), round(scale * rng.uniform(2, 10)))
    shadow = np.roll(np.asarray(shadow_img, np.float32) / 255, shift, axis=(1, 0))
    arr = np.asarray(image, np.float32) * (1 - rng.uniform(0.15, 0.35) * shadow)[..., None]
    if finger:  # out of focus
        blurred = Image.fromarray((cover * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(scale * rng.uniform(1.5, 4))
        )
        cover = np.asarray(blurred, np.float32) / 255
    arr = arr * (1 - cover[..., None]) + colour * cover[..., None]
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return what, encode(out.filter(ImageFilter.GaussianBlur(max(0.5, scale * 0.5))))


def software(image: Image.Image, name: str) -> bytes:
    exif = Image.Exif()
    exif[0x0131] = name if name.isascii() else name.encode("utf-8")  # as Chinese apps write it
    return encode(image, quality=95, exif=exif.tobytes())


def _rng(seed: str, label: str) -> random.Random:
    """One RNG per original and degradation, so changing one degradation moves no other."""
    return random.Random(zlib.crc32(f"{seed}/{label}".encode()))


def all_degradations(
    data: bytes, seed: str, count: int, *, certificate: bool, only: Collection[str] = ()
) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of every degradation of one original (of the warnings ``only``).

    Labels are ``<warning>:<detail>``; ``:informational`` ones are reported but not
    counted against the target, ``edited_negative`` ones are negatives of ``warn_edited``.
    ``greyscale_copy`` is made of certificate kinds only (the only ones it is raised for);
    ``occluded`` is labelled by what covers the document (:data:`OCCLUDERS`).
    """
    image = Image.open(io.BytesIO(data)).convert("RGB")

    def wanted(warning: str) -> bool:
        return not only or warning in only

    if wanted("blur"):
        for sigma in BLUR_SIGMAS:
            tag = f"sigma {sigma:g}" + (":informational" if sigma < WARN_SIGMA else "")
            yield f"blur:{tag}", blur(image, sigma)
    if wanted("greyscale_copy") and certificate:
        yield (
            "greyscale_copy:copy (certificate kinds)",
            greyscale_copy(image, _rng(seed, "greyscale_copy")),
        )
    if wanted("glare"):
        yield "glare:highlight", glare(image, _rng(seed, "glare"))
    if wanted("screen_reshoot"):
        period = GRID_PERIODS[count % len(GRID_PERIODS)]
        yield f"screen_reshoot:period {period}", screen(image, _rng(seed, "screen"), period)
    if wanted("incomplete"):
        yield "incomplete:cut", incomplete(image, _rng(seed, "incomplete"))
    if wanted("low_resolution"):
        for width in DOWNSCALE_WIDTHS:
            yield f"low_resolution:{width} px wide", downscale(image, width)
    if wanted("occluded"):
        what, occluded = occlude(image, _rng(seed, "occluded"))
        yield f"occluded:{what}", occluded
    if wanted("edited"):
        yield "edited:exif software", software(image, EDITORS[count % len(EDITORS)])
        yield "edited_negative:firmware", software(image, FIRMWARE[count % len(FIRMWARE)])
