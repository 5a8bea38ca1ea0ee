"""``report`` (counts per check) and ``report_html`` (a page an auditor can open).

Both also count the rows that need review and, per reason of ``review_reasons``, the rows
it applies to (the reasons are computed, with the default threshold, for a table that has
none): ``report``'s frame carries them in ``attrs``, the page in a section of its own,
followed by the first ``max_rows`` rows to review and the first ``max_rows`` failing rows.

The HTML page is self-contained (no scripts, no external assets, no ``style`` attributes;
its one ``<style>`` element holds :data:`REPORT_CSS`, so a server can allow it by hash in
a Content-Security-Policy) and shows personal data only masked by
:func:`ocr_frames.mask.mask_frame`: names keep their first character, ID and card numbers
their first and last 4, plates their last 2, birth dates their year.  Image sources are
shown by file name only (no directories or URLs).  With ``thumbnails`` each listed row
also shows its image (:mod:`ocr_frames._sources.display`: only the local files the rows
name) as a JPEG data URI of at most :data:`THUMBNAIL_SIDE` pixels, always blurred past
reading; a row without a readable image gets a "no image" cell.  With ``review_link``
each row number links to the URL it gives for the row's 0-based position.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from ocr_frames._base.files import DEFAULT_FILE_MODE, write_private_text
from ocr_frames._sources.display import DisplayError, ImageIndex, data_uri, thumbnail
from ocr_frames._version import __version__
from ocr_frames.checks._catalogue import CHECKS
from ocr_frames.checks._common import INT, STR
from ocr_frames.checks._review import REASONS_TYPE, add_review, reason_counts
from ocr_frames.kinds import check_kind, spec
from ocr_frames.mask import mask_frame

#: kind → the (masked) columns that identify a row in the failing-rows table
DISPLAY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "idcard": ("type", "name", "id", "gender", "valid_date_end"),
    "drivinglicense": ("name", "id_num", "sex", "valid_to"),
    "bankcard": ("number", "check_card_bank"),
    "bizlicense": ("enterprise_name", "reg_num", "legal_representative"),
    "driving": ("plate_num", "vin", "owner"),
    "platenum": ("number",),
    "comm": (),
    "menu": (),
}
#: Longest side of a row's thumbnail on the page, pixels (small: a glance, not a reading).
THUMBNAIL_SIDE: Final = 112
_LABELS: Final = {
    "check_card_bank": "bank",
    "valid_date_end": "valid until",
    "valid_to": "valid until",
}


def resolve_kind(df: pd.DataFrame, kind: str | None) -> str:
    """``kind``, else the kind recorded by ``recognize`` or ``add_checks`` in ``df.attrs``."""
    if kind is None:
        for key in ("ocr_frames_checks", "ocr_frames"):
            meta = df.attrs.get(key)
            if isinstance(meta, dict) and isinstance(meta.get("kind"), str):
                kind = meta["kind"]
                break
    if kind is None:
        raise ValueError("cannot tell the kind of this table; pass kind=")
    return check_kind(kind)


def _is_check(name: str) -> bool:
    info = CHECKS.get(name)
    return info is not None and (bool(info.problem) or info.composite)


def _booleans(series: pd.Series[Any]) -> pd.arrays.BooleanArray:
    """A check column as ``boolean`` (it may come back from Parquet as object or bool)."""
    values = [v if isinstance(v, bool) else None for v in series.astype(object).tolist()]
    return pd.array(values, dtype="boolean")


class ReportData:
    """What :func:`summary_table` and :func:`render_html` show, gathered from a checked
    ``kind`` table part by part (a whole table is one part; a run streaming to Parquet
    adds each chunk): counts per check, the first ``max_rows`` failing rows and the first
    ``max_rows`` rows to review (a non-empty ``review_reasons``), masked."""

    def __init__(self, kind: str, *, max_rows: int = 500) -> None:
        self.kind, self.max_rows = kind, max_rows
        self.counts: dict[str, list[int]] = {}  # check → [passed, failed, not applicable]
        self.rows = self.passed = self.not_checked = self.n_failing = 0
        self.positions: list[int] = []  # of the failing rows kept, 0-based in the table
        self.failing: list[pd.DataFrame] = []  # those rows, masked
        self.needs_review = 0  # rows with a review reason
        self.reasons: Counter[str] = Counter()  # reason → rows
        self.review_positions: list[int] = []  # of the rows to review kept
        self.reviewing: list[pd.DataFrame] = []  # those rows, masked

    def add(self, checked: pd.DataFrame, *, masked: bool = False) -> None:
        """Count the rows of ``checked`` (after those added before); ``masked``: its
        personal columns are masked already."""
        for name in (c for c in checked.columns if isinstance(c, str) and _is_check(c)):
            values = _booleans(checked[name])
            na = int(values.isna().sum())
            passed = int(values.fillna(False).sum())
            counts = self.counts.setdefault(name, [0, 0, 0])
            for i, count in enumerate((passed, len(values) - na - passed, na)):
                counts[i] += count
        self.rows += len(checked)
        self._add_review(checked, masked)
        if "check_passed" not in checked.columns:
            return
        verdict = _booleans(checked["check_passed"])
        self.passed += int(verdict.fillna(False).sum())
        self.not_checked += int(verdict.isna().sum())
        failed = np.flatnonzero((~verdict).fillna(False).to_numpy(dtype=bool))
        self.n_failing += len(failed)
        self._keep(checked, failed, masked, self.positions, self.failing)

    def _keep(
        self,
        part: pd.DataFrame,
        picked: np.ndarray[Any, Any],
        masked: bool,
        positions: list[int],
        frames: list[pd.DataFrame],
    ) -> None:
        """Keep the ``picked`` rows of the part just counted, up to ``max_rows`` in all."""
        keep = picked[: max(0, self.max_rows - len(positions))]
        if len(keep):
            rows = part.iloc[keep]
            frames.append(rows if masked else mask_frame(rows, self.kind))
            start = self.rows - len(part)
            positions += [start + int(p) for p in keep]

    def _add_review(self, checked: pd.DataFrame, masked: bool) -> None:
        if "review_reasons" not in checked.columns:
            checked = add_review(checked)
        values = checked["review_reasons"].tolist()
        reasons = pa.array([None if v is None else list(v) for v in values], type=REASONS_TYPE)
        flagged = np.flatnonzero([v is not None and len(v) > 0 for v in values])
        self.needs_review += len(flagged)
        self.reasons.update(reason_counts(reasons))
        self._keep(checked, flagged, masked, self.review_positions, self.reviewing)

    def review_counts(self) -> dict[str, int]:
        """Rows per review reason, most frequent first (ties: by name)."""
        return dict(sorted(self.reasons.items(), key=lambda item: (-item[1], item[0])))

    def summary(self) -> pd.DataFrame:
        """Counts per boolean check column (see :func:`ocr_frames.checks.report`), with
        ``attrs["needs_review"]`` (rows) and ``attrs["review_reasons"]`` (reason → rows)."""
        names = list(self.counts)
        frame: pd.DataFrame = pd.DataFrame(
            {
                "description": pd.array([CHECKS[n].description for n in names], dtype=STR),
                "standard": pd.array([CHECKS[n].standard for n in names], dtype=STR),
                "passed": pd.array([c[0] for c in self.counts.values()], dtype=INT),
                "failed": pd.array([c[1] for c in self.counts.values()], dtype=INT),
                "not_applicable": pd.array([c[2] for c in self.counts.values()], dtype=INT),
            },
            index=pd.Index(names, name="check", dtype=STR),
        )
        frame.attrs["needs_review"] = self.needs_review
        frame.attrs["review_reasons"] = self.review_counts()
        return frame


def summary_table(checked: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Counts per boolean check column of an already checked ``kind`` table."""
    data = ReportData(kind, max_rows=0)
    data.add(checked, masked=True)
    return data.summary()


