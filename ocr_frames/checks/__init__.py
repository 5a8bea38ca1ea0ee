"""Which rows to trust: typed ``check_*`` columns for document tables, links, reports.

>>> import ocr_frames as of
>>> from ocr_frames import checks
>>> df = of.recognize(paths, "idcard", engine=engine)            # doctest: +SKIP
>>> checked = checks.add_checks(df, "idcard")                     # doctest: +SKIP
>>> checked[checked["check_passed"] == False]                     # doctest: +SKIP
>>> checks.report(checked)                                        # doctest: +SKIP
>>> checks.report_html(checked, path="ids.html")                  # doctest: +SKIP

:func:`add_checks` never drops, reorders or re-indexes rows: it returns a copy of the table
with columns appended.  Boolean ``check_*`` columns are True when the row passes, False
when it fails, NA when the check does not apply (``errcode != 0``, a missing field, or a
prerequisite that already failed).  ``check_passed`` sums them up per row and
``check_problems`` says why a row failed (no personal data in it).

Values are normalised before checking: NFKC (full-width digits and letters become ASCII),
whitespace and separators removed, upper-cased (a lowercase ``x`` check character is fine).
Look-alike characters (``O`` for ``0``) are not corrected: they fail the format check.

The checks, per kind, with their standards (see also :data:`CHECKS`):

idcard (``id``, ``gender``, ``valid_date_*``) and drivinglicense (``id_num``, ``sex``...)
    ``check_id_format`` 18 characters, 17 digits + digit/X (GB 11643-1999);
    ``check_id_checksum`` ISO 7064 MOD 11-2 check character (GB 11643-1999, computed by
    ``stdnum.cn.ric``); ``check_id_birth_date`` (date) and ``check_id_birth_date_valid``
    (a real date, not after ``as_of``); ``check_id_age`` (Int64, on ``as_of``);
    ``check_id_sex`` (digit 17: odd 男, even 女) and ``check_id_sex_match`` (with
    ``gender`` / ``sex``); ``check_id_region_known`` (digits 1-6 in GB/T 2260, the table
    shipped with python-stdnum, any period) and ``check_id_province``; ``check_id_valid``
    (format, check character, birth date and region all right).  Licences also get
    ``check_id_birth_date_match`` (printed ``birth_date`` = the ID number's).
    ``check_not_expired`` (ID back ``valid_date_end``, licence ``valid_to``, on or after
    ``as_of``; 长期 never expires) and ``check_dates_ordered``.
bankcard (``number``)
    ``check_card_format`` digits only; ``check_card_length`` 16-19; ``check_card_luhn``
    (ISO/IEC 7812-1, ``stdnum.luhn``); ``check_card_bank`` (issuer from a partial BIN
    table); ``check_card_valid``.
bizlicense (``reg_num``)
    ``check_reg_num_type`` ``uscc`` / ``legacy`` (15 digits) / ``invalid``;
    ``check_uscc_valid`` GB 32100-2015 layout and MOD 31 check character
    (``stdnum.cn.uscc``), NA for a legacy number.
driving (``vin``, ``plate_num``, dates)
    ``check_vin_format`` (ISO 3779: 17 characters, no I/O/Q), ``check_vin_checksum``
    (position 9, GB 16735-2019 / 49 CFR 565.15, hand-written), ``check_vin_valid``;
    ``check_plate_valid`` / ``check_plate_type`` (GA 36-2018, hand-written);
    ``check_dates_ordered`` (``register_date`` <= ``issue_date``).
platenum (``number``)
    ``check_plate_valid``, ``check_plate_type``.
every kind
    ``check_image_unique`` / ``check_image_group`` (same image bytes as another row) and,
    for kinds with a document number, ``check_number_unique`` / ``check_number_group``
    (the same number on another image): see :func:`duplicates`.

Which rows need a human look: :func:`add_review` appends ``needs_review`` (bool) and
``review_reasons`` (a list of short texts that name columns, never values), as
``recognize(..., checks=True)`` or ``quality=True`` do.  The reasons, in order:
``errcode <n>``; each failing ``check_*`` column (False, not NA; the composite ones aside);
each ``warn_*`` quality warning that fires; ``low confidence: <field>`` for each
``<field>_conf`` below the threshold (:data:`DEFAULT_REVIEW_THRESHOLD`, 0.9) or a list
column with an item's ``conf`` below it; ``suggestion: <field>`` for each non-null
``<field>_suggested``.  :func:`report` and :func:`report_html` count the rows per reason.

Across tables, :func:`link` pairs an ID card with a driver's licence (or a registration
with a plate image) and says which fields agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from ocr_frames._base.files import DEFAULT_FILE_MODE
from ocr_frames.checks._apply import check_columns
from ocr_frames.checks._catalogue import CHECKS, CheckInfo
from ocr_frames.checks._common import Column, row_ok
from ocr_frames.checks._duplicates import DuplicateKeys
from ocr_frames.checks._link import link
from ocr_frames.checks._report import (
    ReportData,
    render_html,
    resolve_kind,
    summary_table,
    write_html,
)

# the review threshold's one definition; the run options take their default from here
from ocr_frames.checks._review import DEFAULT_REVIEW_THRESHOLD as DEFAULT_REVIEW_THRESHOLD
from ocr_frames.checks._review import add_review
from ocr_frames.kinds import check_kind

__all__ = [
    "CHECKS",
    "CheckInfo",
    "add_checks",
    "add_review",
    "duplicates",
    "link",
    "report",
    "report_html",
    "resolve_kind",
]

_ATTRS_KEY = "ocr_frames_checks"


def _as_of(as_of: date | None) -> date:
    if as_of is None:
        return date.today()
    if isinstance(as_of, datetime):
        return as_of.date()
    if isinstance(as_of, date):
        return as_of
    raise TypeError(f"as_of must be a datetime.date, not {type(as_of).__name__}")


def _with_columns(df: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    out: pd.DataFrame = df.copy()
    for column in columns:  # positional arrays: no index alignment, duplicate labels are fine
        out[column.name] = column.values
    return out


def add_checks(df: pd.DataFrame, kind: str, *, as_of: date | None = None) -> pd.DataFrame:
    """A copy of the ``kind`` table ``df`` with the typed ``check_*`` columns appended.

    Same rows, order and index; existing columns untouched (check columns already present
    are recomputed in place).  ``as_of`` (default: today) is the date against which
    expiry, future birth dates and ages are judged.  Works on frames from
    :func:`ocr_frames.recognize` and on ones read back from Parquet.  Raises ValueError if
    a column of the kind's schema that a check needs is missing.
    """
    day = _as_of(as_of)
    out = _with_columns(df, check_columns(df, check_kind(kind), day))
    out.attrs[_ATTRS_KEY] = {"kind": kind, "as_of": day.isoformat()}
    return out


def duplicates(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A copy of ``df`` with only the duplicate columns (also part of :func:`add_checks`).

    ``check_image_unique`` / ``check_image_group``: the same ``sha256`` on several rows.
    ``check_number_unique`` / ``check_number_group``: the same document number (ID number,
    card number, registration number, VIN, plate) read from more than one distinct image.
    Groups are the 0-based position of the first row of the group; NA when unique.
    """
    keys = DuplicateKeys(check_kind(kind))
    keys.add(df, row_ok(df))
    return _with_columns(df, keys.columns())


