"""The public entry points in memory: ``recognize`` (pandas), ``arecognize`` (async) and
``recognize_arrow`` (pyarrow); :mod:`ocr_frames._run.output` streams to Parquet.

Each takes the run options of :class:`~ocr_frames._run.options.RunOptions` as keywords.
The machinery of one run (chunks, cache, claims, pool) lives in :mod:`ocr_frames._run.run`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine
from datetime import date
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pandas as pd
import pyarrow as pa

from ocr_frames._base.sync import run_sync
from ocr_frames._engine.contract import Engine
from ocr_frames._run.audit import Audit
from ocr_frames._run.options import DEFAULT_CHUNK_SIZE, RunKeywords, RunOptions, run_entry
from ocr_frames._run.quality import QUALITY_FIELDS, quality_schema
from ocr_frames._run.run import CacheDir, column_values, default_engine, stream_tables
from ocr_frames._run.summary import FirstError, RunSummary
from ocr_frames._tables.frames import pandas_dtype, to_pandas
from ocr_frames._tables.parquet import file_metadata, with_metadata
from ocr_frames.checks import add_checks, add_review
from ocr_frames.kinds import check_kind, schema
from ocr_frames.mask import mask_frame

if TYPE_CHECKING:
    from typing_extensions import Unpack

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "RunSummary",
    "arecognize",
    "audit_frame",
    "recognize",
    "recognize_arrow",
]


_RECOGNIZE_DOC = """Recognise every image in a column: one typed row per input row, same order.

    ``images``: a pandas Series, list, numpy or pyarrow array of local paths, ``Path``\\ s,
    ``http(s)://`` URLs or raw ``bytes`` (nulls allowed).  ``kind``: one of
    :data:`ocr_frames.KINDS`.  ``engine``: defaults to ``WeChatEngine.from_env()``.
    ``cache_dir``: ``None`` for the user cache dir, a path, or ``False`` to disable.
    The other keywords are the run options, the same for every entry point (see
    ``RunOptions`` in ``ocr_frames._run.options`` and the README's option table).

    Per-row problems become ``errcode``/``errmsg`` values; ``on_error="raise"`` raises
    the first one after the run (every answer is cached by then).  The run's
    :class:`RunSummary` is in ``df.attrs["ocr_frames"]``.  ``checks=True`` adds the KYC
    ``check_*`` columns of :mod:`ocr_frames.checks` (expiry judged ``as_of`` a date,
    default today); ``mask=True`` then masks names, ID, card and plate numbers
    (:mod:`ocr_frames.mask`) for sharing.  ``quality=True`` adds ``quality_score`` and the
    ``warn_*`` columns of each image.  With ``checks`` or ``quality``, ``needs_review``
    and ``review_reasons`` come last (:func:`ocr_frames.checks.add_review`; a
    ``<field>_conf`` below ``review_threshold`` is a reason).

    ``shrink`` (on by default) re-encodes what the platform cannot take as it is, instead
    of a row error: images of ``max_bytes`` or more (read up to 64 MB) become an upright
    (EXIF orientation) JPEG under the limit, and PDFs, multi-page TIFFs and HEIC photos
    one JPEG per page (:mod:`ocr_frames._sources.shrink`).  A document gives one row per
    page, the ``page`` being 1-based, with its input row's index repeated.  The ``sha256``
    column is always that of the bytes sent (the cache key); the original's digest is
    remembered in the cache directory so a rerun is a cache hit without re-encoding.
    Images that can be sent as they are are never re-encoded.

    Memory stays bounded: rows go through the run in chunks of at most ``chunk_size`` rows
    and ``chunk_bytes`` bytes of image data (16 MB; a document's pages are rendered as
    their chunk comes, not all at once), a few chunks at a time.

    URLs are downloaded under a URL policy (against SSRF, see
    :mod:`ocr_frames._http.urlpolicy`): link-local and cloud-metadata addresses are
    refused on every hop, redirects included (errcode 900013); ``url_private=False``
    refuses loopback and private networks too; ``url_allow_hosts=["images.internal"]``
    names hosts that are never checked.
    """


@run_entry
async def arecognize(
    images: Any,
    kind: str,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    **options: Unpack[RunKeywords],
) -> pd.DataFrame:
    """Async :func:`recognize` (for code already running an event loop)."""
    opts = RunOptions(**options)
    kind = check_kind(kind)
    errors = FirstError()
    table, index, summary = await _atable(images, kind, engine, cache_dir, opts, errors)
    df = to_pandas(table, index=index)
    df.attrs["ocr_frames"] = summary.to_dict()
    if opts.on_error == "raise":
        errors.raise_first(summary, df.index)
    return audit_frame(df, kind, opts)


def audit_frame(df: pd.DataFrame, kind: str, opts: RunOptions) -> pd.DataFrame:
    """``df`` (a whole ``kind`` table in memory) checked, reviewed, then masked, as
    ``opts`` say; ``attrs`` kept.  With ``quality``, a frame without the quality columns
    (Dask's empty ``meta``) gets them, null: only a run can judge the images."""
    if not opts.audited:
        return df
    attrs = dict(df.attrs)
    if opts.quality and QUALITY_FIELDS[0].name not in df.columns:
        df = df.copy()
        for field in QUALITY_FIELDS:
            df[field.name] = pd.array([None] * len(df), dtype=pandas_dtype(field.type))
    if opts.checks:
        df = add_checks(df, kind, as_of=opts.as_of)
    if opts.reviewed:
        df = add_review(df, threshold=opts.review_threshold)
    if opts.mask:
        df = mask_frame(df, kind)
    df.attrs.update(attrs)
    return df


async def _atable(
    images: Any,
    kind: str,
    engine: Engine | None,
    cache_dir: CacheDir,
    opts: RunOptions,
    errors: FirstError,
    audit: Audit | None = None,
) -> tuple[pa.Table, pd.Index | None, RunSummary]:
    values, index = column_values(images)
    engine = engine or default_engine()
    summary = RunSummary(kind=kind, engine=engine.identity)
    tables: list[pa.Table] = []
    positions: list[int] = []
    run = stream_tables(values, engine, cache_dir, kind, opts, summary)
    async with contextlib.aclosing(run) as chunks:  # the run's cleanup now, whatever happens
        async for table, _, chunk_positions in chunks:
            errors.note(table)
            out = audit.chunk(table) if audit is not None else table
            if out is not None:
                tables.append(out)
            positions.extend(chunk_positions)
    if audit is not None:
        async with contextlib.aclosing(audit.finish()) as checked:
            tables.extend([table async for table in checked])
    base = schema(kind)
    empty = (quality_schema(base) if opts.quality else base).empty_table()
    table = pa.concat_tables(tables) if tables else empty
    if not tables and audit is not None:
        table = audit.schema(empty.schema).empty_table()
    if index is not None and len(positions) != len(index):  # document pages: repeat the index
        index = index.take(positions)
    meta = file_metadata(kind, engine.identity, {"summary": summary.to_dict()})
    table = table.replace_schema_metadata(with_metadata(table.schema, meta).metadata)
    return table, index, summary


@run_entry
def recognize_arrow(
    images: Any,
    kind: str,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    **options: Unpack[RunKeywords],
) -> pa.Table:
    """:func:`recognize` returning a ``pyarrow.Table`` with exactly ``schema(kind)``
    (no pandas on the way; the run summary is in the ``ocr_frames`` schema metadata).

    With ``quality`` / ``checks`` / ``mask``, the quality and ``check_*`` columns follow
    (as :func:`ocr_frames.checks.add_checks` makes the latter), then ``needs_review`` and
    ``review_reasons``, and masked columns are text; they are computed chunk by chunk
    (see :mod:`ocr_frames._run.audit`).
    """
    opts = RunOptions(**options)
    kind = check_kind(kind)
    audit = None
    if opts.audited:
        audit = Audit(
            kind,
            checks=opts.checks,
            mask=opts.mask,
            as_of=opts.as_of or date.today(),
            review=opts.review_threshold if opts.reviewed else None,
        )
    errors = FirstError()
    table, _, summary = run_sync(_atable(images, kind, engine, cache_dir, opts, errors, audit))
    if opts.on_error == "raise":
        errors.raise_first(summary)
    return table


def _blocking(func: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """``func`` run to completion for synchronous callers (see :func:`run_sync`)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(func(*args, **kwargs))

    return run


#: Same signature as :func:`arecognize` (one list of options, not two to keep in step).
recognize = _blocking(arecognize)
recognize.__name__ = recognize.__qualname__ = "recognize"
recognize.__doc__ = _RECOGNIZE_DOC
