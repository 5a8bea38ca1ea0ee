"""The state of one ``ocr-frames review`` session, without any web framework: the output
table (read once), where its images are, the reviews file, and what each request of the
JSON API answers.  :mod:`ocr_frames.review._web` only moves bytes to and from it.

The output Parquet is never written; decisions go to ``OUT.reviews.parquet`` beside it
(:class:`~ocr_frames.review._store.ReviewLog`), so the engine's answers, the answer cache
and the decisions stay separate.  A table without ``check_*`` or ``needs_review`` columns
(a run without ``checks=True``) is checked when it is opened, so its rows are flagged as
``checks=True`` would have flagged them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ocr_frames._sources.display import DisplayError, ImageIndex, Shown
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._tables.parquet import read_metadata
from ocr_frames.checks import add_checks, add_review, report_html
from ocr_frames.kinds import KINDS, spec
from ocr_frames.mask import MASKED_COLUMNS, mask_frame
from ocr_frames.review._apply import kind_of_parquet, review_state
from ocr_frames.review._cells import cell_int, cell_text, missing
from ocr_frames.review._store import DECISIONS, Review, ReviewLog, reviews_path
from ocr_frames.review._view import editable_fields, file_name, row_detail, status_label

__all__ = ["FILTERS", "MAX_LIST", "RequestError", "ReviewSession"]

#: ``--filter`` values: rows flagged by ``needs_review``, rows with an error, every row
FILTERS: Final = ("needs_review", "errors", "all")
#: rows the list view shows at most (``GET /api/rows`` pages with ``offset``/``limit``)
MAX_LIST: Final = 2000
#: a review request body larger than this is refused
MAX_BODY: Final = 64 * 1024
_MAX_TEXT: Final = 2000
_DATE: Final = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


class RequestError(Exception):
    """A request the session refuses: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Row:
    decision: str | None
    fields: dict[str, str]


def _kind_of(path: Path) -> str:
    """The kind an output file says it holds (written by ``recognize_to_parquet`` and
    ``write_parquet``)."""
    kind = kind_of_parquet(path)
    if kind not in KINDS:
        raise ValueError(
            f"{path.name} is not an ocr-frames output (no kind in its Parquet metadata)"
        )
    return kind


