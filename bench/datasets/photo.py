"""Turn a flat, upright document image into the bytes of one evaluation image.

Three variants: ``clean`` (the flat image, PNG or JPEG q>=90), ``noisy`` (scanner-like:
noise, slight blur, a small tilt, contrast change, low JPEG quality) and ``photo`` (a phone
photo: the document on a textured background, perspective, rotation, shadow, uneven
light, blur; one photo in three also turned by 90/180/270 degrees, pixels turned).  A
photo is taken to be read: the document fills 70-92% of a 1600-2400 px frame and is never
drawn at less than 0.6 of its flat size (a wide two-page licence gets a larger frame).

``info["rotation"]`` is the clockwise quarter turn applied to the whole picture (0, 90,
180 or 270): turning the image back counter-clockwise by it makes the document upright
(apart from the small tilt of ``noisy`` and ``photo``).
"""

from __future__ import annotations

import math
import random
from typing import Any

import cv2
import numpy as np
from PIL import Image

VARIANTS = ("clean", "noisy", "photo")


#: The smallest scale of a photographed document against its flat image.
MIN_SCALE = 0.6


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


def _encode(bgr: np.ndarray, fmt: str, quality: int) -> bytes:
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"could not encode {fmt}")
    return bytes(buf.tobytes())


def _to_bgr(image: Image.Image) -> np.ndarray:
    arr = np.asarray(image.convert("RGB"))
    return cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)


def _clean(bgr: np.ndarray, rng: random.Random) -> tuple[bytes, dict[str, Any]]:
    if rng.random() < 0.5:
        return _encode(bgr, "png", 0), {"format": "png", "rotation": 0, "quality": 100}
    q = rng.randint(90, 95)
    return _encode(bgr, "jpg", q), {"format": "jpg", "rotation": 0, "quality": q}


