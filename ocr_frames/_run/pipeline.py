"""The public entry points: ``recognize`` (pandas), ``arecognize`` (async),
``recognize_arrow`` (pyarrow), ``recognize_to_parquet`` (streamed to disk),
``write_parquet`` and ``finish_parquet`` (checks, masking, report on a written file).

The machinery of one run (chunks, cache, claims, pool) lives in :mod:`ocr_frames._run.run`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import date
from typing import Any, Literal, ParamSpec, TypeVar

import pandas as pd
import pyarrow as pa

from ocr_frames._base.files import DEFAULT_FILE_MODE, check_file_mode
from ocr_frames._base.sync import run_sync
from ocr_frames._engine.engine import DEFAULT_CONCURRENCY, Engine, Limiter, RetryPolicy
from ocr_frames._errors import OCRError, QuotaExceeded, error_for_code
from ocr_frames._run.run import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_SIZE,
    CacheDir,
    Options,
    RunSummary,
    column_values,
    default_engine,
    make_options,
    stream_tables,
)
from ocr_frames._sources.sources import DEFAULT_DOWNLOAD_TIMEOUT, MAX_IMAGE_BYTES
from ocr_frames._tables.flatten import to_pandas
from ocr_frames._tables.parquet import AtomicParquetWriter, file_metadata, with_metadata
from ocr_frames.kinds import schema

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "RunSummary",
    "arecognize",
    "recognize",
    "recognize_arrow",
    "recognize_to_parquet",
    "write_parquet",
]


def _raise_for_errors(df: pd.DataFrame) -> None:
    failed = df[df["errcode"] != 0]
    if failed.empty:
        return
    first = failed.iloc[0]
    exc = error_for_code(int(first["errcode"]), str(first["errmsg"]))
    exc.message = (
        f"{len(failed)} of {len(df)} rows failed; first at index {failed.index[0]!r}: {exc.message}"
    )
    raise exc


_RECOGNIZE_DOC = """Recognise every image in a column: one typed row per input row, same order.

    ``images``: a pandas Series, list, numpy or pyarrow array of local paths, ``Path``\\ s,
    ``http(s)://`` URLs or raw ``bytes`` (nulls allowed).  ``kind``: one of
    :data:`ocr_frames.KINDS`.  ``engine``: defaults to ``WeChatEngine.from_env()``.
    ``cache_dir``: ``None`` for the user cache dir, a path, or ``False`` to disable.
    Per-row problems become ``errcode``/``errmsg`` values; ``on_error="raise"`` raises
    the first one after the run (every answer is cached by then).  The run's
    :class:`RunSummary` is in ``df.attrs["ocr_frames"]``.  ``checks=True`` adds the KYC
    ``check_*`` columns of :mod:`ocr_frames.checks` (expiry judged ``as_of`` a date,
    default today); ``mask=True`` then masks names, ID, card and plate numbers
    (:mod:`ocr_frames.mask`) for sharing.

    ``shrink`` (on by default) re-encodes what the platform cannot take as it is, instead
    of a row error: images of ``max_bytes`` or more (read up to 64 MB) become an upright
    (EXIF orientation) JPEG under the limit, and PDFs, multi-page TIFFs and HEIC photos
    one JPEG per page (:mod:`ocr_frames._sources.shrink`).  A document gives one row per page, the
    ``page`` being 1-based, with its input row's index repeated.  The ``sha256`` column is
    always that of the bytes sent (the cache key); the original's digest is remembered in
    the cache directory so a rerun is a cache hit without re-encoding.  Images that can be
    sent as they are are never re-encoded.

    Memory stays bounded: rows go through the run in chunks of at most ``chunk_size`` rows
    and ``chunk_bytes`` bytes of image data (16 MB; a document's pages are rendered as
    their chunk comes, not all at once), a few chunks at a time.

    URLs are downloaded under a URL policy (against SSRF, see :mod:`ocr_frames._http.urlpolicy`):
    link-local and cloud-metadata addresses are refused on every hop, redirects included
    (errcode 900013); ``url_private=False`` refuses loopback and private networks too;
    ``url_allow_hosts=["images.internal"]`` names hosts that are never checked.
    """


async def arecognize(
    images: Any,
    kind: str,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: float | Limiter | None = None,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    on_error: Literal["keep", "raise"] = "keep",
    url_mode: Literal["download", "passthrough"] = "download",
    max_bytes: int = MAX_IMAGE_BYTES,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    shrink: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    url_allow_hosts: Sequence[str] | None = None,
    url_private: bool = True,
    checks: bool = False,
    as_of: date | None = None,
    mask: bool = False,
) -> pd.DataFrame:
    """Async :func:`recognize` (for code already running an event loop)."""
    opts = make_options(
        kind,
        concurrency,
        rate_limit,
        retry,
        url_mode,
        max_bytes,
        chunk_size,
        progress,
        download_timeout,
        shrink=shrink,
        chunk_bytes=chunk_bytes,
        storage_options=storage_options,
        url_allow_hosts=url_allow_hosts,
        url_private=url_private,
    )
    table, index, summary = await _atable(images, engine, cache_dir, opts)
    df = to_pandas(table, index=index)
    df.attrs["ocr_frames"] = summary.to_dict()
    if on_error == "raise":
        if summary.stopped:
            raise QuotaExceeded(summary.line())
        _raise_for_errors(df)
    return _finish(df, opts.kind, checks=checks, as_of=as_of, mask=mask)


def _finish(
    df: pd.DataFrame, kind: str, *, checks: bool, as_of: date | None, mask: bool
) -> pd.DataFrame:
    """Add the audit ``check_*`` columns, then mask personal data (in that order: the
    checks need the real numbers)."""
    attrs = dict(df.attrs)
    if checks:
        from ocr_frames.checks import add_checks

        df = add_checks(df, kind, as_of=as_of)
    if mask:
        from ocr_frames.mask import mask_frame

        df = mask_frame(df, kind)
    df.attrs.update(attrs)
    return df


def finish_parquet(
    path: Any,
    kind: str,
    *,
    checks: bool = False,
    as_of: date | None = None,
    mask: bool = False,
    report: Any = None,
    file_mode: int = DEFAULT_FILE_MODE,
) -> pd.DataFrame:
    """Post-process a file written by :func:`recognize_to_parquet` in place (atomically):
    add ``check_*`` columns, write an HTML audit report (PII masked), mask personal data.

    Checks that compare rows (duplicates) need the whole table, so it is read into memory.
    """
    df = pd.read_parquet(path)
    df.attrs["ocr_frames"] = {"kind": kind}
    if checks or report is not None:
        from ocr_frames.checks import add_checks, report_html

        df = add_checks(df, kind, as_of=as_of)
        if report is not None:
            report_html(df, kind, path=report, as_of=as_of, file_mode=file_mode)
    df = _finish(df, kind, checks=False, as_of=as_of, mask=mask)
    write_parquet(df, path, kind=kind, file_mode=file_mode)
    return df


async def _atable(
    images: Any, engine: Engine | None, cache_dir: CacheDir, opts: Options
) -> tuple[pa.Table, pd.Index | None, RunSummary]:
    values, index = column_values(images)
    engine = engine or default_engine()
    summary = RunSummary(kind=opts.kind, engine=engine.identity)
    tables: list[pa.Table] = []
    positions: list[int] = []
    run = stream_tables(values, engine, cache_dir, opts, summary)
    async with contextlib.aclosing(run) as chunks:  # the run's cleanup now, whatever happens
        async for table, _, chunk_positions in chunks:
            tables.append(table)
            positions.extend(chunk_positions)
    table = pa.concat_tables(tables) if tables else schema(opts.kind).empty_table()
    if index is not None and len(positions) != len(index):  # document pages: repeat the index
        index = index.take(positions)
    meta = file_metadata(opts.kind, engine.identity, {"summary": summary.to_dict()})
    table = table.replace_schema_metadata(with_metadata(table.schema, meta).metadata)
    return table, index, summary


def recognize_arrow(
    images: Any,
    kind: str,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: float | Limiter | None = None,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    url_mode: Literal["download", "passthrough"] = "download",
    max_bytes: int = MAX_IMAGE_BYTES,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    shrink: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    url_allow_hosts: Sequence[str] | None = None,
    url_private: bool = True,
) -> pa.Table:
    """:func:`recognize` returning a ``pyarrow.Table`` with exactly ``schema(kind)``
    (no pandas on the way; the run summary is in the ``ocr_frames`` schema metadata)."""
    opts = make_options(
        kind,
        concurrency,
        rate_limit,
        retry,
        url_mode,
        max_bytes,
        chunk_size,
        progress,
        download_timeout,
        shrink=shrink,
        chunk_bytes=chunk_bytes,
        storage_options=storage_options,
        url_allow_hosts=url_allow_hosts,
        url_private=url_private,
    )
    table, _, _ = run_sync(_atable(images, engine, cache_dir, opts))
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


def _source_column(values: Sequence[Any]) -> pa.Array:
    out: list[str | None] = []
    for v in values:
        text = v if isinstance(v, str) else os.fsdecode(v) if isinstance(v, os.PathLike) else None
        # undecodable path bytes (surrogate escapes) become U+FFFD: Parquet text is UTF-8
        out.append(
            None
            if text is None
            else text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        )
    return pa.array(out, type=pa.string())


def output_schema(kind: str) -> pa.Schema:
    """Schema of a Parquet file written by :func:`recognize_to_parquet`."""
    return schema(kind).insert(0, pa.field("source", pa.string()))


async def _arecognize_to_parquet(
    images: Any,
    path: Any,
    engine: Engine | None,
    cache_dir: CacheDir,
    opts: Options,
    file_mode: int = DEFAULT_FILE_MODE,
) -> RunSummary:
    values, _ = column_values(images)
    engine = engine or default_engine()
    summary = RunSummary(kind=opts.kind, engine=engine.identity, output=str(path))
    meta = file_metadata(opts.kind, engine.identity)
    with AtomicParquetWriter(
        path, output_schema(opts.kind), metadata=meta, file_mode=file_mode
    ) as writer:
        run = stream_tables(values, engine, cache_dir, opts, summary)
        async with contextlib.aclosing(run) as chunks:  # a failed write: the run's cleanup now
            async for table, chunk_values, _ in chunks:
                writer.write(table.add_column(0, "source", _source_column(chunk_values)))
    return summary


def recognize_to_parquet(
    images: Any,
    kind: str,
    path: Any,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: float | Limiter | None = None,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    url_mode: Literal["download", "passthrough"] = "download",
    max_bytes: int = MAX_IMAGE_BYTES,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    shrink: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    url_allow_hosts: Sequence[str] | None = None,
    url_private: bool = True,
    file_mode: int = DEFAULT_FILE_MODE,
) -> RunSummary:
    """Stream results to a Parquet file (bounded memory), renamed into place at the end.

    The file holds personal data, so it is created with mode 0600 whatever the umask;
    ``file_mode=0o644`` makes it readable by others.

    The file has a ``source`` column (the input value as text) before the kind's columns,
    and ``ocr_frames`` metadata (kind, engine identity, library version, creation time).
    A run stopped by quota still writes every row (the rest with errcode 900011): check
    ``summary.stopped``.
    """
    opts = make_options(
        kind,
        concurrency,
        rate_limit,
        retry,
        url_mode,
        max_bytes,
        chunk_size,
        progress,
        download_timeout,
        shrink=shrink,
        chunk_bytes=chunk_bytes,
        storage_options=storage_options,
        url_allow_hosts=url_allow_hosts,
        url_private=url_private,
    )
    check_file_mode(file_mode)
    return run_sync(_arecognize_to_parquet(images, path, engine, cache_dir, opts, file_mode))


def write_parquet(
    df: pd.DataFrame, path: Any, *, kind: str | None = None, file_mode: int = DEFAULT_FILE_MODE
) -> None:
    """Write a result DataFrame to Parquet with its kind's explicit schema, atomically
    (mode 0600 unless ``file_mode`` says otherwise: the table holds personal data)."""
    meta_attrs = df.attrs.get("ocr_frames", {}) if isinstance(df.attrs, dict) else {}
    kind = kind or meta_attrs.get("kind")
    if kind is None:
        raise OCRError("write_parquet: cannot tell the kind; pass kind=")
    base = schema(kind)
    # drop pandas' own metadata: its ArrowDtype names ("list<...>[pyarrow]") do not
    # round-trip through pd.read_parquet; the explicit schema below says it all
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in base.names and column.type != base.field(name).type:
            # a masked date ("1980-**-**") cannot be cast back: it stays text
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = column.cast(base.field(name).type)
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    meta = file_metadata(kind, meta_attrs.get("engine"))
    with AtomicParquetWriter(path, table.schema, metadata=meta, file_mode=file_mode) as writer:
        writer.write(table)