class ReviewSession:
    """One output file under review (thread-safe: requests are served by a thread pool)."""

    def __init__(
        self,
        output: str | Path,
        *,
        images: str | Path | None = None,
        base_dir: str | Path | None = None,
        mask: bool = True,
        default_filter: str = "needs_review",
    ) -> None:
        if default_filter not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}, not {default_filter!r}")
        self.output = Path(output)
        if not self.output.is_file():
            raise FileNotFoundError(f"no output file {self.output}")
        self.kind = _kind_of(self.output)
        frame = pd.read_parquet(self.output, dtype_backend="pyarrow")
        if not any(c.startswith("check_") for c in frame.columns):
            frame = add_checks(frame, self.kind)
        if "needs_review" not in frame.columns:
            frame = add_review(frame)
        self.frame = frame.reset_index(drop=True)
        self.mask = mask
        self.default_filter = default_filter
        self.log = ReviewLog(reviews_path(self.output))
        self._sha = [cell_text(v) for v in self.frame["sha256"].tolist()]
        self._pages = [cell_int(v) for v in self.frame["page"].tolist()]
        self.images = ImageIndex(
            [cell_text(v) for v in self.frame["source"].tolist()]
            if "source" in self.frame.columns
            else [None] * len(self.frame),
            self._pages,
            self._sha,
            base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
            images_dir=Path(images) if images is not None else None,
        )
        # the bytes the run sent were made with its max_bytes (recorded since issue 16)
        sent_limit = read_metadata(self.output).get("max_bytes")
        self._max_bytes = sent_limit if isinstance(sent_limit, int) else MAX_IMAGE_BYTES
        # the last few images shown: the row page and its image request decode it once
        self._shown = functools.lru_cache(maxsize=8)(self._display)

    def __len__(self) -> int:
        return len(self.frame)

    def _display(self, i: int, page: int | None) -> Shown:
        return self.images.display(i, page, max_bytes=self._max_bytes)

    # --- reading ------------------------------------------------------------------------

    def _states(self) -> dict[int, _Row]:
        return {
            row: _Row(decision, dict(fields))
            for row, (decision, fields) in review_state(
                self.log.read(), self._sha, self._pages
            ).items()
        }

    def _positions(self, which: str) -> list[int]:
        if which not in FILTERS:
            raise RequestError(400, f"filter must be one of {', '.join(FILTERS)}")
        if which == "all":
            return list(range(len(self.frame)))
        if which == "errors":
            flags = self.frame["errcode"].fillna(0).astype("int64") != 0
        else:
            flags = self.frame["needs_review"].fillna(False).astype(bool)
        return [int(i) for i in flags.to_numpy().nonzero()[0]]

    def rows(
        self, which: str | None = None, offset: int = 0, limit: int = MAX_LIST
    ) -> dict[str, Any]:
        """``GET /api/rows``: the rows of filter ``which`` (row number, status, reasons,
        masked key fields, lowest confidence), ``limit`` of them from ``offset``."""
        which = which or self.default_filter
        positions = self._positions(which)  # refuses an unknown filter
        counts = {f: len(positions if f == which else self._positions(f)) for f in FILTERS}
        page = positions[max(offset, 0) : max(offset, 0) + max(0, min(limit, MAX_LIST))]
        states = self._states()
        part = self.frame.iloc[page]
        shown = mask_frame(part, self.kind) if self.mask else part
        keys = spec(self.kind).key_fields or editable_fields(self.kind)[:2]
        confs = [c for c in (f + "_conf" for f in editable_fields(self.kind)) if c in part]
        out = []
        for n, row in enumerate(page):
            state = states.get(row)
            fields = {k: cell_text(shown[k].iloc[n]) for k in keys if k in shown}
            if state is not None and not self.mask:
                fields.update({k: v for k, v in state.fields.items() if k in fields})
            low = [v for v in (part[c].iloc[n] for c in confs) if _is_number(v)]
            reasons = part["review_reasons"].iloc[n]
            out.append(
                {
                    "row": row,
                    "status": status_label(state.decision if state else None),
                    "needs_review": cell_text(part["needs_review"].iloc[n]) == "True",
                    "reasons": [str(r) for r in reasons] if reasons is not None else [],
                    "errcode": cell_int(part["errcode"].iloc[n]),
                    "source": file_name(part["source"].iloc[n]) if "source" in part else None,
                    "page": cell_int(part["page"].iloc[n]),
                    "fields": fields,
                    "min_conf": round(float(min(low)), 4) if low else None,
                }
            )
        return {
            "kind": self.kind,
            "filter": which,
            "total": len(positions),
            "offset": offset,
            "rows": out,
            "counts": counts,
        }

    def _check_row(self, i: int) -> None:
        if not 0 <= i < len(self.frame):
            raise RequestError(404, f"no row {i} (the table has {len(self.frame)} rows)")

    def detail(self, i: int) -> dict[str, Any]:
        """``GET /api/rows/{i}``: every field with its confidence, checks, warnings, boxes,
        the reviewer's corrections so far, and where the image is."""
        self._check_row(i)
        state = self._states().get(i)
        detail = row_detail(
            self.frame,
            i,
            self.kind,
            mask=self.mask,
            corrections=state.fields if state else None,
            status=status_label(state.decision if state else None),
        )
        why = self.images.missing(i)  # "" when the file is there
        detail["image"] = {"available": not why, "missing": why}
        return detail

    def report(self, link: Callable[[int], str]) -> str:
        """``GET /report``: the HTML audit report of the table (masked, blurred
        thumbnails), each listed row linking to ``link(row)``."""
        return report_html(
            self.frame,
            self.kind,
            thumbnails=True,
            images=self.images.images_dir,
            base_dir=self.images.base_dir,
            review_link=link,
        )

    def neighbours(self, i: int, which: str | None = None) -> tuple[int | None, int | None]:
        """The rows before and after ``i`` in filter ``which`` (for ``k`` and ``j``)."""
        positions = self._positions(which or self.default_filter)
        before = [p for p in positions if p < i]
        after = [p for p in positions if p > i]
        return (before[-1] if before else None, after[0] if after else None)

    def image(self, i: int, page: int | None = None) -> Shown:
        """``GET /api/rows/{i}/image``: the row's image (its own page unless ``page``)."""
        self._check_row(i)
        try:
            shown: Shown = self._shown(i, page)
            return shown
        except DisplayError as exc:
            raise RequestError(404, f"image of row {i}: {exc}") from None

    # --- writing ------------------------------------------------------------------------

    def review(self, i: int, body: bytes) -> dict[str, Any]:
        """``POST /api/rows/{i}/review``: record a decision; answers the row's new detail."""
        self._check_row(i)
        decision, fields, note = self._parse(i, body)
        sha, page = self._sha[i], self._pages[i]
        if decision == "correct":
            records = [
                Review(
                    i, sha, page, name, cell_text(self.frame[name].iloc[i]), value, decision, note
                )
                for name, value in fields.items()
            ]
        else:
            records = [Review(i, sha, page, None, None, None, decision, note)]
        self.log.append(records)
        return self.detail(i)

    def _parse(self, i: int, body: bytes) -> tuple[str, dict[str, str], str | None]:
        if len(body) > MAX_BODY:
            raise RequestError(413, f"request body over {MAX_BODY} bytes")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RequestError(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise RequestError(400, "body must be a JSON object")
        decision = payload.get("decision")
        if decision not in DECISIONS:
            raise RequestError(400, f"decision must be one of {', '.join(DECISIONS)}")
        fields = payload.get("fields") or {}
        note = payload.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > _MAX_TEXT):
            raise RequestError(400, f"note must be text of at most {_MAX_TEXT} characters")
        if not isinstance(fields, dict):
            raise RequestError(400, "fields must be an object {field: value}")
        if decision != "correct" and fields:
            raise RequestError(400, "fields are only given with decision 'correct'")
        if decision == "correct" and not fields:
            raise RequestError(400, "decision 'correct' needs at least one field")
        if note is not None and not _utf8(note):
            raise RequestError(400, "note must be text")
        return decision, self._fields(i, fields), note or None

    def _fields(self, i: int, fields: Mapping[str, Any]) -> dict[str, str]:
        """The corrections of row ``i``, checked: the kind's own fields, non-empty text
        that differs from what was read (a date as ``YYYY-MM-DD``; ``YYYYMMDD`` is taken
        too), and, in a masked session, no ``*`` in a masked field (a masked value typed
        back is no correction)."""
        allowed = editable_fields(self.kind)
        dates = set(spec(self.kind).dates)
        masked = set(MASKED_COLUMNS[self.kind]) if self.mask else set()
        state = self._states().get(i)
        out = {}
        for name, value in fields.items():
            if name not in allowed:
                raise RequestError(400, f"{name!r} is not a field of {self.kind} one may correct")
            if not isinstance(value, str) or len(value) > _MAX_TEXT or not _utf8(value):
                raise RequestError(400, f"{name}: value must be text")
            value = value.strip()
            if not value:
                raise RequestError(400, f"{name}: the new value is empty (nothing corrected)")
            if name in masked and "*" in value:
                raise RequestError(400, f"{name}: type the whole value, not its masked form")
            if name in dates:
                value = _iso_date(name, value)
            undo = state is not None and name in state.fields  # back to what was read
            if value == cell_text(self.frame[name].iloc[i]) and not undo:
                raise RequestError(400, f"{name}: the value read already says so; approve instead")
            out[name] = value
        return out


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from JSON "\ud800"
        return False
    return True


def _iso_date(name: str, text: str) -> str:
    """``text`` as ``YYYY-MM-DD`` (``YYYYMMDD`` as printed on cards is taken too); a
    :class:`RequestError` for anything else or an impossible day."""
    found = _DATE.fullmatch(text)
    if found is not None:
        try:
            return date(*map(int, found.groups())).isoformat()
        except ValueError:
            pass
    raise RequestError(400, f"{name}: a date is written YYYY-MM-DD (or YYYYMMDD)")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not missing(value)
