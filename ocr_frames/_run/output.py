"""Results to Parquet: ``recognize_to_parquet`` (a run streamed to a file, checks,
review, masking, the HTML report and the rows to review on the way) and ``write_parquet``
(a result DataFrame).

Each file is written once, atomically (:class:`~ocr_frames._tables.parquet.AtomicParquetWriter`):
with ``checks``, the chunks wait in a private temporary file beside it until the
duplicate checks can be judged (see :mod:`ocr_frames._run.audit`), then go to the output
in one pass.  ``review_path`` gets, in the same pass, the rows whose ``needs_review`` is
true, through a writer of its own.  An interrupt at any point, that pass included, aborts
the writers: no file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ocr_frames._base.files import DEFAULT_FILE_MODE, check_file_mode
from ocr_frames._base.sync import run_sync
from ocr_frames._engine.contract import Engine
from ocr_frames._errors import ConfigurationError
from ocr_frames._run.audit import Audit
from ocr_frames._run.options import RunKeywords, RunOptions, run_entry
from ocr_frames._run.quality import quality_schema
from ocr_frames._run.run import CacheDir, column_values, default_engine, stream_tables
from ocr_frames._run.summary import FirstError, RunSummary
from ocr_frames._tables.parquet import AtomicParquetWriter, file_metadata, write_parquet
from ocr_frames.kinds import check_kind, schema

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["check_file_path", "output_schema", "recognize_to_parquet", "write_parquet"]


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


def check_file_path(path: Any, name: str, *, folder_made: bool = False) -> Path:
    """``path`` as a file this process can create, checked before anything is sent:
    ConfigurationError for a directory, or a folder that is missing (unless
    ``folder_made``: the writer makes it) or not writable."""
    try:
        target = Path(path)
    except TypeError:
        raise ConfigurationError(f"{name} must be a file path, not {path!r}") from None
    if target.is_dir():
        raise ConfigurationError(f"{name} is a directory, not a file: {target}")
    folder = target.parent
    if folder_made and not folder.exists():
        return target
    if not folder.is_dir():
        raise ConfigurationError(f"{name}: no such directory: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{name}: cannot create a file in {folder}")
    return target


def output_schema(kind: str, *, quality: bool = False) -> pa.Schema:
    """Schema of a Parquet file written by :func:`recognize_to_parquet` (without
    ``checks``/``mask``, which append ``check_*`` columns and make masked columns text;
    ``quality`` appends the quality columns)."""
    base = schema(kind).insert(0, pa.field("source", pa.string()))
    return quality_schema(base) if quality else base


class _Writers:
    """The output's writer and, with a ``review_path``, the writer of the rows to review:
    both committed when the ``with`` block ends well, both aborted otherwise."""

    def __init__(self, stack: contextlib.ExitStack, path: Any, review_path: Any, **kw: Any):
        self.main = stack.enter_context(AtomicParquetWriter(path, **kw))
        self.review = (
            stack.enter_context(AtomicParquetWriter(review_path, **kw))
            if review_path is not None
            else None
        )

    def write(self, table: pa.Table) -> None:
        self.main.write(table)
        if self.review is not None:
            self.review.write(table.filter(pc.fill_null(table["needs_review"], False)))


async def _arecognize_to_parquet(
    images: Any,
    kind: str,
    path: Any,
    engine: Engine | None,
    cache_dir: CacheDir,
    opts: RunOptions,
    audit: Audit,
    file_mode: int,
    review_path: Any = None,
) -> tuple[RunSummary, FirstError]:
    values, _ = column_values(images)
    engine = engine or default_engine()
    summary = RunSummary(kind=kind, engine=engine.identity, output=str(path))
    # how the images were turned into the bytes sent: the review app rebuilds them
    meta = file_metadata(kind, engine.identity, {"max_bytes": opts.max_bytes})
    errors = FirstError()
    try:
        out_schema = audit.schema(output_schema(kind, quality=opts.quality))
        with contextlib.ExitStack() as stack:
            writer = _Writers(
                stack, path, review_path, schema=out_schema, metadata=meta, file_mode=file_mode
            )
            run = stream_tables(values, engine, cache_dir, kind, opts, summary)
            async with contextlib.aclosing(run) as chunks:  # a failed write: cleanup now
                async for table, chunk_values, _ in chunks:
                    errors.note(table)
                    sourced = table.add_column(0, "source", _source_column(chunk_values))
                    if (out := audit.chunk(sourced)) is not None:
                        writer.write(out)
            async with contextlib.aclosing(audit.finish()) as checked:  # an interrupt: abort
                async for out in checked:
                    writer.write(out)
    finally:
        audit.close()
    return summary, errors


@run_entry
def recognize_to_parquet(
    images: Any,
    kind: str,
    path: Any,
    *,
    engine: Engine | None = None,
    cache_dir: CacheDir = None,
    file_mode: int = DEFAULT_FILE_MODE,
    report: str | os.PathLike[str] | None = None,
    report_thumbnails: bool = False,
    review_path: str | os.PathLike[str] | None = None,
    **options: Unpack[RunKeywords],
) -> RunSummary:
    """Stream results to a Parquet file (bounded memory), renamed into place at the end.

    The file holds personal data, so it is created with mode 0600 whatever the umask;
    ``file_mode=0o644`` makes it readable by others.

    The file has a ``source`` column (the input value as text) before the kind's columns,
    and ``ocr_frames`` metadata (kind, engine identity, library version, creation time).
    ``checks`` appends the ``check_*`` columns and ``mask`` masks personal data, chunk by
    chunk as the rows are written (the same values :func:`ocr_frames.checks.add_checks`
    and :func:`ocr_frames.mask.mask_frame` give on the whole table).  ``report``: also
    write the HTML audit report (:func:`ocr_frames.checks.report_html`, personal data
    masked, mode ``file_mode``) there; it implies ``checks``; ``report_thumbnails`` puts a
    small blurred thumbnail of each listed row's image in it.  Both paths are checked
    before anything is sent: a directory, or a missing folder for ``report`` (the output's
    is created), is a ConfigurationError.  An interrupt (Ctrl-C, a cancelled task) leaves
    neither file; the answers received stay cached.

    ``quality`` appends ``quality_score`` and the ``warn_*`` columns; with ``checks`` or
    ``quality``, ``needs_review`` and ``review_reasons`` come last.  ``review_path``:
    also write, as the output is written (same columns, same file mode, atomically), a
    Parquet file of only the rows whose ``needs_review`` is true; it implies ``checks``
    unless ``quality`` is on.

    A run stopped by quota still writes every row (the rest with errcode 900011): check
    ``summary.stopped``.  With ``on_error="raise"`` the file is written all the same, then
    the first row error (or QuotaExceeded) is raised.
    """
    opts = RunOptions(**options)
    kind = check_kind(kind)
    check_file_mode(file_mode)
    target = check_file_path(path, "path", folder_made=True)  # the writer makes the folder
    if report is not None:
        check_file_path(report, "report")
    if review_path is not None:
        check_file_path(review_path, "review_path", folder_made=True)
        others = [target, *([Path(report)] if report is not None else [])]
        if any(Path(review_path).resolve() == other.resolve() for other in others):
            raise ConfigurationError("review_path must differ from path and report")
        if not opts.reviewed:  # the rows to review are those of the review columns
            opts = dataclasses.replace(opts, checks=True)
    audit = Audit(
        kind,
        checks=opts.checks,
        mask=opts.mask,
        as_of=opts.as_of or date.today(),
        report=report is not None,
        review=opts.review_threshold if opts.reviewed or report is not None else None,
        spill=target.parent,  # beside the output (and its temporary file)
    )
    summary, errors = run_sync(
        _arecognize_to_parquet(
            images, kind, path, engine, cache_dir, opts, audit, file_mode, review_path
        )
    )
    if report is not None:
        audit.write_report(report, file_mode=file_mode, thumbnails=report_thumbnails)
    if opts.on_error == "raise":
        errors.raise_first(summary)
    return summary
