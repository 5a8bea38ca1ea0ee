"""Checks, review and masking of a run's chunks as they come, so no file is written twice.

``checks``, the review columns (with ``checks`` or ``quality``) and ``mask`` (see
:class:`~ocr_frames._run.options.RunOptions`) on a stream of Arrow chunks, with the very
output :func:`ocr_frames.checks.add_checks`, :func:`ocr_frames.checks.add_review` then
:func:`ocr_frames.mask.mask_frame` give on the whole table (the reasons name columns,
never values, so masking before or after the review makes no difference).  The checks
are those of :class:`~ocr_frames.checks._stream.StreamChecks` (the streaming form of
``add_checks``, its one seam with the run):

1. each chunk as it comes: the checks that judge a row alone and their verdict so far
   (:meth:`~ocr_frames.checks._stream.StreamChecks.first`, which also notes the chunk's
   duplicate keys: an image code and a number code per row); then masking, so personal
   data is masked before it is held;
2. the duplicate checks flag *both* rows of a pair, so a row's verdict may depend on a
   later row: with ``checks``, the chunks are held (in memory for
   :func:`~ocr_frames.recognize_arrow`; for :func:`~ocr_frames.recognize_to_parquet`, in
   a private temporary Arrow file beside the output, compressed, with no name in its
   directory, like the run store of :mod:`ocr_frames._run.runstore`) and, once the run is
   done, a second pass over them adds the duplicate columns and the final verdict, and
   feeds the HTML report, before the output is written once.  An interrupt during that
   pass stops it within one chunk (see :meth:`Audit.finish`).

Masking and review without checks need no second pass: such chunks go straight to the
output.  Memory for the duplicate keys is a few dozen bytes per row plus the distinct
image digests and numbers; the rows themselves are not kept in memory by the Parquet path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import tempfile
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterator
from datetime import date
from typing import IO, Any, Final

import pyarrow as pa

from ocr_frames._base.files import DEFAULT_FILE_MODE
from ocr_frames.checks import add_review
from ocr_frames.checks._stream import StreamChecks
from ocr_frames.mask import MASKED_COLUMNS

__all__ = ["Audit"]

#: Rows checked at once (the checks are vectorised; a run's chunks are 256 rows).
CHECK_ROWS: Final = 4096
#: How the held chunks are compressed on disk (Arrow IPC offers zstd and lz4).
SPILL_COMPRESSION: Final = "zstd" if pa.Codec.is_available("zstd") else "lz4"


def _mask(table: pa.Table, kind: str) -> pa.Table:
    """:func:`ocr_frames.mask.mask_frame` on an Arrow table: masked columns become text."""
    for name, mask in MASKED_COLUMNS[kind].items():
        i = table.schema.get_field_index(name)
        if i >= 0:
            masked = [mask(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, name, pa.array(masked, type=pa.string()))
    return table


class _Held:
    """Chunks waiting for the second pass, in memory."""

    def __init__(self) -> None:
        self._tables: deque[pa.Table] = deque()

    def put(self, table: pa.Table) -> None:
        self._tables.append(table)

    def tables(self) -> Iterator[pa.Table]:
        """The tables, in order, each let go as it is taken."""
        while self._tables:
            yield self._tables.popleft()

    def close(self) -> None:
        self._tables.clear()


class _Spilled(_Held):
    """Chunks waiting for the second pass, in a temporary Arrow stream file in
    ``directory``: mode 0600, without a name (``O_TMPFILE``, or unlinked at once where the
    file system has none), so it is gone however the process ends; compressed
    (:data:`SPILL_COMPRESSION`).  Beside the output rather than in ``/tmp`` (often a small
    RAM disk): the run needs about the output's size free where the output goes anyway."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self._directory = directory
        self._file: IO[bytes] | None = None
        self._writer: Any = None

    def put(self, table: pa.Table) -> None:
        if self._writer is None:
            self._file = tempfile.TemporaryFile(  # noqa: SIM115  (closed by close())
                prefix=".ocr-frames-audit-", dir=self._directory
            )
            options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION)
            self._writer = pa.ipc.new_stream(self._file, table.schema, options=options)
        self._writer.write_table(table)

    def tables(self) -> Iterator[pa.Table]:
        if self._writer is None or self._file is None:
            return
        self._writer.close()
        self._file.seek(0)
        for batch in pa.ipc.open_stream(self._file):
            yield pa.Table.from_batches([batch])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None


