"""Parquet output: explicit schema, file metadata, row groups streamed, atomic rename.

The file is created with mode 0600 (``file_mode=`` relaxes it): it holds personal data.
A file at the output path is always complete: rows are written to a hidden temporary file
beside it (``.NAME.tmp-<random>``), which is fsynced and renamed over the target only when
the run finished.  The writer holds an ``flock`` on its temporary file for its whole life;
the kernel drops it when the process dies, however it dies, so the next run for the same
target removes a killed run's temporary file at once, and never a live writer's (process
ids are not used: a restarted container is PID 1 again).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ocr_frames._base.files import DEFAULT_FILE_MODE, create_private, temporary_beside, try_flock
from ocr_frames._errors import OCRError
from ocr_frames._tables.frames import to_pandas
from ocr_frames._version import __version__
from ocr_frames.kinds import schema

__all__ = [
    "DEFAULT_ROW_GROUP_ROWS",
    "METADATA_KEY",
    "AtomicParquetWriter",
    "read_metadata",
    "read_parquet",
    "write_parquet",
]

DEFAULT_ROW_GROUP_ROWS: Final = 16_384
METADATA_KEY: Final = b"ocr_frames"


def file_metadata(
    kind: str | None, engine: str | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What every file says about itself. Never credentials: ``engine`` is an identity."""
    meta: dict[str, Any] = {
        "kind": kind,
        "engine": engine,
        "library": "ocr-frames",
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    meta.update(extra or {})
    return meta


def with_metadata(schema: pa.Schema, meta: Mapping[str, Any]) -> pa.Schema:
    merged = dict(schema.metadata or {})
    merged[METADATA_KEY] = json.dumps(meta, ensure_ascii=False).encode()
    return schema.with_metadata(merged)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``ocr_frames`` metadata of a Parquet file written by this library."""
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return dict(json.loads(raw)) if raw else {}


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files of writers of ``target`` that are gone."""
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            try:
                dead = try_flock(fd)  # nobody holds it: its writer is gone
            except OSError:  # no usable flock here: cannot tell, leave the file alone
                dead = False
            if dead:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        finally:
            os.close(fd)


class AtomicParquetWriter:
    """Write row groups to a temporary file; rename over ``path`` on :meth:`commit`."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: pa.Schema,
        *,
        metadata: Mapping[str, Any] | None = None,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        compression: str = "zstd",
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"output path is a directory: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(self.path)
        self.schema = with_metadata(schema, metadata or {}) if metadata else schema
        # private before the first byte (the final rename keeps the mode), and locked
        # before it gets the ".tmp-" name that the stale-file sweep looks at: a sweep never
        # sees a live writer's file unlocked (see the module docstring)
        self._tmp = temporary_beside(self.path)
        fresh = self._tmp.with_name(self._tmp.name.replace(".tmp-", ".new-", 1))
        self._lock_fd: int | None = create_private(fresh, file_mode)
        self._sink: Any = None
        try:
            # a file nobody else has opened: the lock is ours at once (without a usable
            # flock the file is never judged stale, see _remove_stale_temporaries)
            with contextlib.suppress(OSError):
                try_flock(self._lock_fd)
            os.rename(fresh, self._tmp)
            # written through our own descriptor: the file we locked, whatever the path
            self._sink = os.fdopen(os.dup(self._lock_fd), "wb", buffering=0)
            self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
                self._sink, self.schema, compression=compression
            )
        except BaseException:
            with contextlib.suppress(OSError):
                fresh.unlink()
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            self._release()
            raise
        self._row_group_rows = row_group_rows
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.rows_written = 0

    def write(self, table: pa.Table) -> None:
        """Buffer ``table`` and write full row groups (``row_group_rows`` rows each)."""
        if self._writer is None:
            raise ValueError("writer is closed")
        if table.num_rows == 0:
            return
        self._pending.append(table.cast(self.schema) if table.schema != self.schema else table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending or self._writer is None:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        self._writer.write_table(table, row_group_size=self._row_group_rows)
        self.rows_written += table.num_rows

    def commit(self) -> Path:
        """Flush, fsync and atomically rename the file into place."""
        if self._writer is None:
            raise ValueError("writer is closed")
        self._flush()
        self._writer.close()
        self._writer = None
        self._sink.flush()
        os.fsync(self._sink.fileno())
        os.replace(self._tmp, self.path)
        self._release()
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target path is left untouched."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        with contextlib.suppress(OSError):
            self._tmp.unlink()
        self._release()

    def _release(self) -> None:
        if self._sink is not None:
            with contextlib.suppress(OSError):
                self._sink.close()
            self._sink = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._writer is not None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def read_parquet(
    path: str | os.PathLike[str], *, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """A Parquet file written by ocr-frames, back as the frame ``recognize`` returned.

    Same dtypes (``string``, ``date32``, ``Int32``/``Int64``, ``boolean``, list columns):
    ``pd.read_parquet`` would give ``page`` as float64 and dates as objects.  The file's
    ``ocr_frames`` metadata (kind, engine, run summary) is in ``df.attrs["ocr_frames"]``.
    """
    table = pq.read_table(path, columns=list(columns) if columns is not None else None)
    frame = to_pandas(table.replace_schema_metadata(None))
    frame.attrs["ocr_frames"] = read_metadata(path)
    return frame


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
