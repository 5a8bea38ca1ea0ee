"""Decode image bytes once into the arrays the quality heuristics work on.

:func:`decode` returns a :class:`Frames` or ``None`` (not a decodable image: a PDF, a
truncated file, an image over :data:`MAX_PIXELS` pixels); it never raises.  The image is
turned upright from its EXIF orientation first, so "the top border" means the top of the
document as a person would hold it.

Speed matters more than fidelity here (the whole assessment is meant to cost well under
50 ms for a 2000 px photo), so:

* a JPEG is decoded with ``Image.draft`` at the smallest DCT scale (1, 1/2, 1/4, 1/8) that
  keeps at least :data:`BLUR_SIDE` px on its long side (a 2400 px photo is decoded at 1200
  px, 2-3 times faster than in full); other formats are box-reduced to under twice that;
* the arrays are small: ``grey`` (float32, long side at most :data:`BLUR_SIDE`), ``rgb``
  (uint8, box-reduced by a whole factor to a long side of at most :data:`WORK_SIDE`), and ``patch``,
  a square crop of at most :data:`PATCH_SIDE` pixels from the centre of the decoded image
  at its decoded scale, for the screen-reshoot spectrum.  So a screen's pixel grid finer
  than 2 decoded pixels (4 stored pixels for a 2000-4000 px JPEG) is not seen.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

__all__ = [
    "BLUR_SIDE",
    "MAX_ASPECT",
    "MAX_FULL_PIXELS",
    "MAX_PIXELS",
    "PATCH_SIDE",
    "WORK_SIDE",
    "Frames",
    "decode",
]

#: Images with more pixels than this are not assessed (decompression bombs); the same
#: bound as the source readers' own limit, restated because this layer may not import them.
MAX_PIXELS: Final = 89_478_485
#: A format decoded in full (not a JPEG, which decodes at a reduced scale) is judged only up
#: to this many pixels and this ratio of long to short side: beyond, decoding one costs
#: seconds and hundreds of MB for a judgement of a few ms (a document is neither).
MAX_FULL_PIXELS: Final = 40_000_000
MAX_ASPECT: Final = 20
#: Long side of the greyscale array the blur measure works on.
BLUR_SIDE: Final = 1000
#: Long side of the colour array the region heuristics (glare, occlusion, edges) work on.
WORK_SIDE: Final = 512
#: Side of the centre crop whose spectrum is searched for a screen's pixel grid.
PATCH_SIDE: Final = 512

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frames:
    """One image, decoded and upright, at the sizes the heuristics need."""

    width: int
    """Width of the image as stored (after EXIF orientation), in pixels."""
    height: int
    grey: FloatArray
    """Luminance 0-255, long side at most :data:`BLUR_SIDE` (never upsampled)."""
    rgb: ByteArray
    """H x W x 3, reduced by a whole factor to a long side of at most :data:`WORK_SIDE`."""
    patch: FloatArray
    """Centre crop of the luminance at decoded scale, at most :data:`PATCH_SIDE` square."""
    decoded_scale: float
    """Decoded pixels per stored pixel: 1.0, or 1/2, 1/4, 1/8 after ``draft``."""
    image: Image.Image
    """The opened image, for its metadata (EXIF, XMP, PNG text, JPEG APP segments)."""


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    scale = min(1.0, side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _open(data: bytes) -> tuple[Image.Image, Image.Image, float] | None:
    """(opened image for metadata, decoded upright RGB, decoded scale) or None."""
    # No warnings.catch_warnings() here: it swaps process-wide state and the run calls this
    # from several threads.  Pillow's rare warnings (odd EXIF, a huge image) pass through.
    try:
        img = Image.open(io.BytesIO(data))
        width, height = img.size
        if width * height > MAX_PIXELS or width < 1 or height < 1:
            return None
        if max(width, height) > MAX_ASPECT * min(width, height):
            return None
        if img.format != "JPEG" and width * height > MAX_FULL_PIXELS:
            return None
        if img.format == "JPEG":
            # the DCT scale that still gives at least BLUR_SIDE px on the long side
            img.draft("RGB", _fit(img.size, BLUR_SIDE))
        img.seek(0)
        img.load()
        scale = img.size[0] / width
        upright = ImageOps.exif_transpose(img) or img
        rgb = upright if upright.mode == "RGB" else upright.convert("RGB")
        if max(rgb.size) >= 2 * BLUR_SIDE:  # a large PNG, TIFF...: box-reduce first
            factor = max(rgb.size) // BLUR_SIDE
            rgb = rgb.reduce(factor)
            scale /= factor
    except Exception:  # any decoder failure means "not an image we can assess"
        return None
    return img, rgb, scale


def decode(data: bytes) -> Frames | None:
    """Decode ``data`` into :class:`Frames`, or ``None`` when it is not a decodable image."""
    opened = _open(data)
    if opened is None:
        return None
    img, rgb, scale = opened
    w, h = rgb.size
    grey = rgb.convert("L")
    side = min(PATCH_SIDE, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    patch = np.asarray(grey.crop((left, top, left + side, top + side)), np.float32)
    blur = grey.resize(_fit(grey.size, BLUR_SIDE), Image.Resampling.BOX)
    work = rgb.reduce(max(1, math.ceil(max(w, h) / WORK_SIDE)))
    stored_w, stored_h = round(w / scale), round(h / scale)
    return Frames(
        width=stored_w,
        height=stored_h,
        grey=np.asarray(blur, np.float32),
        rgb=np.asarray(work, np.uint8),
        patch=patch,
        decoded_scale=scale,
        image=img,
    )
