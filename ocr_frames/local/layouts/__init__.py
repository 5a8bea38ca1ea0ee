"""Document understanding on top of OCR lines: one parser per kind.

A parser takes the recognised lines (:class:`~ocr_frames.local._ocr.TextBox`) and the
decoded image and returns the kind's answer fields as the platform names them, or None
when no document of that kind is in the image (the platform's 101001).  Labels are paired
with values by position (:mod:`._base`), never by file names or known answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.local._ocr import TextBox
from ocr_frames.local.layouts._fix import simplified
from ocr_frames.local.layouts.bizlicense import parse_bizlicense
from ocr_frames.local.layouts.cards import parse_bankcard, parse_idcard, parse_platenum
from ocr_frames.local.layouts.text import parse_comm, parse_menu
from ocr_frames.local.layouts.vehicle import Reader, parse_driving, parse_drivinglicense

__all__ = ["PARSERS", "SEALED", "parse", "warm_up"]

Parser = Callable[[Sequence[TextBox], np.ndarray], "dict[str, Any] | None"]

PARSERS: Final[dict[str, Parser]] = {
    "idcard": parse_idcard,
    "bankcard": parse_bankcard,
    "driving": parse_driving,
    "drivinglicense": parse_drivinglicense,
    "bizlicense": parse_bizlicense,
    "comm": parse_comm,
    "platenum": parse_platenum,
    "menu": parse_menu,
}


#: Kinds whose documents carry a red seal over printed text: their lines are read from
#: the image with the seal's red lifted out (:func:`~ocr_frames.local._seal.without_red`).
SEALED: Final = frozenset({"driving", "drivinglicense", "bizlicense"})


def parse(
    kind: str, boxes: Sequence[TextBox], image: np.ndarray, *, read: Reader | None = None
) -> dict[str, Any] | None:
    """The answer fields of ``kind`` found in the lines, or None (no such document).

    ``read`` (image → lines) lets a parser read a part of the image on its own: the 驾驶证
    reads its seal's ring, unrolled (:func:`~ocr_frames.local._seal.seal_strip`)."""
    if kind == "drivinglicense":
        return parse_drivinglicense(boxes, image, read=read)
    return PARSERS[kind](boxes, image)


def warm_up() -> None:
    """Load the character tables the parsers use (OpenCC's, ~5 MB) now rather than at the
    first image."""
    simplified([])  # builds the converter
