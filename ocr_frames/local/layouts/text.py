"""Free text: comm (printed lines in reading order) and menu (dish and price pairs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import numpy as np

from ocr_frames.local._geometry import quad_dict
from ocr_frames.local._ocr import TextBox
from ocr_frames.local.layouts._base import Page, Token, row_share, same_row
from ocr_frames.local.layouts._columns import reading_order

__all__ = ["parse_comm", "parse_menu"]

_PRICE: Final = re.compile(r"[¥￥]?(\d{1,5}(?:\.\d{1,2})?)(?:元|/份|/例|/位|/斤)?")
_NAME_PRICE: Final = re.compile(
    r"(.*?[^\d.¥￥])[.·…\-_]*[¥￥]?(\d{1,5}(?:\.\d{1,2})?)(?:元|/份|/例)?"
)
_NAME_CHARS: Final = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def parse_comm(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any]:
    """Every line in reading order (column by column on pages set in columns) with its
    quadrilateral, and the image size."""
    page = Page(boxes)
    items = []
    for token in reading_order(page.tokens):
        box = boxes[token.index]
        items.append({"text": box.text, **quad_dict(box.quad)})
    return {"items": items, "img_size": {"w": int(image.shape[1]), "h": int(image.shape[0])}}


def _name(text: str) -> str:
    return text.rstrip(".·…-_:：")


def parse_menu(boxes: Sequence[TextBox], image: np.ndarray) -> dict[str, Any] | None:
    """Dish names paired with the price printed after them on the same row, in reading
    order (column by column on menus set in columns).  Each price takes the nearest
    unpaired name to its left that shares its row (robust to a photo's slant); a line
    holding both gives both.  None: no priced dish."""
    page = Page(boxes)
    tokens = page.reading_order(page.tokens)
    prices = [(t, m) for t in tokens if (m := _PRICE.fullmatch(t.text))]
    names = [t for t in tokens if not _PRICE.fullmatch(t.text) and _NAME_CHARS.search(t.text)]
    paired: dict[int, tuple[Token, float]] = {}
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
            paired[id(name)] = (price, float(value.group(1)))
    # each dish as one box from its name to its price, so that a menu's columns are the
    # dishes' columns (a name column and a price column are one column of dishes)
    units: list[Token] = []
    items: dict[int, dict[str, Any]] = {}
    for token in names:
        if id(token) in paired:
            price, amount = paired[id(token)]
            unit = replace(
                token,
                right=max(token.right, price.right),
                top=min(token.top, price.top),
                bottom=max(token.bottom, price.bottom),
            )
            # how squarely the price sits on the name's row: a photo's slant can pair a
            # price with the next row's dish (read by the confidence, then dropped)
            share = round(row_share(token, price), 3)
            items[id(unit)] = {"name": _name(token.text), "price": amount, "_row": share}
        else:
            unit = token
            both = _NAME_PRICE.fullmatch(token.text)
            if both and _NAME_CHARS.search(both.group(1)):
                items[id(unit)] = {"name": _name(both.group(1)), "price": float(both.group(2))}
        units.append(unit)
    ordered = [
        items[id(u)] for u in reading_order(units, lambda u: id(u) not in items) if id(u) in items
    ]
    return {"menu_items": ordered} if ordered else None