# --- HTML ------------------------------------------------------------------------------

#: The page's stylesheet, the text of its one ``<style>`` element (to hash for a CSP).
REPORT_CSS: Final = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bad:#c62828; --bad-bg:#fdecea;
        --ok:#2e7d32; --ok-bg:#e8f5e9; --na:#7b8794; --head:#f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC",
             "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; }
.meta { color: var(--muted); margin: 0; }
.cards { display: flex; gap: 12px; margin: 20px 0 4px; flex-wrap: wrap; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 24px; line-height: 1.2; }
.card.ok b { color: var(--ok); } .card.bad b { color: var(--bad); } .card.na b { color: var(--na); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: var(--bad); font-weight: 600; }
td.zero { color: var(--na); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.std { color: var(--muted); font-size: 12.5px; }
.bar { width: 110px; height: 8px; margin-top: 6px; }
.bar svg { display: block; width: 100%; height: 100%; border-radius: 4px; background: var(--line); }
.bar .p { fill: var(--ok); } .bar .f { fill: var(--bad); }
.problems { color: var(--bad); }
td.thumb { width: 1%; }
td.thumb img { display: block; border-radius: 4px; }
.noimg { display: inline-block; color: var(--na); font-size: 12px; white-space: nowrap; }
.note { color: var(--muted); font-size: 12.5px; margin-top: 24px; }
"""


def _e(value: object) -> str:
    """Escaped cell text ('' for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return html.escape(str(value))


def _summary_html(summary: pd.DataFrame) -> str:
    lines = [
        "<table class='summary'><thead><tr><th>check</th><th>what it verifies</th>"
        "<th class='num'>passed</th><th class='num'>failed</th><th class='num'>n/a</th>"
        "<th>pass rate</th></tr></thead><tbody>"
    ]
    for name, row in summary.iterrows():
        passed, failed, na = int(row["passed"]), int(row["failed"]), int(row["not_applicable"])
        checked = passed + failed
        p = 100 * passed / checked if checked else 0
        bar = (
            f"<div class='bar' title='{p:.0f}% of {checked} checked rows passed'><svg>"
            f"<rect class='p' width='{p:.1f}%' height='100%'/>"
            f"<rect class='f' x='{p:.1f}%' width='{100 - p:.1f}%' height='100%'/></svg></div>"
            if checked
            else "<span class='std'>not applicable</span>"
        )
        lines.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{_e(row['description'])}"
            f"<div class='std'>{_e(row['standard'])}</div></td>"
            f"<td class='num'>{passed}</td>"
            f"<td class='num {'bad' if failed else 'zero'}'>{failed}</td>"
            f"<td class='num zero'>{na}</td><td>{bar}</td></tr>"
        )
    lines.append("</tbody></table>")
    return "".join(lines)


def _source_name(value: object) -> str:
    text = _e(value)
    return text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


class _Cells:
    """The first cells of a listed row: its number (a link with ``link``) and, with
    ``thumbs`` (position → cell), its image."""

    def __init__(self, link: Callable[[int], str] | None, thumbs: dict[int, str] | None):
        self.link, self.thumbs = link, thumbs

    def head(self) -> str:
        return "<th class='num'>row</th>" + ("<th>image</th>" if self.thumbs is not None else "")

    def row(self, position: int) -> str:
        number = str(position)
        if self.link is not None:
            number = f"<a href='{html.escape(self.link(position), quote=True)}'>{position}</a>"
        cells = f"<td class='num'>{number}</td>"
        if self.thumbs is not None:
            cells += f"<td class='thumb'>{self.thumbs[position]}</td>"
        return cells


def _frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames) if frames else pd.DataFrame()