def _noisy(bgr: np.ndarray, rng: random.Random) -> tuple[bytes, dict[str, Any]]:
    nrng = _np_rng(rng)
    img: Any = bgr.astype(np.float32)
    alpha = rng.uniform(0.75, 1.15)
    beta = rng.uniform(-20, 25)
    img = np.clip((img - 128) * alpha + 128 + beta, 0, 255)
    h, w = img.shape[:2]
    angle = rng.uniform(-2, 2)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    border = tuple(float(v) for v in np.median(img.reshape(-1, 3), axis=0))
    img = cv2.warpAffine(
        img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.0))
    img = img + nrng.normal(0, rng.uniform(4, 11), img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    q = rng.randint(45, 75)
    return _encode(out, "jpg", q), {"format": "jpg", "rotation": 0, "quality": q}


def _background(h: int, w: int, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    """A textured surface: table wood, fabric, desk mat or paper, as float32 BGR."""
    base = np.array([rng.randint(40, 220) for _ in range(3)], np.float32)
    style = rng.choice(("wood", "fabric", "mottled", "plain"))
    # low-frequency mottling
    small = nrng.normal(0, 1, (max(2, h // 64), max(2, w // 64))).astype(np.float32)
    low = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    img += low[..., None] * rng.uniform(6, 18)
    if style == "wood":
        yy = np.arange(h, dtype=np.float32)[:, None]
        xx = np.arange(w, dtype=np.float32)[None, :]
        period = rng.uniform(12, 40)
        warp = cv2.resize(
            nrng.normal(0, 1, (8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
        )
        if rng.random() < 0.5:
            grain = np.sin((yy + warp * 25 + xx * 0.02) / period * 2 * math.pi)
        else:
            grain = np.sin((xx + warp * 25 + yy * 0.02) / period * 2 * math.pi)
        img += grain[..., None] * rng.uniform(6, 16)
    elif style == "fabric":
        yy = np.arange(h, dtype=np.float32)[:, None]
        xx = np.arange(w, dtype=np.float32)[None, :]
        p = rng.uniform(3, 7)
        weave = np.sin(xx / p * 2 * math.pi) * np.sin(yy / p * 2 * math.pi)
        img += weave[..., None] * rng.uniform(4, 10)
    elif style == "mottled":
        mid = cv2.resize(
            nrng.normal(0, 1, (max(2, h // 12), max(2, w // 12))).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_LINEAR,
        )
        img += mid[..., None] * rng.uniform(5, 14)
    img += nrng.normal(0, rng.uniform(2, 6), img.shape).astype(np.float32)
    return img


def _photo(bgr: np.ndarray, rng: random.Random) -> tuple[bytes, dict[str, Any]]:
    nrng = _np_rng(rng)
    h, w = bgr.shape[:2]
    long_side = rng.randint(1600, 2400)
    # a frame a little squarer than the document (4:3, 16:9 or square for most documents)
    doc_aspect = min(w, h) / max(w, h)
    aspect = min(1.0, max(rng.choice((3 / 4, 9 / 16, 3 / 4, 1.0)), doc_aspect * 1.15))
    if w >= h:
        fw, fh = long_side, int(long_side * aspect)
    else:
        fh, fw = long_side, int(long_side * aspect)
    frac = rng.uniform(0.7, 0.92)
    angle = math.radians(rng.uniform(-10, 10))
    jitter = 0.08
    # the scale that makes the (rotated, jittered) document about ``frac`` of the frame
    ca, sa = abs(math.cos(angle)), abs(math.sin(angle))
    bw, bh = w * ca + h * sa, w * sa + h * ca
    scale = frac * min(fw / bw, fh / bh) / (1 + jitter)
    if scale < MIN_SCALE:  # a photo taken to be read: the text stays >= 0.6 of flat size
        fw, fh = int(fw * MIN_SCALE / scale), int(fh * MIN_SCALE / scale)
        scale = MIN_SCALE
    dw, dh = w * scale, h * scale
    cx = fw / 2 + rng.uniform(-1, 1) * max(0.0, (fw - bw * scale * (1 + jitter)) / 2)
    cy = fh / 2 + rng.uniform(-1, 1) * max(0.0, (fh - bh * scale * (1 + jitter)) / 2)
    corners = np.array(
        [[-dw / 2, -dh / 2], [dw / 2, -dh / 2], [dw / 2, dh / 2], [-dw / 2, dh / 2]], np.float32
    )
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = corners @ rot.T.astype(np.float32)
    dst[:, 0] += cx + np.array([rng.uniform(-jitter, jitter) * dw for _ in range(4)])
    dst[:, 1] += cy + np.array([rng.uniform(-jitter, jitter) * dh for _ in range(4)])
    # keep the whole document in the frame
    lo = dst.min(axis=0)
    hi = dst.max(axis=0)
    shift = np.maximum(0, 4 - lo) - np.maximum(0, hi - np.array([fw - 5, fh - 5]))
    dst += shift.astype(np.float32)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    doc = cv2.warpPerspective(
        bgr, m, (fw, fh), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    ).astype(np.float32)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (fw, fh), flags=cv2.INTER_LINEAR)
    bg = _background(fh, fw, rng, nrng)
    # a faint drop shadow of the document on the surface
    shadow = cv2.GaussianBlur(mask, (0, 0), rng.uniform(4, 12))
    shadow = np.roll(shadow, (rng.randint(2, 10), rng.randint(-6, 6)), axis=(0, 1))
    bg *= (1 - 0.35 * shadow)[..., None]
    img = bg * (1 - mask[..., None]) + doc * mask[..., None]
    # uneven lighting: a smooth gradient plus a soft blob of shadow (a hand, a phone)
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
    grad = (xx / fw - 0.5) * gx + (yy / fh - 0.5) * gy
    light: Any = 1.0 + grad * rng.uniform(0.15, 0.4) + rng.uniform(-0.05, 0.08)
    if rng.random() < 0.7:
        sx, sy = rng.uniform(0, fw), rng.uniform(0, fh)
        rad = rng.uniform(0.25, 0.6) * max(fw, fh)
        blob = np.exp(-(((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * rad**2)))
        light *= 1 - rng.uniform(0.15, 0.35) * blob
    img *= light[..., None]
    tint = np.array([rng.uniform(0.93, 1.05) for _ in range(3)], np.float32)
    img *= tint
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.4))
    img += np.asarray(nrng.normal(0, rng.uniform(2, 6), img.shape), np.float32)
    out: Any = np.clip(img, 0, 255).astype(np.uint8)
    rotation = 0
    if rng.random() < 1 / 3:
        rotation = rng.choice((90, 180, 270))
        code = {
            90: cv2.ROTATE_90_CLOCKWISE,
            180: cv2.ROTATE_180,
            270: cv2.ROTATE_90_COUNTERCLOCKWISE,
        }[rotation]
        out = cv2.rotate(out, code)
    q = rng.randint(60, 85)
    return _encode(out, "jpg", q), {"format": "jpg", "rotation": rotation, "quality": q}


def render(image: Image.Image, variant: str, rng: random.Random) -> tuple[bytes, dict[str, Any]]:
    """Encode ``image`` as the ``variant`` ('clean', 'noisy' or 'photo') of the evaluation
    set; returns the file bytes and ``{"format", "rotation", "quality"}``."""
    bgr = _to_bgr(image)
    if variant == "clean":
        return _clean(bgr, rng)
    if variant == "noisy":
        return _noisy(bgr, rng)
    if variant == "photo":
        return _photo(bgr, rng)
    raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
