"""``report`` (counts per check) and ``report_html`` (a page an auditor can open).

Both also count the rows that need review and, per reason of ``review_reasons``, the rows
it applies to (the reasons are computed, with the default threshold, for a table that has
none): ``report``'s frame carries them in ``attrs``, the page in a section of its own.

The HTML page is self-contained (inline CSS, no scripts, no external assets) and shows
personal data only masked by :func:`ocr_frames.mask.mask_frame`: names keep their first
character, ID and card numbers their first and last 4, plates their last 2, birth dates
their year.  Image sources are shown by file name only (no directories or URLs).
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timezone
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from ocr_frames._base.files import DEFAULT_FILE_MODE, write_private_text
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
    adds each chunk): counts per check, the first ``max_rows`` failing rows, masked."""

    def __init__(self, kind: str, *, max_rows: int = 500) -> None:
        self.kind, self.max_rows = kind, max_rows
        self.counts: dict[str, list[int]] = {}  # check → [passed, failed, not applicable]
        self.rows = self.passed = self.not_checked = self.n_failing = 0
        self.positions: list[int] = []  # of the failing rows kept, 0-based in the table
        self.failing: list[pd.DataFrame] = []  # those rows, masked
        self.needs_review = 0  # rows with a review reason
        self.reasons: Counter[str] = Counter()  # reason → rows

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
        self._add_review(checked)
        if "check_passed" not in checked.columns:
            return
        verdict = _booleans(checked["check_passed"])
        self.passed += int(verdict.fillna(False).sum())
        self.not_checked += int(verdict.isna().sum())
        failed = np.flatnonzero((~verdict).fillna(False).to_numpy(dtype=bool))
        self.n_failing += len(failed)
        keep = failed[: max(0, self.max_rows - len(self.positions))]
        if len(keep):
            rows = checked.iloc[keep]
            self.failing.append(rows if masked else mask_frame(rows, self.kind))
            start = self.rows - len(checked)
            self.positions += [start + int(p) for p in keep]

    def _add_review(self, checked: pd.DataFrame) -> None:
        if "review_reasons" not in checked.columns:
            checked = add_review(checked)
        values = checked["review_reasons"].tolist()
        reasons = pa.array([None if v is None else list(v) for v in values], type=REASONS_TYPE)
        self.needs_review += sum(1 for v in values if v is not None and len(v))
        self.reasons.update(reason_counts(reasons))

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

_CSS: Final = """
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
.bar { width: 110px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden;
       display: flex; margin-top: 6px; }
.bar i { display: block; height: 100%; }
.bar .p { background: var(--ok); } .bar .f { background: var(--bad); }
.problems { color: var(--bad); }
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
            f"<div class='bar' title='{p:.0f}% of {checked} checked rows passed'>"
            f"<i class='p' style='width:{p:.1f}%'></i><i class='f' style='width:{100 - p:.1f}%'>"
            "</i></div>"
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


def _failing_html(data: ReportData) -> str:
    if not data.n_failing:
        return "<p class='meta'>No row failed a check.</p>"
    masked = pd.concat(data.failing) if data.failing else pd.DataFrame()
    columns = [c for c in DISPLAY_COLUMNS[data.kind] if c in masked.columns]
    has_source = "source" in masked.columns
    head = "<th class='num'>row</th>" + ("<th>source</th>" if has_source else "")
    head += "".join(f"<th>{_e(_LABELS.get(c, c))}</th>" for c in columns)
    head += "<th>problems</th>"
    lines = [f"<table class='rows'><thead><tr>{head}</tr></thead><tbody>"]
    for position, (_, row) in zip(data.positions, masked.iterrows(), strict=True):
        cells = f"<td class='num'>{position}</td>"
        if has_source:
            cells += f"<td><code>{_source_name(row['source'])}</code></td>"
        cells += "".join(f"<td>{_e(row[c])}</td>" for c in columns)
        problems = _e(row["check_problems"]).replace("; ", "<br>")
        lines.append(f"<tr>{cells}<td class='problems'>{problems}</td></tr>")
    lines.append("</tbody></table>")
    if data.n_failing > len(data.positions):
        lines.append(
            f"<p class='meta'>{data.n_failing - len(data.positions)} more failing rows not "
            "shown.</p>"
        )
    return "".join(lines)


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


def render_html(data: ReportData, *, as_of: str, title: str | None = None) -> str:
    """The HTML page of a checked table (gathered in ``data``)."""
    kind = data.kind
    title = title or f"Document checks: {spec(kind).title}"
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts: Sequence[str] = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='meta'>kind <code>{_e(kind)}</code> · checked as of {_e(as_of)} · "
        f"generated {generated} · ocr-frames {_e(__version__)} · personal data masked</p>",
        _cards(data),
        "<h2>Checks</h2>",
        _summary_html(data.summary()),
        f"<h2>Needs review ({data.needs_review} rows)</h2>",
        _review_html(data),
        f"<h2>Rows that failed ({data.n_failing})</h2>",
        _failing_html(data),
        "<p class='note'>Row numbers are 0-based positions in the table. "
        "n/a: the check does not apply to the row (an error row, a missing field, "
        "or a prerequisite check that already failed). "
        "A row needing review counts once under each of its reasons. "
        "Names keep their first character, ID and card numbers their first and last four, "
        "plates their last two; image sources show the file name only.</p>",
        "</main></body></html>\n",
    )
    return "".join(parts)


def write_html(
    text: str, path: str | os.PathLike[str], *, file_mode: int = DEFAULT_FILE_MODE
) -> None:
    """Write the page as UTF-8, mode 0600 unless ``file_mode`` says otherwise."""
    write_private_text(path, text, file_mode)
