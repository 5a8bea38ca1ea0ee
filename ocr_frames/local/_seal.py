"""Red seals: out of the way of the text they cover, and read along their ring.

Licences carry a translucent red seal stamped over printed values (the 驾驶证's over its
labels, the 营业执照's over the issue date).  The text detector loses the lines under
it, so the seal's red is lifted out of the image the text is read from
(:func:`without_red`: a red pixel becomes the grey of its red channel, so black ink under
the seal stays dark and the seal itself turns pale).  The seal's own text runs around its
ring; :func:`seal_strip` unrolls the ring into a straight strip (a polar warp) that the
ordinary line recogniser can read.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

__all__ = ["red_mask", "seal_strip", "without_red"]

#: How much redder than green and blue a pixel must be to count as seal ink.
_RED_MARGIN: Final = 40


def red_mask(image: np.ndarray) -> np.ndarray:
    """Boolean mask of the seal-red pixels of a BGR image."""
    b, g, r = (image[..., i].astype(np.int16) for i in range(3))
    mask: np.ndarray = (r - np.maximum(g, b)) > _RED_MARGIN
    return mask


def without_red(image: np.ndarray) -> np.ndarray:
    """A copy of a BGR image with its red ink replaced by the grey of its red channel."""
    mask = red_mask(image)
    if not mask.any():
        return image
    out: np.ndarray = image.copy()
    grey = image[..., 2]
    for channel in range(3):
        out[..., channel] = np.where(mask, grey, image[..., channel])
    return out


def seal_strip(image: np.ndarray) -> np.ndarray | None:
    """The text ring of the largest round red seal, unrolled left to right (dark text on
    white, BGR), or None when the image has no round red seal.

    The ring is unrolled from the bottom of the seal clockwise, one full turn, so text set
    around the top (the usual place, read clockwise) comes out whole in the middle."""
    import cv2  # the local extra

    mask = red_mask(image).astype(np.uint8) * 255
    if int(mask.sum()) == 0:
        return None
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: tuple[float, float, float] | None = None
    smallest = 0.04 * min(image.shape[:2])
    for contour in contours:
        (cx, cy), radius = cv2.minEnclosingCircle(contour)
        if radius < smallest:
            continue
        # a round seal fills its enclosing circle's outline: most points sit near the rim
        points = contour.reshape(-1, 2).astype(np.float64)
        distance = np.hypot(points[:, 0] - cx, points[:, 1] - cy)
        if np.median(distance) < 0.8 * radius:
            continue
        if best is None or radius > best[2]:
            best = (cx, cy, radius)
    if best is None:
        return None
    cx, cy, radius = best
    ink = 255 - mask  # dark text on white, whatever the paper and lighting
    circumference = int(2 * math.pi * radius)
    polar = cv2.warpPolar(
        ink,
        (int(radius), circumference),
        (cx, cy),
        radius,
        cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR,
    )
    # rows are angles (clockwise from +x), columns radii; start at the bottom (90°)
    polar = np.roll(polar, -circumference // 4, axis=0)
    band = polar[:, int(0.5 * radius) : int(0.93 * radius)]
    # angle left to right, the rim at the top (letters' tops point outwards)
    strip = np.ascontiguousarray(np.rot90(band, 1))
    return np.ascontiguousarray(np.dstack([strip] * 3))