def _thumbnails(
    data: ReportData, images: str | Path | None, base_dir: str | Path | None
) -> dict[int, str]:
    """The image cell of every row listed on the page, by position: only those rows'
    files are read, each once (a row often is both to review and failing)."""
    rows: dict[int, tuple[object, object, object]] = {}
    listed = ((data.review_positions, data.reviewing), (data.positions, data.failing))
    for positions, frames in listed:
        for position, (_, row) in zip(positions, _frame(frames).iterrows(), strict=True):
            rows.setdefault(position, (row.get("source"), row.get("page"), row.get("sha256")))
    index = ImageIndex(
        *([entry[k] for entry in rows.values()] for k in range(3)),
        base_dir=Path.cwd() if base_dir is None else Path(base_dir),
        images_dir=None if images is None else Path(images),
    )
    return {position: _thumbnail(index, i, position) for i, position in enumerate(rows)}


def _thumbnail(index: ImageIndex, i: int, position: int) -> str:
    try:  # blurred always: the page is masked, the document must not be readable
        small = thumbnail(index.display(i), side=THUMBNAIL_SIDE, blur=True)
    except (DisplayError, OSError, ValueError) as exc:  # one bad file costs its cell only
        missing = index.missing(i)  # ("not found: <source>": the page shows no paths)
        why = missing.split(": ")[0] if missing else str(exc)  # (DisplayError: no path)
        why = why if isinstance(exc, DisplayError) else "image cannot be read"
        return f"<span class='noimg' title='{_e(why)}'>no image</span>"
    uri = data_uri(small, "image/jpeg")
    return f"<img src='{uri}' alt='row {position}, blurred'>"


