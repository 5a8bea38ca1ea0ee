"""Parquet output: explicit schema, file metadata, row groups streamed, atomic rename.

The file is created with mode 0600 (``file_mode=`` relaxes it): it holds personal data.
A file at the output path is always complete: rows are written to a hidden temporary file
beside it (``.NAME.tmp-PID``), which is fsynced and renamed over the target only when the
run finished.  A killed run leaves at most a temporary file, which the next run for the
same target removes once its process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from ._claims import pid_alive
from ._files import DEFAULT_FILE_MODE, create_private
from ._version import __version__

__all__ = ["DEFAULT_ROW_GROUP_ROWS", "METADATA_KEY", "AtomicParquetWriter", "read_metadata"]

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
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


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
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        # private before the first byte: the rename keeps the mode (see ocr_frames._files)
        os.close(create_private(self._tmp, file_mode))
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(
            self._tmp, self.schema, compression=compression
        )
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
        with open(self._tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self._tmp, self.path)
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

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._writer is not None:
            self.commit()
        else:
            self.abort()
