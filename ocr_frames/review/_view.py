"""One row as a reviewer sees it: :func:`row_detail` (the JSON of ``GET /api/rows/{i}``)
and :func:`render_row` (the same detail as HTML: the image with its boxes beside the
fields, used by the review page and by :func:`ocr_frames.show` in notebooks).

A detail is plain JSON data (str, float, bool, None, lists, dicts), so the page, scripts
and tests all see the same thing.  Personal columns are masked exactly as
:func:`ocr_frames.mask.mask_frame` masks them unless the caller asks otherwise.  Boxes are
in the pixel space of the image the engine was sent; the overlay is an SVG with that
``viewBox`` stretched over the ``<img>``, so it stays aligned at any display size.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from ocr_frames.kinds import (
    ANSWERED_BY,
    CONF_SUFFIX,
    CORNERS,
    ESCALATED_BECAUSE,
    FIELD_BOXES,
    SUGGESTED_SUFFIX,
    KindSpec,
    spec,
)
from ocr_frames.mask import mask_frame
from ocr_frames.review._cells import missing

__all__ = [
    "CONFIDENT",
    "UNSURE",
    "ImageRef",
    "chips",
    "confidence_band",
    "editable_fields",
    "escape",
    "file_name",
    "render_row",
    "row_detail",
    "row_summary",
    "status_label",
]

#: ``<field>_conf`` at or above it is drawn green, at or above :data:`UNSURE` amber, else red
CONFIDENT: Final = 0.9
UNSURE: Final = 0.5
#: decisions of the reviews file → the status a row shows
_STATUS: Final = {"approve": "approved", "reject": "rejected", "correct": "corrected"}


def status_label(decision: str | None) -> str:
    """The status of a row whose latest decision is ``decision`` (None: ``unreviewed``)."""
    return _STATUS.get(decision or "", "unreviewed")


def confidence_band(conf: float | None) -> str:
    """``high``, ``medium``, ``low`` or ``none`` (the engine gives no confidence)."""
    if conf is None:
        return "none"
    return "high" if conf >= CONFIDENT else "medium" if conf >= UNSURE else "low"


def editable_fields(kind: str) -> tuple[str, ...]:
    """The fields a reviewer may correct: the kind's text and date fields."""
    return spec(kind).confidence_fields


def _plain(value: object) -> Any:
    """``value`` as JSON data (None for missing; dates as ISO text; numpy scalars)."""
    if not isinstance(value, (np.ndarray, list, tuple, dict)) and missing(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, 4)
    return value


def _corners(item: Mapping[str, Any], prefix: str) -> list[tuple[Any, Any]] | None:
    points = [
        (_plain(item.get(f"{prefix}{c}_x")), _plain(item.get(f"{prefix}{c}_y"))) for c in CORNERS
    ]
    return points if all(x is not None and y is not None for x, y in points) else None


def _field_boxes(text: object) -> dict[str, list[tuple[int, int]]]:
    """The ``field_boxes`` JSON text as {field: 4 corners}; {} for none or malformed."""
    if not isinstance(text, str):
        return {}
    try:
        boxes = json.loads(text)
    except ValueError:
        return {}
    out = {}
    for name, corners in boxes.items() if isinstance(boxes, dict) else ():
        try:
            points = [(int(x), int(y)) for x, y in corners]
        except (TypeError, ValueError):
            continue
        if len(points) == 4:
            out[str(name)] = points
    return out


def _quads(row: Mapping[str, Any], s: KindSpec) -> list[dict[str, Any]]:
    """The card quadrilaterals, the fields' boxes (where the engine gives them) and the
    list items' boxes, in the image's pixels."""
    boxes = []
    for name in s.positions:
        if (points := _corners(row, f"{name}_pos_")) is not None:
            boxes.append({"kind": "card", "label": name, "points": points})
    for name, points in _field_boxes(row.get(FIELD_BOXES)).items():
        boxes.append({"kind": "field", "label": name, "field": name, "points": points})
    items = _plain(row.get(s.list_field)) if s.list_field else None
    for number, item in enumerate(items or []):
        if (points := _corners(item, "pos_")) is not None:
            label = item.get("text") or item.get("name") or f"item {number}"
            boxes.append({"kind": "item", "label": str(label), "points": points})
    return boxes


def _list_items(row: Mapping[str, Any], s: KindSpec) -> list[dict[str, Any]]:
    items = _plain(row.get(s.list_field)) if s.list_field else None
    keep = ("text", "name", "price", "conf")
    return [{k: item.get(k) for k in keep if k in item} for item in items or []]


