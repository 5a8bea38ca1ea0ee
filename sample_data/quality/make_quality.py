"""Make the two bundled images of the quality warnings from ``sample_data/idcard/idcard_01.jpg``.

Run ``python sample_data/quality/make_quality.py``; it writes, next to itself:

* ``idcard_blurred.jpg``: Gaussian blur of sigma 4 px at the card's 1000 px width (what
  ``warn_blur`` is for: an out-of-focus photo);
* ``idcard_screen.jpg``: the card shown on a "screen" (multiplied by a pixel grid of period
  3 px, slightly turned) and photographed (resampled to 0.8 of its size without
  anti-aliasing, as a camera samples it): ``warn_screen_reshoot``.

Both are deterministic (no randomness) and JPEG quality 88, well under 150 KB.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "idcard" / "idcard_01.jpg"
BLUR_SIGMA_AT_1000 = 4.0
GRID_PERIOD, GRID_DEPTH, GRID_ANGLE, CAMERA_SCALE = 3.0, 0.3, 2.0, 0.8


def blurred(card: Image.Image) -> Image.Image:
    return card.filter(ImageFilter.GaussianBlur(BLUR_SIGMA_AT_1000 * max(card.size) / 1000))


def screen_photo(card: Image.Image) -> Image.Image:
    h, w = card.height, card.width
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    angle = math.radians(GRID_ANGLE)
    u = xs * math.cos(angle) + ys * math.sin(angle)
    v = -xs * math.sin(angle) + ys * math.cos(angle)
    cells = (0.5 + 0.5 * np.cos(2 * np.pi * u / GRID_PERIOD)) * GRID_DEPTH
    rows = (0.5 + 0.5 * np.cos(2 * np.pi * v / GRID_PERIOD)) * GRID_DEPTH
    grid = (1 - cells) * (1 - rows)
    shown = np.asarray(card, np.float32) * (grid / grid.mean())[..., None]
    screen = Image.fromarray(np.clip(shown, 0, 255).astype(np.uint8))
    size = (round(w * CAMERA_SCALE), round(h * CAMERA_SCALE))
    inverse = (1 / CAMERA_SCALE, 0, 0, 0, 1 / CAMERA_SCALE, 0)
    return screen.transform(size, Image.Transform.AFFINE, inverse, Image.Resampling.BILINEAR)


def main() -> None:
    card = Image.open(SOURCE).convert("RGB")
    blurred(card).save(HERE / "idcard_blurred.jpg", quality=88)
    screen_photo(card).save(HERE / "idcard_screen.jpg", quality=88)


if __name__ == "__main__":
    main()
