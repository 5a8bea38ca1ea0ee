"""``add_checks`` on a stream of Arrow parts: the columns the whole table gets, and its report.

The streaming form of :func:`ocr_frames.checks.add_checks`, for a run that writes its rows
as they come (:mod:`ocr_frames._run.audit` drives it; it is the one module of this package
that the run imports).  The duplicate checks flag *both* rows of a pair, so a row's
verdict may depend on a later row, and the parts go through twice:

1. :meth:`StreamChecks.first`, each part as it comes: the checks that judge a row alone
   (:func:`~ocr_frames.checks._apply.row_columns`) and the verdict so far
   (``check_passed`` / ``check_problems``); the part's duplicate keys are noted;
2. :meth:`StreamChecks.judge` once every part has been seen (vectorised over every row),
   then :meth:`StreamChecks.second` on the same parts, in the same order (the caller holds
   them in between, masked or not): the duplicate columns and the final verdict, with
   ``review``, ``needs_review`` and ``review_reasons`` (:func:`~ocr_frames.checks.add_review`),
   the report's data gathered on the way; :meth:`StreamChecks.write_report` writes its page.

The parts come out with exactly the columns, values and types ``add_checks`` gives the
whole table (text as Arrow ``string``, as in the kinds' schemas).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import pyarrow as pa

from ocr_frames._base.files import DEFAULT_FILE_MODE
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks._apply import Verdict, row_columns
from ocr_frames.checks._common import Column
from ocr_frames.checks._duplicates import DuplicateKeys, Duplicates
from ocr_frames.checks._report import ReportData, render_html, write_html
from ocr_frames.checks._review import review_table

__all__ = ["StreamChecks"]

_VERDICT: Final = ("check_passed", "check_problems")


def _arrow(values: Any) -> pa.Array:
    """A check column's values as Arrow (text as ``string``, as in the kinds' schemas)."""
    array = pa.array(values, from_pandas=True)
    return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array


def _appended(table: pa.Table, columns: Sequence[Column]) -> pa.Table:
    for column in columns:
        table = table.append_column(column.name, _arrow(column.values))
    return table


class StreamChecks:
    """The check columns of one ``kind`` table that comes part by part (see the module
    docstring); expiry, birth dates and ages judged ``as_of``.

    ``report``: gather an HTML report's data (:meth:`write_report`); ``masked``: the parts
    given to :meth:`second` have their personal columns masked already; ``review``: the
    ``review_threshold`` of the review columns :meth:`second` appends (None: none).
    """

    def __init__(
        self,
        kind: str,
        as_of: date,
        *,
        report: bool = False,
        masked: bool = False,
        review: float | None = None,
    ):
        self.kind, self.as_of, self.masked, self.review = kind, as_of, masked, review
        self.keys = DuplicateKeys(kind)
        self.report = ReportData(kind) if report else None
        self._duplicates: Duplicates | None = None
        self._start = 0  # rows given to second() so far

    def first(self, part: pa.Table) -> pa.Table:
        """``part`` with the row checks and the verdict so far appended (first pass)."""
        columns = row_columns(to_pandas(part), self.kind, self.as_of, self.keys)
        return _appended(part, [*columns, *Verdict(part.num_rows).add(columns).columns()])

    def judge(self) -> None:
        """Judge the duplicates of every row seen by :meth:`first` (once, before the
        second pass; :meth:`second` does it if not done)."""
        if self._duplicates is None:
            self._duplicates = self.keys.judge()

    def second(self, part: pa.Table) -> pa.Table:
        """The next part of the first pass's output (its row checks and verdict so far
        included) with the duplicate columns and the final verdict (second pass)."""
        self.judge()
        assert self._duplicates is not None
        end = self._start + part.num_rows
        duplicates = self._duplicates.columns(self._start, end)
        self._start = end
        passed, problems = (part.column(name).to_pylist() for name in _VERDICT)
        verdict = Verdict.resume(passed, problems).add(duplicates).columns()
        table = _appended(part.drop_columns(list(_VERDICT)), [*duplicates, *verdict])
        if self.review is not None:
            table = review_table(table, self.review)
        if self.report is not None:
            self.report.add(to_pandas(table), masked=self.masked)
        return table

    def write_report(
        self,
        path: str | os.PathLike[str],
        *,
        file_mode: int = DEFAULT_FILE_MODE,
        thumbnails: bool = False,
    ) -> None:
        """Write the HTML report of the parts seen by :meth:`second` (as
        :func:`ocr_frames.checks.report_html` writes it for the whole table; relative image
        paths of ``thumbnails`` are read from the current directory)."""
        if self.report is None:
            raise ValueError("this stream gathers no report (report=False)")
        page = render_html(self.report, as_of=self.as_of.isoformat(), thumbnails=thumbnails)
        write_html(page, path, file_mode=file_mode)