class Audit:
    """Checks, review and masking of one run's chunks (see the module docstring).

    ``report`` gathers an HTML report's data (:meth:`write_report`); it implies
    ``checks``.  ``review``: append ``needs_review`` and ``review_reasons``, with this
    ``review_threshold`` (None: not).  ``spill``: hold the chunks in a private temporary
    file in this directory (the output's) rather than in memory.
    """

    def __init__(
        self,
        kind: str,
        *,
        checks: bool,
        mask: bool,
        as_of: date,
        report: bool = False,
        review: float | None = None,
        spill: str | os.PathLike[str] | None = None,
    ) -> None:
        self.kind, self.mask, self.as_of, self.review = kind, mask, as_of, review
        self.checks = checks or report
        self._stream = (
            StreamChecks(kind, as_of, report=report, masked=mask, review=review)
            if self.checks
            else None
        )
        self._held = _Spilled(spill) if spill is not None else _Held()
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def chunk(self, table: pa.Table) -> pa.Table | None:
        """The chunk checked (row checks), reviewed and masked: held for :meth:`finish`
        with ``checks`` (None), else returned for the output at once."""
        if self._stream is None:
            table = self._reviewed(table)
            return _mask(table, self.kind) if self.mask else table
        self._pending.append(table)  # checked a few thousand rows at a time: vectorised
        self._pending_rows += table.num_rows
        if self._pending_rows >= CHECK_ROWS:
            self._check()
        return None

    def _reviewed(self, table: pa.Table) -> pa.Table:
        return table if self.review is None else add_review(table, threshold=self.review)

    def _check(self) -> None:
        """Row checks, verdict so far and masking of the pending chunks; hold the result."""
        if not self._pending or self._stream is None:
            return
        table = self._stream.first(pa.concat_tables(self._pending))
        self._pending, self._pending_rows = [], 0
        self._held.put(_mask(table, self.kind) if self.mask else table)

    async def finish(self) -> AsyncGenerator[pa.Table, None]:
        """With ``checks``, the chunks held, in order, with the duplicate columns and the
        final verdict (the report's data gathered on the way); nothing otherwise.

        The second pass gives the event loop a turn after each part, and judges the
        duplicates of every row in a thread of its own: an interrupt (a cancel of the run)
        lands within one part, however many rows the run has, and the caller's writer is
        aborted, not committed.
        """
        if self._stream is None:
            return
        self._check()
        try:
            await _in_thread(self._stream.judge)
            for part in self._held.tables():
                yield self._stream.second(part)
                await asyncio.sleep(0)  # a cancellation point: the caller has written it
        finally:
            self._held.close()

    def schema(self, base: pa.Schema) -> pa.Schema:
        """The schema of the output for tables of schema ``base``."""
        table = base.empty_table()
        probe = StreamChecks(self.kind, self.as_of) if self.checks else None
        table = probe.first(table) if probe is not None else table
        table = _mask(table, self.kind) if self.mask else table
        table = probe.second(table) if probe is not None else table
        return self._reviewed(table).schema

    def write_report(
        self,
        path: str | os.PathLike[str],
        *,
        file_mode: int = DEFAULT_FILE_MODE,
        thumbnails: bool = False,
    ) -> None:
        """Write the HTML report of the rows :meth:`finish` gave (``report=True``)."""
        assert self._stream is not None
        self._stream.write_report(path, file_mode=file_mode, thumbnails=thumbnails)

    def close(self) -> None:
        """Drop what is held (a failed run)."""
        self._pending = []
        self._held.close()


async def _in_thread(work: Callable[[], None]) -> None:
    """``work()`` in a daemon thread of its own, awaited.  The event loop stays free while
    it runs, and a cancelled wait returns at once: the thread ends on its own, touching
    nothing but its own data.  (``asyncio.to_thread`` would make ``asyncio.run`` wait for
    it on the way out.)"""
    done: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        if done.set_running_or_notify_cancel():
            try:
                work()
            except BaseException as exc:  # handed to the awaiting task
                done.set_exception(exc)
            else:
                done.set_result(None)

    threading.Thread(target=run, name="ocr-frames-checks", daemon=True).start()
    await asyncio.wrap_future(done)
