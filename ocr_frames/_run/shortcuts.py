"""Per-kind shortcuts: ``of.idcard(series, **kw)`` is ``of.recognize(series, "idcard", **kw)``."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from ocr_frames._run.pipeline import recognize

__all__ = [
    "bankcard",
    "bizlicense",
    "comm",
    "driving",
    "drivinglicense",
    "idcard",
    "menu",
    "platenum",
]


class Shortcut(Protocol):
    def __call__(self, images: Any, **kwargs: Any) -> pd.DataFrame: ...


def _shortcut(kind: str, what: str) -> Shortcut:
    def run(images: Any, **kwargs: Any) -> pd.DataFrame:
        return recognize(images, kind, **kwargs)

    run.__name__ = run.__qualname__ = kind
    run.__doc__ = f"{what}: ``recognize(images, {kind!r}, **kwargs)``."
    return run


idcard = _shortcut("idcard", "身份证, resident ID cards (front and back)")
bankcard = _shortcut("bankcard", "银行卡, bank card numbers")
driving = _shortcut("driving", "行驶证, vehicle registration certificates")
drivinglicense = _shortcut("drivinglicense", "驾驶证, driver's licences")
bizlicense = _shortcut("bizlicense", "营业执照, business licences")
comm = _shortcut("comm", "通用印刷体, printed text lines with positions")
platenum = _shortcut("platenum", "车牌, licence plates")
menu = _shortcut("menu", "菜单, menu dishes and prices")