def _failed_checks(row: Mapping[str, Any]) -> list[str]:
    return [
        name
        for name, value in row.items()
        if name.startswith("check_") and name != "check_passed" and _plain(value) is False
    ]


def row_detail(
    frame: pd.DataFrame,
    i: int,
    kind: str,
    *,
    mask: bool = True,
    corrections: Mapping[str, str] | None = None,
    status: str = "unreviewed",
) -> dict[str, Any]:
    """Everything about row ``i`` (0-based position) of the ``kind`` table ``frame``.

    ``corrections`` (field → value a reviewer entered) are shown beside what the engine
    read; masked like it when ``mask``.
    """
    s = spec(kind)
    one = frame.iloc[[i]]
    shown = mask_frame(one, kind) if mask else one
    row = {str(k): v for k, v in shown.iloc[0].items()}
    corrected = dict(corrections or {})
    if mask and corrected:
        fake = one.copy()
        for field, value in corrected.items():
            if field in fake.columns:
                fake[field] = pd.array([value], dtype=pd.StringDtype("pyarrow"))
        masked_fix = mask_frame(fake, kind).iloc[0]
        corrected = {f: _plain(masked_fix.get(f, v)) for f, v in corrected.items()}
    fields = []
    for name in editable_fields(kind):
        conf = _plain(row.get(name + CONF_SUFFIX))
        fields.append(
            {
                "name": name,
                "value": _plain(row.get(name)),
                "conf": conf,
                "band": confidence_band(conf),
                "suggested": _plain(row.get(name + SUGGESTED_SUFFIX)),
                "corrected": corrected.get(name),
            }
        )
    warnings = [n for n, v in row.items() if n.startswith("warn_") and _plain(v) is True]
    return {
        "row": i,
        "kind": kind,
        "source": _plain(row.get("source")),
        "page": _plain(row.get("page")),
        "sha256": _plain(row.get("sha256")),
        "errcode": _plain(row.get("errcode")),
        "errmsg": _plain(row.get("errmsg")),
        "status": status,
        "needs_review": _plain(row.get("needs_review")),
        "reasons": _plain(row.get("review_reasons")) or [],
        "fields": fields,
        "items": _list_items(row, s),
        "checks_failed": _failed_checks(row),
        "warnings": warnings,
        "quality_score": _plain(row.get("quality_score")),
        "answered_by": _plain(row.get(ANSWERED_BY)),
        "escalated_because": _plain(row.get(ESCALATED_BECAUSE)) or [],
        "boxes": _quads(row, s),
        "masked": mask,
    }


