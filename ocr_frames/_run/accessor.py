"""The pandas accessor ``df.ocr``: a thin delegate to the plain functions.

>>> import ocr_frames  # registers the accessor                 # doctest: +SKIP
>>> out = df.ocr.recognize("path", kind="idcard", engine=engine)  # doctest: +SKIP
>>> out[["path", "name", "id", "errcode"]]                         # doctest: +SKIP

``df.ocr.recognize(column, kind, **options)`` is ``ocr_frames.recognize(df[column], kind,
**options)`` (the same ``engine``, ``cache_dir`` and run options) with the result columns
appended to ``df`` (same index, same order, matched by position so a duplicated index is
fine).  The functions are the real API and work without
the accessor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from ocr_frames._engine.contract import Engine
from ocr_frames._run.options import RunKeywords, run_entry
from ocr_frames._run.pipeline import recognize
from ocr_frames._run.run import CacheDir
from ocr_frames._tables.frames import explode
from ocr_frames.review import RowView, show

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DEFAULT_ACCESSOR_NAME", "OCRAccessor", "join_results", "register_accessor"]

#: The attribute name under which :func:`register_accessor` puts the accessor.
DEFAULT_ACCESSOR_NAME: Final = "ocr"


def join_results(frame: pd.DataFrame, results: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """``frame`` followed by the columns of ``results`` (named ``prefix + column``).

    Rows are matched by position (``results`` comes from ``frame``'s own rows), so a
    duplicated index never multiplies rows as an index join would.
    """
    if len(frame) != len(results):  # multi-page documents: one result row per page
        if not frame.index.is_unique:
            raise ValueError(
                "documents with several pages give several rows; joining them back needs a "
                "unique index (call reset_index() first)"
            )
        frame = frame.loc[results.index]  # the results repeat the input index per page
    results = results.add_prefix(prefix) if prefix else results
    clash = [c for c in results.columns if c in frame.columns]
    if clash:
        raise ValueError(
            f"columns {clash} are already in the DataFrame: pass prefix= (e.g. prefix='ocr_') "
            "to name the result columns apart"
        )
    joined: pd.DataFrame = pd.concat(
        [frame.reset_index(drop=True), results.reset_index(drop=True)], axis=1
    )
    joined.index = frame.index
    return joined


class OCRAccessor:
    """``df.ocr``: recognise a column of images and keep the rest of the frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    @run_entry
    def recognize(
        self,
        column: str,
        kind: str,
        *,
        prefix: str = "",
        engine: Engine | None = None,
        cache_dir: CacheDir = None,
        **options: Unpack[RunKeywords],
    ) -> pd.DataFrame:
        """``df`` with the result columns of ``ocr_frames.recognize(df[column], kind,
        engine=..., cache_dir=..., **options)`` appended (optionally named
        ``prefix + column``).

        ``options`` are the run options of :func:`ocr_frames.recognize` (``concurrency``,
        ``rate_limit``, ``on_error``, ``checks``...).  The run summary is in
        ``attrs["ocr_frames"]``.  Raises ValueError when a result column name is already
        taken (pass ``prefix=``).
        """
        if column not in self._frame.columns:
            raise KeyError(f"no column {column!r} in the DataFrame")
        results = recognize(
            self._frame[column], kind, engine=engine, cache_dir=cache_dir, **options
        )
        joined = join_results(self._frame, results, prefix)
        joined.attrs = {"ocr_frames": results.attrs.get("ocr_frames", {})}
        return joined

    def show(self, i: int, **options: Any) -> RowView:
        """Row ``i`` with its image, boxes, fields and reasons (:func:`ocr_frames.show`)."""
        return show(self._frame, i, **options)

    def explode(self, column: str) -> pd.DataFrame:
        """One row per item of the list column ``column`` (:func:`ocr_frames.explode`)."""
        return explode(self._frame, column)


def register_accessor(name: str = DEFAULT_ACCESSOR_NAME) -> None:
    """Make ``DataFrame.<name>`` the :class:`OCRAccessor` (``import ocr_frames`` does it
    for ``"ocr"``).  Registering again is a no-op, so no pandas warning is raised."""
    current = pd.DataFrame.__dict__.get(name)
    if getattr(current, "_accessor", None) is OCRAccessor:
        return
    pd.api.extensions.register_dataframe_accessor(name)(OCRAccessor)


register_accessor()  # importing this module (``import ocr_frames`` does) registers ``df.ocr``
