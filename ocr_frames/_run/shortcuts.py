"""Per-kind shortcuts: ``of.idcard(series, **kw)`` is ``of.recognize(series, "idcard", **kw)``.

One per kind of :data:`ocr_frames.KINDS` (``tests/run/test_options.py`` checks that no
kind is missing); each takes ``engine``, ``cache_dir`` and the run options, as
:func:`ocr_frames.recognize` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from ocr_frames._engine.contract import Engine
from ocr_frames._run.options import RunKeywords, run_entry
from ocr_frames._run.pipeline import recognize
from ocr_frames._run.run import CacheDir
from ocr_frames.kinds import spec

if TYPE_CHECKING:
    from typing_extensions import Unpack

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
    def __call__(
        self,
        images: Any,
        *,
        engine: Engine | None = None,
        cache_dir: CacheDir = None,
        **options: Unpack[RunKeywords],
    ) -> pd.DataFrame: ...


def _shortcut(kind: str) -> Shortcut:
    @run_entry
    def run(
        images: Any,
        *,
        engine: Engine | None = None,
        cache_dir: CacheDir = None,
        **options: Unpack[RunKeywords],
    ) -> pd.DataFrame:
        return recognize(images, kind, engine=engine, cache_dir=cache_dir, **options)

    run.__name__ = run.__qualname__ = kind
    run.__doc__ = f"{spec(kind).title}: ``recognize(images, {kind!r}, **options)``."
    return run


idcard = _shortcut("idcard")
bankcard = _shortcut("bankcard")
driving = _shortcut("driving")
drivinglicense = _shortcut("drivinglicense")
bizlicense = _shortcut("bizlicense")
comm = _shortcut("comm")
platenum = _shortcut("platenum")
menu = _shortcut("menu")