def row_summary(detail: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The list view's line for a row: number, status, reasons and its key fields."""
    keys = set(spec(kind).key_fields) or {f["name"] for f in detail["fields"][:2]}
    return {
        "row": detail["row"],
        "status": detail["status"],
        "needs_review": detail["needs_review"],
        "reasons": detail["reasons"],
        "errcode": detail["errcode"],
        "source": file_name(detail["source"]),
        "page": detail["page"],
        "fields": {
            f["name"]: f["corrected"] if f["corrected"] is not None else f["value"]
            for f in detail["fields"]
            if f["name"] in keys
        },
        "min_conf": min(
            (f["conf"] for f in detail["fields"] if f["conf"] is not None), default=None
        ),
    }


def file_name(source: object) -> str | None:
    """A source shown by its file name only (no directories, no URL query)."""
    if not isinstance(source, str):
        return None
    return source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or source


# --- HTML ---------------------------------------------------------------------------------


def escape(value: object) -> str:
    """``value`` as HTML text, quotes included ('' for None)."""
    return "" if value is None else html.escape(str(value), quote=True)


_e = escape


def _overlay(boxes: Sequence[Mapping[str, Any]], width: int, height: int) -> str:
    shapes = []
    for box in boxes:
        points = " ".join(f"{x},{y}" for x, y in box["points"])
        field = f" data-field='{_e(box['field'])}'" if box.get("field") else ""
        shapes.append(
            f"<polygon class='of-box of-box-{_e(box['kind'])}'{field} points='{_e(points)}'>"
            f"<title>{_e(box['label'])}</title></polygon>"
        )
    return (
        f"<svg class='of-overlay' viewBox='0 0 {width} {height}' preserveAspectRatio='none' "
        f"xmlns='http://www.w3.org/2000/svg'>{''.join(shapes)}</svg>"
    )


def _image_html(detail: Mapping[str, Any], image: ImageRef | None) -> str:
    if image is None or image.src is None:
        why = image.missing if image is not None else "no image"
        return f"<div class='of-missing' role='img'>Image not available: {_e(why)}</div>"
    overlay = _overlay(detail["boxes"], image.width, image.height) if image.width else ""
    note = (
        ""
        if image.matches is not False
        else (
            "<p class='of-mismatch'>This file is not the image that was answered "
            "(its bytes differ from the row's sha256); boxes may not line up.</p>"
        )
    )
    return (
        f"<div class='of-stage'><img class='of-image' alt='document image' "
        f"src='{_e(image.src)}' width='{image.width or ''}' height='{image.height or ''}'>"
        f"{overlay}</div>{note}"
    )


class ImageRef:
    """Where the page finds a row's image: ``src`` (URL or data URI), its pixel size, and
    whether its bytes are those answered; or why there is none (``missing``)."""

    __slots__ = ("height", "matches", "missing", "src", "width")

    def __init__(
        self,
        src: str | None,
        width: int = 0,
        height: int = 0,
        *,
        matches: bool | None = None,
        missing: str = "",
    ) -> None:
        self.src, self.width, self.height = src, width, height
        self.matches, self.missing = matches, missing


def _field_rows(detail: Mapping[str, Any]) -> str:
    lines = []
    for field in detail["fields"]:
        conf = field["conf"]
        shown_conf = "" if conf is None else f"{conf:.2f}"
        value = field["corrected"] if field["corrected"] is not None else field["value"]
        fixed = " of-corrected" if field["corrected"] is not None else ""
        suggestion = (
            f"<span class='of-suggested' title='suggested reading'>→ {_e(field['suggested'])}"
            "</span>"
            if field["suggested"]
            else ""
        )
        lines.append(
            f"<tr class='of-field of-band-{field['band']}{fixed}' data-field='{_e(field['name'])}'"
            f" tabindex='-1'><th>{_e(field['name'])}</th>"
            f"<td class='of-value'><span class='of-text'>{_e(value)}</span>{suggestion}</td>"
            f"<td class='of-conf'>{shown_conf}</td></tr>"
        )
    return "".join(lines)


def _items_html(detail: Mapping[str, Any]) -> str:
    if not detail["items"]:
        return ""
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_e(item.get(k))}</td>" for k in ("text", "name", "price", "conf") if k in item
        )
        + "</tr>"
        for item in detail["items"]
    )
    count = len(detail["items"])
    return (
        f"<details class='of-items'><summary>{count} items</summary><table>{rows}</table></details>"
    )


def chips(names: Sequence[str], css: str) -> str:
    """Each of ``names`` as a labelled chip of class ``css`` (escaped)."""
    return "".join(f"<span class='of-chip {css}'>{_e(n)}</span>" for n in names)


def _answered(detail: Mapping[str, Any]) -> str:
    """`` · answered by wechat (escalated: ...)`` for a cascade's row, else nothing."""
    by = detail.get("answered_by")
    if not by:
        return ""
    why = detail.get("escalated_because") or []
    escalated = f" (escalated: {', '.join(map(str, why))})" if why else ""
    return f" · answered by {_e(by)}{_e(escalated)}"


def render_row(detail: Mapping[str, Any], image: ImageRef | None) -> str:
    """The row view as an HTML fragment: image with boxes, then status, reasons, fields
    (coloured by confidence), failed checks and warnings.  Every value is escaped."""
    error = (
        f"<p class='of-error'>errcode {_e(detail['errcode'])}: {_e(detail['errmsg'])}</p>"
        if detail["errcode"]
        else ""
    )
    return (
        f"<div class='of-row' data-row='{detail['row']}' data-status='{_e(detail['status'])}'"
        f" data-masked='{'true' if detail['masked'] else 'false'}'>"
        f"<div class='of-left'>{_image_html(detail, image)}</div>"
        "<div class='of-right'>"
        f"<p class='of-head'><span class='of-status of-status-{_e(detail['status'])}'>"
        f"{_e(detail['status'])}</span> row {detail['row']} · {_e(file_name(detail['source']))}"
        f"{' · page ' + _e(detail['page']) if detail['page'] else ''}{_answered(detail)}</p>"
        f"{error}<div class='of-reasons'>{chips(detail['reasons'], 'of-reason')}</div>"
        f"<table class='of-fields'><thead><tr><th>field</th><th>value</th><th>conf</th></tr>"
        f"</thead><tbody>{_field_rows(detail)}</tbody></table>{_items_html(detail)}"
        f"<div class='of-checks'>{chips(detail['checks_failed'], 'of-check')}"
        f"{chips(detail['warnings'], 'of-warn')}</div>"
        "</div></div>"
    )
