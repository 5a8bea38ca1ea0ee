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

#: How much redder than green and blue a pixel must be to be lifted out (low: the seal's
#: pale, blurred edges go too) and to count as the seal's letters (high: only solid ink).
LIFT_MARGIN: Final = 20
INK_MARGIN: Final = 40


def _redness(image: np.ndarray) -> np.ndarray:
    """How much redder than green and blue each pixel of a BGR image is (int16)."""
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"a BGR image is needed, got an array of shape {image.shape}")
    b, g, r = (image[..., i].astype(np.int16) for i in range(3))
    redness: np.ndarray = r - np.maximum(g, b)
    return redness


def red_mask(image: np.ndarray, margin: int = INK_MARGIN) -> np.ndarray:
    """Boolean mask of the pixels of a BGR image ``margin`` redder than green and blue."""
    mask: np.ndarray = _redness(image) > margin
    return mask


def without_red(image: np.ndarray) -> np.ndarray:
    """A copy of a BGR image with its red ink replaced by the grey of its red channel."""
    mask = red_mask(image, LIFT_MARGIN)
    if not mask.any():
        return image
    out: np.ndarray = image.copy()
    grey = image[..., 2]
    for channel in range(3):
        out[..., channel] = np.where(mask, grey, image[..., channel])
    return out


def seal_strip(
    image: np.ndarray, within: tuple[float, float, float, float] | None = None
) -> np.ndarray | None:
    """The text ring of the largest round red seal, unrolled left to right (dark text on
    white, BGR), or None when the image has no round red seal.

    ``within`` (left, top, right, bottom) limits the search to the document's area.  The
    ring is unrolled from the bottom of the seal clockwise, one full turn, so text set
    around the top (the usual place, read clockwise) comes out whole in the middle."""
    import cv2  # the local extra

    if within is not None:  # only the document: a reddish table is not a seal
        h, w = image.shape[:2]
        left, top, right, bottom = within
        x0, y0 = max(0, int(left)), max(0, int(top))
        x1, y1 = min(w, math.ceil(right)), min(h, math.ceil(bottom))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        image = image[y0:y1, x0:x1]
    redness = _redness(image)
    # a photo's seal is fainter: the threshold follows the reddest pixels found
    margin = min(INK_MARGIN, max(12, int(np.percentile(redness, 99.9)) // 2))
    found = (redness > margin).astype(np.uint8) * 255
    if int(found.sum()) == 0:
        return None
    # a ring broken by noise and blur is closed again
    mask = cv2.morphologyEx(found, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: tuple[tuple[float, float], tuple[float, float], float] | None = None
    smallest = 0.08 * min(image.shape[:2])
    for contour in contours:
        if len(contour) < 5:
            continue
        (cx, cy), (width, height), angle = cv2.fitEllipse(contour)
        if max(width, height) < smallest or min(width, height) < 0.45 * max(width, height):
            continue
        # a round seal (an ellipse in a photo taken at an angle) is mostly outline: its
        # outer contour's points lie near the fitted ellipse
        t = math.radians(angle)
        dx, dy = contour[:, 0, 0] - cx, contour[:, 0, 1] - cy
        u = (dx * math.cos(t) + dy * math.sin(t)) / (width / 2)
        v = (-dx * math.sin(t) + dy * math.cos(t)) / (height / 2)
        if np.median(np.hypot(u, v)) < 0.8:
            continue
        # a seal is a ring with letters inside, not a solid blob: most of its ellipse is
        # paper
        inside = np.zeros(found.shape, np.uint8)
        cv2.ellipse(inside, ((cx, cy), (width, height), angle), 255, -1)
        area = int(np.count_nonzero(inside))
        if int(np.count_nonzero(found[inside > 0])) > area // 2:
            continue
        if best is None or width * height > best[1][0] * best[1][1]:
            best = ((cx, cy), (width, height), angle)
    if best is None:
        return None
    (cx, cy), (width, height), angle = best
    radius = max(width, height) / 2
    # dark text on white, whatever the paper and lighting: the redder, the darker (the
    # letters' soft edges kept, which the recogniser reads better than a hard mask)
    darkness = np.clip((redness - margin // 2) * (255 // max(1, margin)), 0, 255)
    ink: np.ndarray = (255 - darkness).astype(np.uint8)
    # stretch the ellipse back into a circle about its centre
    t = math.radians(angle)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    stretch = rot @ np.diag([2 * radius / width, 2 * radius / height]) @ rot.T
    offset = np.array([cx, cy]) - stretch @ np.array([cx, cy])
    matrix = np.hstack([stretch, offset[:, None]])
    ink = cv2.warpAffine(ink, matrix, (ink.shape[1], ink.shape[0]), borderValue=255)
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