def _rows_html(
    data: ReportData,
    listed: tuple[list[int], list[pd.DataFrame]],
    cells: _Cells,
    last: tuple[str, Callable[[pd.Series[Any]], str]],
) -> str:
    """A table of the ``listed`` rows: number, image, source file name, the kind's
    masked key columns, and the ``last`` column (heading, cell of a row)."""
    positions, masked = listed[0], _frame(listed[1])
    columns = [c for c in DISPLAY_COLUMNS[data.kind] if c in masked.columns]
    has_source = "source" in masked.columns
    head = cells.head() + ("<th>source</th>" if has_source else "")
    head += "".join(f"<th>{_e(_LABELS.get(c, c))}</th>" for c in columns)
    lines = [f"<table class='rows'><thead><tr>{head}<th>{last[0]}</th></tr></thead><tbody>"]
    for position, (_, row) in zip(positions, masked.iterrows(), strict=True):
        line = cells.row(position)
        if has_source:
            line += f"<td><code>{_source_name(row['source'])}</code></td>"
        line += "".join(f"<td>{_e(row[c])}</td>" for c in columns)
        lines.append(f"<tr>{line}{last[1](row)}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def _problems(row: pd.Series[Any]) -> str:
    return f"<td class='problems'>{_e(row['check_problems']).replace('; ', '<br>')}</td>"


def _reasons(row: pd.Series[Any]) -> str:
    reasons = "<br>".join(f"<code>{_e(r)}</code>" for r in row["review_reasons"])
    return f"<td class='reasons'>{reasons}</td>"


def _not_shown(count: int, what: str) -> str:
    return f"<p class='meta'>{count} more {what} not shown.</p>" if count > 0 else ""


def _failing_html(data: ReportData, cells: _Cells) -> str:
    if not data.n_failing:
        return "<p class='meta'>No row failed a check.</p>"
    listed = (data.positions, data.failing)
    return _rows_html(data, listed, cells, ("problems", _problems)) + _not_shown(
        data.n_failing - len(data.positions), "failing rows"
    )


def _to_review_html(data: ReportData, cells: _Cells) -> str:
    if not data.needs_review:
        return ""
    listed = (data.review_positions, data.reviewing)
    return (
        f"<h2>Rows to review ({data.needs_review})</h2>"
        + _rows_html(data, listed, cells, ("reasons", _reasons))
        + _not_shown(data.needs_review - len(data.review_positions), "rows to review")
    )


def _review_html(data: ReportData) -> str:
    counts = data.review_counts()
    if not counts:
        return "<p class='meta'>No row needs review.</p>"
    lines = [
        "<table class='review'><thead><tr><th>reason</th><th class='num'>rows</th>"
        "<th>share of rows</th></tr></thead><tbody>"
    ]
    for reason, count in counts.items():
        share = 100 * count / data.rows if data.rows else 0
        lines.append(
            f"<tr><td><code>{_e(reason)}</code></td><td class='num'>{count}</td>"
            f"<td>{share:.1f}%</td></tr>"
        )
    lines.append("</tbody></table>")
    return "".join(lines)


def _cards(data: ReportData) -> str:
    n, na, ok = data.rows, data.not_checked, data.passed
    cards = [
        ("", n, "rows"),
        ("ok", ok, "passed every check"),
        ("bad", n - na - ok, "failed a check"),
        ("na", na, "not checked (error rows)"),
        ("bad", data.needs_review, "need review"),
    ]
    return (
        "<section class='cards'>"
        + "".join(
            f"<div class='card {cls}'><b>{count}</b>{label}</div>" for cls, count, label in cards
        )
        + "</section>"
    )


def render_html(
    data: ReportData,
    *,
    as_of: str,
    title: str | None = None,
    thumbnails: bool = False,
    images: str | Path | None = None,
    base_dir: str | Path | None = None,
    review_link: Callable[[int], str] | None = None,
) -> str:
    """The HTML page of a checked table (gathered in ``data``); the other options as for
    :func:`ocr_frames.checks.report_html`."""
    kind = data.kind
    cells = _Cells(review_link, _thumbnails(data, images, base_dir) if thumbnails else None)
    title = title or f"Document checks: {spec(kind).title}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts: Sequence[str] = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{REPORT_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>kind <code>{_e(kind)}</code> · checked as of {_e(as_of)} · "
        f"generated {generated} · ocr-frames {_e(__version__)} · personal data masked</p>",
        _cards(data),
        "<h2>Checks</h2>",
        _summary_html(data.summary()),
        f"<h2>Needs review ({data.needs_review} rows)</h2>",
        _review_html(data),
        _to_review_html(data, cells),
        f"<h2>Rows that failed ({data.n_failing})</h2>",
        _failing_html(data, cells),
        "<p class='note'>Row numbers are 0-based positions in the table. "
        "n/a: the check does not apply to the row (an error row, a missing field, "
        "or a prerequisite check that already failed). "
        "A row needing review counts once under each of its reasons. "
        "Names keep their first character, ID and card numbers their first and last four, "
        "plates their last two; image sources show the file name only."
        + (" Images are blurred on purpose: this page is masked." if thumbnails else "")
        + "</p>",
        "</main></body></html>\n",
    )
    return "".join(parts)


def write_html(
    text: str, path: str | os.PathLike[str], *, file_mode: int = DEFAULT_FILE_MODE
) -> None:
    """Write the page as UTF-8, mode 0600 unless ``file_mode`` says otherwise."""
    write_private_text(path, text, file_mode)
