"""Clean-ups of recognised values: confusable characters, dates, punctuation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import Any, Final

from ocr_frames.local._ocr import TextBox

__all__ = [
    "alnum",
    "ascii_punct",
    "id_number",
    "iso_date",
    "only",
    "plate",
    "simplified",
    "simplified_text",
]

#: Letters OCR confuses with digits, read as the digit where only digits make sense.
_AS_DIGIT: Final = str.maketrans("OoDQIl|ZSB", "0000111258")
_ID: Final = re.compile(r"[0-9]{17}[0-9X]")
_DATE: Final = re.compile(r"(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})|(\d{4})(\d{2})(\d{2})")
_PUNCT: Final = str.maketrans({"（": "(", "）": ")", "，": ",", "；": ";", "：": ":"})
PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_PLATE: Final = re.compile(rf"[{PROVINCES}][A-Z][A-Z0-9]{{4,5}}[A-Z0-9挂学警港澳]")


def simplified(boxes: Sequence[TextBox]) -> list[TextBox]:
    """Lines with traditional characters read as simplified ones.

    The multilingual recogniser sometimes answers 漢 for 汉 or 粵 for 粤; ID cards,
    licences and plates of the mainland are printed in simplified characters only.
    """
    convert = _converter().convert
    return [replace(box, text=convert(box.text)) for box in boxes]


def simplified_text(text: str) -> str:
    """``text`` with traditional characters as simplified ones (see :func:`simplified`)."""
    converted: str = _converter().convert(text)
    return converted


@cache
def _converter() -> Any:
    import opencc  # OpenCC's own tables: ~5 MB, microseconds a line

    return opencc.OpenCC("t2s")


def id_number(text: str) -> str | None:
    """An 18-character ID number in ``text`` (check character as printed, not corrected)."""
    cleaned = text.upper().replace("×", "X")
    head, tail = cleaned[:-1].translate(_AS_DIGIT), cleaned[-1:]
    tail = tail if tail == "X" else tail.translate(_AS_DIGIT)
    found = _ID.search(re.sub(r"[^0-9X]", "", head + tail))
    return found.group() if found else None


def alnum(text: str, *, zero: str = "OQ") -> str:
    """Upper-case letters and digits only; I reads as 1 and the letters in ``zero`` as 0
    (VINs use none of I, O, Q; credit codes none of I, O)."""
    kept = re.sub(r"[^0-9A-Z]", "", text.upper()).replace("I", "1")
    return kept.translate(str.maketrans(zero, "0" * len(zero)))


def iso_date(text: str) -> str | None:
    """The first date in ``text`` as ``YYYY-MM-DD``."""
    found = _DATE.search(text.translate(_AS_DIGIT))
    if not found:
        return None
    y, m, d = (g for g in found.groups() if g is not None)
    if not (1 <= int(m) <= 12 and 1 <= int(d) <= 31):
        return None
    return f"{y}-{int(m):02d}-{int(d):02d}"


def ascii_punct(text: str) -> str:
    """Full-width brackets, commas, semicolons and colons as the platform writes them."""
    return text.translate(_PUNCT)


def only(text: str, allowed: str) -> str:
    """The characters of ``text`` that are in ``allowed``."""
    return "".join(c for c in text if c in allowed)


def plate(text: str) -> str | None:
    """A licence plate number in ``text``, without the separating dot."""
    cleaned = re.sub(r"[\s·•.\-_:：*]", "", text.upper())
    if len(cleaned) > 2:  # plates use no I or O: they are 1 and 0
        cleaned = cleaned[:2] + cleaned[2:].replace("O", "0").replace("I", "1")
    found = _PLATE.search(cleaned)
    return found.group() if found else None
