"""Checks and masking of a run's chunks as they come, so that no file is written twice.

``checks`` and ``mask`` (see :class:`~ocr_frames._run.options.RunOptions`) on a stream of
Arrow chunks, with the very output :func:`ocr_frames.checks.add_checks` then
:func:`ocr_frames.mask.mask_frame` give on the whole table:

1. each chunk as it comes: the checks that judge a row alone
   (:func:`~ocr_frames.checks._apply.row_columns`) and their verdict so far
   (``check_passed`` / ``check_problems``); its duplicate keys are noted
   (:class:`~ocr_frames.checks._duplicates.DuplicateKeys`: an image code and a number
   code per row); then masking, so personal data is masked before it is held;
2. the duplicate checks flag *both* rows of a pair, so a row's verdict may depend on a
   later row: with ``checks``, the chunks are held (in memory for
   :func:`~ocr_frames.recognize_arrow`; in a private temporary Arrow file for
   :func:`~ocr_frames.recognize_to_parquet`, removed from its directory at once, like the
   run store of :mod:`ocr_frames._run.runstore`) and, once the run is done, a second pass over
   them adds the duplicate columns and the final verdict, and feeds the HTML report
   (:class:`~ocr_frames.checks._report.ReportData`), before the output is written once.

Masking alone needs no second pass: masked chunks go straight to the output.  Memory for
the duplicate keys is a few dozen bytes per row plus the distinct image digests and
numbers; the rows themselves are not kept in memory by the Parquet path.
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import date
from typing import IO, Any, Final

import pyarrow as pa

from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks._apply import Verdict, row_columns
from ocr_frames.checks._common import Column
from ocr_frames.checks._duplicates import DuplicateKeys
from ocr_frames.checks._report import ReportData
from ocr_frames.mask import MASKED_COLUMNS

__all__ = ["Audit"]

_VERDICT = ("check_passed", "check_problems")
#: Rows checked at once (the checks are vectorised; a run's chunks are 256 rows).
CHECK_ROWS: Final = 4096


def _arrow(values: Any) -> pa.Array:
    """A check column's values as Arrow (text as ``string``, as in the kinds' schemas)."""
    array = pa.array(values, from_pandas=True)
    return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array


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
    """Chunks waiting for the second pass, in a private temporary Arrow stream file."""

    def __init__(self) -> None:
        super().__init__()
        self._file: IO[bytes] | None = None
        self._writer: Any = None

    def put(self, table: pa.Table) -> None:
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="ocr-frames-audit-")  # noqa: SIM115
            self._writer = pa.ipc.new_stream(self._file, table.schema)
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
    """Checks and masking of one run's chunks (see the module docstring).

    ``report`` gathers an HTML report's data (:attr:`report`); it implies ``checks``.
    ``spill``: hold the chunks on disk rather than in memory.
    """

    def __init__(
        self,
        kind: str,
        *,
        checks: bool,
        mask: bool,
        as_of: date,
        report: bool = False,
        spill: bool = False,
    ) -> None:
        self.kind, self.mask, self.as_of = kind, mask, as_of
        self.checks = checks or report
        self.keys = DuplicateKeys(kind) if self.checks else None
        self.report = ReportData(kind) if report else None
        self._held = _Spilled() if spill else _Held()
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    @property
    def active(self) -> bool:
        """Whether the output differs from the run's tables at all."""
        return self.checks or self.mask

    def chunk(self, table: pa.Table) -> pa.Table | None:
        """The chunk checked (row checks) and masked: held for :meth:`finish` with
        ``checks`` (None), else returned for the output at once."""
        if self.keys is None:
            return _mask(table, self.kind) if self.mask else table
        self._pending.append(table)  # checked a few thousand rows at a time: vectorised
        self._pending_rows += table.num_rows
        if self._pending_rows >= CHECK_ROWS:
            self._check()
        return None

    def _check(self) -> None:
        """Row checks, verdict so far and masking of the pending chunks; hold the result."""
        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_rows = [], 0
        assert self.keys is not None
        columns = row_columns(to_pandas(table), self.kind, self.as_of, self.keys)
        for column in [*columns, *Verdict(table.num_rows).add(columns).columns()]:
            table = table.append_column(column.name, _arrow(column.values))
        self._held.put(_mask(table, self.kind) if self.mask else table)

    def finish(self) -> Iterator[pa.Table]:
        """With ``checks``, the chunks held, in order, with the duplicate columns and the
        final verdict (the report's data gathered on the way); nothing otherwise."""
        if self.keys is None:
            return
        self._check()
        duplicates = self.keys.columns()
        start = 0
        try:
            for part in self._held.tables():
                end = start + part.num_rows
                yield self._complete(part, [_rows(c, start, end) for c in duplicates])
                start = end
        finally:
            self._held.close()

    def _complete(self, part: pa.Table, duplicates: Sequence[Column]) -> pa.Table:
        passed, problems = (part.column(name).to_pylist() for name in _VERDICT)
        verdict = Verdict.resume(passed, problems).add(duplicates).columns()
        table = part.drop_columns(list(_VERDICT))
        for column in [*duplicates, *verdict]:
            table = table.append_column(column.name, _arrow(column.values))
        if self.report is not None:
            self.report.add(to_pandas(table), masked=self.mask)
        return table

    def schema(self, base: pa.Schema) -> pa.Schema:
        """The schema of the output for tables of schema ``base``."""
        if not self.active:
            return base
        probe = Audit(self.kind, checks=self.checks, mask=self.mask, as_of=self.as_of)
        empty = probe.chunk(base.empty_table())
        final = next(probe.finish(), empty)
        assert final is not None
        return final.schema

    def close(self) -> None:
        """Drop what is held (a failed run)."""
        self._pending = []
        self._held.close()


def _rows(column: Column, start: int, end: int) -> Column:
    detail = None if column.detail is None else column.detail[start:end]
    return Column(column.name, column.values[start:end], detail)
