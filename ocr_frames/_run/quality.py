"""The image-quality columns of a run (``quality=True``): ``quality_score`` and ``warn_*``.

Each row's image is judged by :func:`ocr_frames._quality.assess`: the bytes the row sends
(an image as it is, or as ``shrink`` re-encoded it; a document's page as rendered), so a
PDF gets one judgement per page.  The bytes are at hand before the call, also for a cache
hit (they are read to be hashed), so the judging runs while the chunk's calls are in
flight, in :data:`QUALITY_THREADS` threads of the run's own (about 50 ms an image: never
on the event loop).  A run with ``quality`` does not use the ``original → sent`` digests
of :mod:`ocr_frames._cache.derived`: they spare re-encoding the bytes that the judging
needs.

The columns come after the kind's own (and ``page``, ``errcode``...), in this order:

* ``quality_score`` (int32, 0-100): null when the row has no image to judge (a read error,
  a URL passed through as ``img_url``) or the bytes are not a decodable image;
* the :data:`~ocr_frames._quality.WARNINGS` (bool), null when the image was not judged;
  ``warn_incomplete`` is also True when the answer is ok but a key field of the kind
  (:meth:`~ocr_frames.kinds.KindSpec.keys_for` its side) is missing or blank, and
  ``warn_greyscale_copy`` is raised only for certificate kinds (ID, bank card, licences).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._quality import WARNINGS, Quality, assess
from ocr_frames._sources.source import Source
from ocr_frames.kinds import spec

__all__ = ["QUALITY_FIELDS", "QUALITY_THREADS", "Assessor", "quality_columns", "quality_schema"]

log = logging.getLogger("ocr_frames")

#: Threads judging images, the run's own.  Two: the judging releases the GIL in numpy and
#: OpenCV, and a machine running the local engine beside it has few cores to spare.
QUALITY_THREADS: Final = 2
QUALITY_FIELDS: Final = (
    pa.field("quality_score", pa.int32()),
    *(pa.field(name, pa.bool_()) for name in WARNINGS),
)
INCOMPLETE: Final = "warn_incomplete"

Pending = list["asyncio.Future[Quality | None] | None"]


def quality_schema(base: pa.Schema) -> pa.Schema:
    """``base`` with the quality columns appended."""
    for field in QUALITY_FIELDS:
        base = base.append(field)
    return base


def _judge(data: bytes) -> Quality | None:
    """:func:`assess`, whose surprises never sink the run: an unjudged image."""
    try:
        return assess(data)
    except Exception as exc:  # one odd image is a null score, not a failed run
        log.warning("image quality not assessed: %s: %s", type(exc).__name__, exc)
        return None


class Assessor:
    """Judges the images of a run's rows in its own threads (see the module docstring)."""

    def __init__(self, threads: int = QUALITY_THREADS) -> None:
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None  # started by the first image

    def submit(self, rows: Sequence[Source]) -> Pending:
        """Start judging each row's bytes; None for a row without any."""
        loop = asyncio.get_running_loop()
        pending: Pending = []
        for row in rows:
            if row.data is None:
                pending.append(None)
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="ocr-quality")
            pending.append(loop.run_in_executor(self._pool, functools.partial(_judge, row.data)))
        return pending

    @staticmethod
    async def results(pending: Pending) -> list[Quality | None]:
        """The judgements of :meth:`submit`, in row order."""
        return [None if job is None else await job for job in pending]

    def close(self) -> None:
        """Stop the threads; judgements not started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _missing_key(table: pa.Table, kind: str) -> np.ndarray:
    """Rows with an ok answer that lacks a key field of ``kind`` (null or blank)."""
    missing = np.zeros(table.num_rows, dtype=bool)
    kind_spec = spec(kind)
    if "errcode" not in table.column_names:
        return missing
    back = np.zeros(table.num_rows, dtype=bool)
    if kind_spec.side_field in table.column_names:  # an ID card's back has other keys
        side = pc.fill_null(pc.equal(table[kind_spec.side_field].cast(pa.string()), "Back"), False)
        back = np.asarray(side.to_numpy(zero_copy_only=False), dtype=bool)
    for keys, rows in ((kind_spec.keys_for("Front"), ~back), (kind_spec.keys_for("Back"), back)):
        for name in keys:
            if name not in table.column_names:
                continue
            text = pc.utf8_trim_whitespace(table[name].cast(pa.string()))
            blank = pc.fill_null(pc.equal(text, ""), True)  # null: missing
            missing |= np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool) & rows
    ok = pc.fill_null(pc.equal(table["errcode"], 0), False)
    missing &= np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    return missing


GREYSCALE_COPY: Final = "warn_greyscale_copy"


def quality_columns(table: pa.Table, kind: str, assessed: Sequence[Quality | None]) -> pa.Table:
    """``table`` (a ``kind`` chunk) with the quality columns of its rows appended."""
    if len(assessed) != table.num_rows:
        raise ValueError(f"{len(assessed)} judgements for {table.num_rows} rows")
    if not spec(kind).certificate:  # a black-and-white page or menu is no copy of anything
        assessed = [None if q is None else q.without((GREYSCALE_COPY,)) for q in assessed]
    scores = [None if q is None else int(q.score) for q in assessed]
    table = table.append_column(QUALITY_FIELDS[0], pa.array(scores, type=pa.int32()))
    incomplete = _missing_key(table, kind)
    for field in QUALITY_FIELDS[1:]:
        flags = [None if q is None else field.name in q.warnings for q in assessed]
        if field.name == INCOMPLETE:
            flags = [True if m else f for f, m in zip(flags, incomplete, strict=True)]
        table = table.append_column(field, pa.array(flags, type=pa.bool_()))
    return table
