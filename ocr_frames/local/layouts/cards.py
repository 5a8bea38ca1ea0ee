"""Small cards and plates: resident ID card (both sides), bank card, licence plate."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.local._ocr import TextBox
from ocr_frames.local.layouts._base import Page
from ocr_frames.local.layouts._fix import id_number, only, plate, simplified

__all__ = ["parse_bankcard", "parse_idcard", "parse_platenum"]

ID_LABELS: Final = {
    "姓名": "name",
    "性别": "gender",
    "民族": "nationality",
    "出生": "birth",
    "住址": "addr",
    "公民身份号码": "id",
    "签发机关": "authority",
    "有效期限": "valid_date",
}
_FRONT: Final = frozenset({"name", "gender", "nationality", "birth", "addr", "id"})
_VALIDITY: Final = re.compile(
    r"(\d{4})\D?(\d{2})\D?(\d{2})\D{0,3}?(?:(\d{4})\D?(\d{2})\D?(\d{2})|(长期))"
)
_DIGIT_LIKE: Final = str.maketrans("OoDIl|", "000111")


def parse_idcard(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """Front: name, id, addr, gender, nationality; back: valid_date. None: no ID card."""
    page = Page(simplified(boxes), ID_LABELS, inside={"gender", "nationality", "birth"})
    present = {t.label for t in page.tokens if t.label is not None}
    if "valid_date" in present:
        found = _VALIDITY.search(
            (page.value("valid_date", below=True) or "").translate(_DIGIT_LIKE)
        )
        if found:
            start = "".join(found.groups()[:3])
            end = found.group(7) or "".join(found.groups()[3:6])
            return {"type": "Back", "valid_date": f"{start}-{end}"}
    if len(present & _FRONT) < 3:
        return None
    answer: dict[str, Any] = {"type": "Front"}
    answer["name"] = page.value("name") or ""
    page.value("birth")
    number = id_number(page.value("id", below=True) or "")
    if number is None:  # the label was not read: any 18-character number on the card
        number = next((n for t in page.free() if (n := id_number(t.text))), None)
    answer["id"] = number or ""
    answer["addr"] = page.value("addr", multiline=True) or ""
    answer["gender"] = only(page.value("gender") or "", "男女")[:1]
    answer["nationality"] = page.value("nationality") or ""
    return answer


def parse_bankcard(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """The card number: the longest run of 13-19 digits on one row. None: no card."""
    page = Page(boxes)
    best = ""
    for row in page.rows(page.tokens):
        text = "".join(
            t.text.translate(_DIGIT_LIKE) if _mostly_digits(t.text) else t.text for t in row
        )
        for run in re.findall(r"\d{13,19}", text):
            if len(run) > len(best):
                best = run
    return {"number": best} if best else None


def _mostly_digits(text: str) -> bool:
    return sum(c.isdigit() for c in text) >= 0.7 * max(1, len(text))


def parse_platenum(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """The plate number without its dot; the tallest plausible plate wins. None: no plate."""
    page = Page(simplified(boxes))
    candidates: list[tuple[float, str]] = []
    for row in page.rows(page.tokens):
        for i in range(len(row)):  # a plate read as one line, or split in two or three
            for j in range(i + 1, min(len(row), i + 3) + 1):
                number = plate("".join(t.text for t in row[i:j]))
                if number:
                    candidates.append((max(t.height for t in row[i:j]), number))
                    break
    if not candidates:
        return None
    return {"number": max(candidates)[1]}