def _checked(df: pd.DataFrame, kind: str | None, as_of: date | None) -> tuple[pd.DataFrame, str]:
    kind = resolve_kind(df, kind)
    if "check_passed" not in df.columns:
        df = add_checks(df, kind, as_of=as_of)
    return df, kind


def report(df: pd.DataFrame, kind: str | None = None, *, as_of: date | None = None) -> pd.DataFrame:
    """Counts per boolean check column, indexed by check name (``check_passed`` last).

    Columns: ``description``, ``standard`` (strings), ``passed``, ``failed``,
    ``not_applicable`` (Int64; they add up to the number of rows).  The review counts are
    in ``attrs``: ``attrs["needs_review"]`` the rows with a reason, and
    ``attrs["review_reasons"]`` a dict reason → rows, most frequent first (from the
    ``review_reasons`` column, computed by :func:`add_review` when ``df`` has none).
    ``df`` may be checked already (by :func:`add_checks`, also read back from Parquet);
    otherwise it is checked here for ``kind`` (default: the kind ``recognize`` records in
    ``df.attrs``) and ``as_of``.
    """
    checked, kind = _checked(df, kind, as_of)
    return summary_table(checked, kind)


def report_html(
    df: pd.DataFrame,
    kind: str | None = None,
    path: str | Path | None = None,
    *,
    as_of: date | None = None,
    title: str | None = None,
    max_rows: int = 500,
    file_mode: int = DEFAULT_FILE_MODE,
    thumbnails: bool = False,
    images: str | Path | None = None,
    base_dir: str | Path | None = None,
    review_link: Callable[[int], str] | None = None,
) -> str:
    """A self-contained HTML page: the counts per check, the rows to review and the
    failing rows, PII masked.

    Returns the page; also writes it (UTF-8, mode ``file_mode``: 0600 by default, the page
    names people even masked) to ``path`` if given.  At most ``max_rows`` rows to review
    (a non-empty ``review_reasons``) and ``max_rows`` failing rows are listed, by their
    0-based position in ``df``.  ``kind`` and ``as_of`` as for :func:`report`.  Masking:
    names keep their first character, ID and card numbers their first and last four
    characters, plates their last two, birth dates their year (:mod:`ocr_frames.mask`);
    image sources are shown by file name only.

    ``thumbnails``: each listed row also shows its image (the local file its ``source``
    names, relative paths from ``base_dir``, default the current directory; or, when the
    files moved, the file of that name in the folder ``images``), a small JPEG embedded
    in the page and always blurred past reading; a row whose image is missing, unreadable
    or a URL shows "no image".  Raises ValueError when ``images`` is not a folder.
    ``review_link``: each row number links to ``review_link(row)`` (escaped), e.g. the
    review app's ``/rows/{row}?token=...``.  The page has no scripts, no external assets
    and one ``<style>`` element, ``checks._report.REPORT_CSS``.
    """
    checked, kind = _checked(df, kind, as_of)
    meta = checked.attrs.get(_ATTRS_KEY)
    day = meta.get("as_of") if isinstance(meta, dict) else None
    data = ReportData(kind, max_rows=max_rows)
    data.add(checked)
    text = render_html(
        data,
        as_of=str(day or _as_of(as_of)),
        title=title,
        thumbnails=thumbnails,
        images=images,
        base_dir=base_dir,
        review_link=review_link,
    )
    if path is not None:
        write_html(text, path, file_mode=file_mode)
    return text
