"""The pixel heuristics: one small function per warning, each returning one number.

Every function returns a *measure*, never a verdict; :data:`DEFAULT_THRESHOLDS` holds the
value at which each measure raises its warning, and :data:`DIRECTIONS` whether the warning
fires above (``+1``) or below (``-1``) it.  The thresholds were chosen on the ``tune``
split of ``bench/quality.py`` only; ``bench/results/quality.md`` reports them on the
``report`` split.  ``docs/quality.md`` lists each heuristic's known failure modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from ocr_frames._quality.decode import Frames
from ocr_frames._quality.regions import CELL, Layout, largest_blob

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DIRECTIONS",
    "blur_effect",
    "cut_edge",
    "document_pixels",
    "glare_blob",
    "grey_chroma",
    "grid_peaks",
    "occluder_blob",
]

DEFAULT_THRESHOLDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "warn_blur": 0.42,
        "warn_glare": 0.03,
        "warn_greyscale_copy": 6.0,
        "warn_screen_reshoot": 3.0,
        "warn_incomplete": 0.05,
        "warn_occluded": 0.07,
        "warn_low_resolution": 400.0,
    }
)
DIRECTIONS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "warn_blur": 1,
        "warn_glare": 1,
        "warn_greyscale_copy": -1,
        "warn_screen_reshoot": 1,
        "warn_incomplete": 1,
        "warn_occluded": 1,
        "warn_low_resolution": -1,
    }
)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
#: Width of the box that re-blurs the image in the blur effect (Crete et al. use 9).
BLUR_WINDOW: Final = 9
#: A glare pixel is at least this bright in every channel (clipped by the sensor) ...
GLARE_LEVEL: Final = 253
#: ... and this much brighter than the paper (so white paper itself is never glare).
GLARE_ABOVE_PAPER: Final = 6.0
#: A cell whose luminance varies less than this is flat paper (the paper reference) ...
UNIFORM_STD: Final = 6.0
#: ... and an edge-free cell varying less than this may be an occluder: a finger is a lit
#: cylinder, shaded towards its sides, so it is allowed more variation than paper.
OCCLUDER_STD: Final = 10.0
#: A flat cell this far (RGB distance) from the paper colour is not paper.
OCCLUDER_DISTANCE: Final = 45.0
#: Periods searched for a screen's grid, in decoded pixels.
GRID_MIN_PERIOD: Final = 1.9
GRID_MAX_PERIOD: Final = 16.0
#: Width of the outer band where a document region counts as touching the border.
BORDER_BAND: Final = 3


def _box(values: FloatArray, size: int, axis: int) -> FloatArray:
    """Running mean of ``size`` samples along ``axis`` 0 or 1 (valid part only)."""
    moved = values if axis == 0 else values.T
    total = np.cumsum(moved, axis=0, dtype=np.float32)
    out = np.empty((moved.shape[0] - size + 1, *moved.shape[1:]), np.float32)
    out[0] = total[size - 1]
    np.subtract(total[size:], total[:-size], out=out[1:])
    out /= size
    return out if axis == 0 else out.T


def blur_effect(grey: FloatArray) -> float:
    """Crete et al.'s no-reference blur effect (2007), 0 = sharp .. 1 = flat.

    Re-blurs the image with a 9-pixel box along each axis and asks how much of the
    neighbour-to-neighbour variation survives: a sharp image loses most of it, an already
    blurred one almost none.  It is a ratio of sums, so it does not depend on contrast;
    it is computed at :data:`~ocr_frames._quality.decode.BLUR_SIDE` px so that it means the
    same for every size.  Each axis is measured on every other line across it (lines are
    independent, so this only halves the cost), and the larger axis value is kept.  Warns
    above ``DEFAULT_THRESHOLDS["warn_blur"]``.
    """
    worst = 0.0
    half = BLUR_WINDOW // 2
    for image in (grey[:, ::2], np.ascontiguousarray(grey[::2].T)):
        if image.shape[0] <= BLUR_WINDOW + 2:
            return 1.0
        blurred = _box(image, BLUR_WINDOW, 0)
        sharp = image[half : half + blurred.shape[0]]
        d_sharp = np.abs(np.diff(sharp, axis=0))
        d_blur = np.abs(np.diff(blurred, axis=0))
        total = float(d_sharp.sum(dtype=np.float64))
        if total <= 0.0:
            return 1.0
        np.subtract(d_sharp, d_blur, out=d_blur)
        kept = float(np.maximum(d_blur, 0.0).sum(dtype=np.float64))
        worst = max(worst, (total - kept) / total)
    return worst


def _saturated(rgb: npt.NDArray[np.uint8], rows: int, cols: int) -> tuple[BoolArray, BoolArray]:
    """(pixels clipped in every channel, cells at least half of whose pixels are)."""
    cut = rgb[: rows * CELL, : cols * CELL]
    darkest = np.minimum(np.minimum(cut[..., 0], cut[..., 1]), cut[..., 2])
    clipped = darkest >= GLARE_LEVEL
    count = np.count_nonzero(clipped.reshape(rows, CELL, cols, CELL), axis=(1, 3))
    return clipped, count >= CELL * CELL // 2


def _paper_level(plan: Layout, saturated: BoolArray) -> float:
    """Median luminance of the region's edge-free cells that are not clipped white.

    Clipped cells are left out so that a large glare on a sparse page (whose edge-free
    cells it may outnumber) does not lift the paper to its own level and hide itself.
    """
    calm = plan.inside & ~plan.cell_edges & ~saturated
    if not calm.any():
        return 255.0
    luma = plan.cell_colour @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.median(luma[calm]))


def glare_blob(rgb: npt.NDArray[np.uint8], plan: Layout) -> float:
    """Share of the document region covered by its largest blob of specular glare.

    A glare pixel is clipped white in every channel (min(R, G, B) >= 253: a specular
    highlight saturates the sensor) *and* at least 6 grey levels brighter than the paper
    (the median luminance of the region's edge-free cells that are not themselves clipped):
    this is what tells glare from a white page, whose paper is itself near-white and so
    never counts.  A cell (16 px) is glare when half its pixels are; the measure is the
    largest 4-connected group of glare cells inside the region over the region's cell
    count.  Warns above ``DEFAULT_THRESHOLDS["warn_glare"]``.
    """
    inside = plan.inside
    if inside.sum() < 4:
        return 0.0
    rows, cols = inside.shape
    clipped, saturated = _saturated(rgb, rows, cols)
    paper = _paper_level(plan, saturated)
    if paper + GLARE_ABOVE_PAPER > 255:
        return 0.0
    level = min(255.0, max(GLARE_LEVEL, paper + GLARE_ABOVE_PAPER))
    hot = clipped & (plan.luma[: rows * CELL, : cols * CELL] >= level)
    count = np.count_nonzero(hot.reshape(rows, CELL, cols, CELL), axis=(1, 3))
    return largest_blob((count >= CELL * CELL // 2) & inside) / float(inside.sum())


def occluder_blob(plan: Layout) -> float:
    """Share of the document region covered by its largest uniform non-paper blob.

    A cell (16 px) is an occluder when it lies inside the region, holds no edge pixel, its
    luminance varies little (std < 10 grey levels: a sticker is flat, a finger smooth but
    shaded towards its sides) and its mean colour is more than 45 (RGB distance) from the
    paper's, the median colour of the region's uniform cells (std < 6).  The measure is
    the largest 4-connected group of such cells over the region's cell count.  Warns above
    ``DEFAULT_THRESHOLDS["warn_occluded"]``.  An occluder within 45 of the paper's colour
    (a white label on white paper) is not seen.
    """
    inside = plan.inside
    if inside.sum() < 4:
        return 0.0
    calm = inside & ~plan.cell_edges
    uniform = calm & (plan.cell_std < UNIFORM_STD)
    if not uniform.any():
        return 0.0
    paper = np.median(plan.cell_colour[uniform], axis=0)
    far = np.sqrt(((plan.cell_colour - paper) ** 2).sum(axis=2)) > OCCLUDER_DISTANCE
    return largest_blob(calm & (plan.cell_std < OCCLUDER_STD) & far) / float(inside.sum())


def grey_chroma(plan: Layout) -> float:
    """How colourful the image is: the largest minus the median max(RGB) - min(RGB) of a cell.

    Computed over the mean colours of 16 px cells (so JPEG colour noise does not count).  A
    photocopy or greyscale scan has next to no chroma anywhere; subtracting the median
    keeps a phone's colour cast (the same tint everywhere) from hiding it.  Warns *below*
    ``DEFAULT_THRESHOLDS["warn_greyscale_copy"]``.
    """
    colour = plan.cell_colour
    if colour.size == 0:
        return 0.0
    chroma = (colour.max(axis=-1) - colour.min(axis=-1)).ravel()
    return float(chroma.max() - np.median(chroma))


def cut_edge(plan: Layout) -> float:
    """How much of one image border the document region runs into (0 .. 1).

    For each side, the share of the positions along it where the document region reaches
    into the outer 3 px (at the work size) of the image; the largest of the four sides is
    the measure.  A document photographed whole sits inside
    the frame and touches no border; a flat scan has a margin around its content; a corner
    or edge cut off by the frame leaves the region running into the border.  Warns above
    ``DEFAULT_THRESHOLDS["warn_incomplete"]``.
    """
    region, band = plan.region, BORDER_BAND
    sides = (
        region[:band].any(axis=0),
        region[-band:].any(axis=0),
        region[:, :band].any(axis=1),
        region[:, -band:].any(axis=1),
    )
    return max(float(side.mean()) for side in sides)


def document_pixels(frames: Frames, plan: Layout) -> float:
    """Long side of the document, in the pixels of the stored image.

    The document region's bounding box (or the whole image when no region is found),
    scaled back to the stored size.  Too few pixels and ID-card text (7-8 px characters
    at 500 px) cannot be read.  Warns *below* ``DEFAULT_THRESHOLDS["warn_low_resolution"]``.
    """
    h, w = plan.region.shape
    rows = np.flatnonzero(plan.region.any(axis=1))
    cols = np.flatnonzero(plan.region.any(axis=0))
    if rows.size == 0:
        return float(max(frames.width, frames.height))
    tall = (rows[-1] - rows[0] + 1) * frames.height / h
    wide = (cols[-1] - cols[0] + 1) * frames.width / w
    return float(max(tall, wide))


def grid_peaks(patch: FloatArray) -> float:
    """Strength of the second-strongest isolated peak in the spectrum of the centre crop.

    A screen photographed by a camera leaves its pixel grid (and the moiré of that grid
    against the sensor's) as sharp periodic peaks in the 2-D FFT; print and paper do not.
    The crop is windowed (Hann), its log-magnitude spectrum compared with a 9 x 9 local
    mean, and the peaks searched at periods from 1.9 to 16 px.  Rows and columns at
    multiples of 1/8 cycle per pixel are skipped: that is the JPEG block grid.  The
    *second* peak is kept (a grid has at least two, a stray texture usually one).  In
    natural-log units above the neighbourhood; warns above
    ``DEFAULT_THRESHOLDS["warn_screen_reshoot"]``.
    """
    n = min(patch.shape)
    if n < 32:
        return 0.0
    crop = patch[:n, :n] - patch[:n, :n].mean()
    window = np.hanning(n).astype(np.float32)
    # one half-plane (rfft2): the spectrum of a real image is symmetric
    spectrum = np.log1p(np.abs(np.fft.rfft2(crop * window[:, None] * window[None, :])))
    spectrum = np.fft.fftshift(spectrum, axes=0).astype(np.float32)
    local = _box(_box(np.pad(spectrum, 4, mode="reflect"), 9, 0), 9, 1)
    fy = np.fft.fftshift(np.fft.fftfreq(n)).astype(np.float32)
    fx = np.fft.rfftfreq(n).astype(np.float32)
    radius = np.hypot(fy[:, None], fx[None, :])
    band = (radius >= 1 / GRID_MAX_PERIOD) & (radius <= 1 / GRID_MIN_PERIOD)
    band &= (fx[None, :] > 0) | (fy[:, None] > 0)
    band &= ~_block_lines(fy, n)[:, None] & ~_block_lines(fx, n)[None, :]
    scores = np.where(band, spectrum - local, -np.inf)
    r, c = np.unravel_index(int(np.argmax(scores)), scores.shape)
    scores[max(0, r - 3) : r + 4, max(0, c - 3) : c + 4] = -np.inf
    second = float(scores.max())
    return max(0.0, second) if np.isfinite(second) else 0.0


def _block_lines(freq: FloatArray, n: int) -> npt.NDArray[np.bool_]:
    """Frequencies within 1.5 bins of a non-zero multiple of 1/8: the JPEG 8 x 8 grid."""
    nearest = np.round(freq * 8) / 8
    lines: npt.NDArray[np.bool_] = (nearest != 0) & (np.abs(freq - nearest) * n <= 1.5)
    return lines
