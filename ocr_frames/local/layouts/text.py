"""Free text: comm (printed lines in reading order) and menu (dish and price pairs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from ocr_frames.local._geometry import quad_dict
from ocr_frames.local._ocr import TextBox
from ocr_frames.local.layouts._base import Page, same_row

__all__ = ["parse_comm", "parse_menu"]

_PRICE: Final = re.compile(r"[¥￥]?(\d{1,5}(?:\.\d{1,2})?)(?:元|/份|/例|/位|/斤)?")
_NAME_PRICE: Final = re.compile(
    r"(.*?[^\d.¥￥])[.·…\-_]*[¥￥]?(\d{1,5}(?:\.\d{1,2})?)(?:元|/份|/例)?"
)
_NAME_CHARS: Final = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def parse_comm(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any]:
    """Every line in reading order with its quadrilateral, and the image size."""
    page = Page(boxes)
    items = []
    for token in page.reading_order(page.tokens):
        box = boxes[token.index]
        items.append({"text": box.text, **quad_dict(box.quad)})
    return {"items": items, "img_size": {"w": int(image.shape[1]), "h": int(image.shape[0])}}


def parse_menu(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """Dish names paired with the price printed after them on the same row, in reading
    order.  Each price takes the nearest unpaired name to its left that shares its row
    (robust to a photo's slant); a line holding both gives both.  None: no priced dish."""
    page = Page(boxes)
    tokens = page.reading_order(page.tokens)
    prices = [(t, m) for t in tokens if (m := _PRICE.fullmatch(t.text))]
    names = [t for t in tokens if not _PRICE.fullmatch(t.text) and _NAME_CHARS.search(t.text)]
    paired: dict[int, float] = {}
    for price, value in prices:
        left = [
            n
            for n in names
            if id(n) not in paired
            and n.right <= price.left + 0.5 * price.height
            and same_row(n, price, 0.3)
        ]
        if left:
            name = max(left, key=lambda n: n.right)
            paired[id(name)] = float(value.group(1))
    items: list[dict[str, Any]] = []
    for token in names:
        if id(token) in paired:
            items.append({"name": token.text.rstrip(".·…-_:："), "price": paired[id(token)]})
        elif (both := _NAME_PRICE.fullmatch(token.text)) and _NAME_CHARS.search(both.group(1)):
            items.append({"name": both.group(1).rstrip(".·…-_:："), "price": float(both.group(2))})
    return {"menu_items": items} if items else None
