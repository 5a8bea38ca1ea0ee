"""``assess``: image bytes in, a :class:`Quality` (score, warnings, measures) out.

Each warning is one heuristic over the pixels or the metadata, so the result does not
depend on the OCR engine.  ``quality_score`` is ``100`` minus the :data:`PENALTIES` of the
warnings that fire, clipped to 0-100: a fixed, documented sum rather than a learned
model, so that a score can be explained by its warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ocr_frames._quality.decode import decode
from ocr_frames._quality.metadata import editing_traces
from ocr_frames._quality.pixels import (
    DEFAULT_THRESHOLDS,
    DIRECTIONS,
    blur_effect,
    cut_edge,
    document_pixels,
    glare_blob,
    grey_chroma,
    grid_peaks,
    occluder_blob,
)
from ocr_frames._quality.regions import layout

__all__ = ["PENALTIES", "PROVENANCE_WARNINGS", "WARNINGS", "Quality", "assess", "fired"]

WARNINGS: Final[tuple[str, ...]] = (
    "warn_blur",
    "warn_glare",
    "warn_greyscale_copy",
    "warn_screen_reshoot",
    "warn_incomplete",
    "warn_occluded",
    "warn_low_resolution",
    "warn_edited",
)
#: Warnings about where the image comes from (a copy, a screen, an editor), not about
#: whether it can be read: a second reading cannot clear them (``Cascade`` escalates on
#: the others only; a person still looks, through ``needs_review``).
PROVENANCE_WARNINGS: Final = frozenset(
    {"warn_greyscale_copy", "warn_screen_reshoot", "warn_edited"}
)
#: Points taken off 100 for each warning that fires: unreadable (blur, low resolution)
#: and not-the-original (screen, copy, edit) weigh more than a partly hidden field.
PENALTIES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "warn_blur": 35,
        "warn_glare": 20,
        "warn_greyscale_copy": 20,
        "warn_screen_reshoot": 30,
        "warn_incomplete": 25,
        "warn_occluded": 25,
        "warn_low_resolution": 30,
        "warn_edited": 20,
    }
)


@dataclass(frozen=True, slots=True)
class Quality:
    """What :func:`assess` found in one image."""

    score: int
    """``quality_score``, 0-100, higher is better."""
    warnings: frozenset[str]
    """The names of :data:`WARNINGS` that fire."""
    measures: Mapping[str, float]
    """The raw measure behind each warning (``warn_edited``: the number of traces)."""

    def without(self, names: Iterable[str]) -> Quality:
        """This judgement with the warnings ``names`` not counted (their penalties given
        back to the score)."""
        dropped = self.warnings.intersection(names)
        if not dropped:
            return self
        score = min(100, self.score + sum(PENALTIES[name] for name in dropped))
        return Quality(score, self.warnings - dropped, self.measures)


def _score(warnings: Iterable[str]) -> int:
    return max(0, min(100, 100 - sum(PENALTIES[name] for name in warnings)))


def fired(
    measures: Mapping[str, float], thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS
) -> frozenset[str]:
    """The warnings whose measure is past its threshold (``warn_edited``: any trace)."""
    out = {
        name
        for name, limit in thresholds.items()
        if DIRECTIONS[name] * (measures[name] - limit) > 0
    }
    if measures["warn_edited"] > 0:
        out.add("warn_edited")
    return frozenset(out)


def assess(data: bytes) -> Quality | None:
    """Assess one encoded image; ``None`` when ``data`` is not a decodable image."""
    frames = decode(data)
    if frames is None:
        return None
    plan = layout(frames.rgb)
    measures = {
        "warn_blur": blur_effect(frames.grey),
        "warn_glare": glare_blob(frames.rgb, plan),
        "warn_greyscale_copy": grey_chroma(plan),
        "warn_screen_reshoot": grid_peaks(frames.patch),
        "warn_incomplete": cut_edge(plan),
        "warn_occluded": occluder_blob(plan),
        "warn_low_resolution": document_pixels(frames, plan),
        "warn_edited": float(len(editing_traces(frames.image))),
    }
    warnings = fired(measures)
    return Quality(_score(warnings), warnings, MappingProxyType(measures))
