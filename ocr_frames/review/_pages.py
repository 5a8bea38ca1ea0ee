"""The two pages of the review app, as HTML text: the list of rows and one row.

They are rendered from the very data the JSON API answers (``ReviewSession.rows`` and
``.detail``), and every value is escaped.  Pages hold no inline script or style (the
Content-Security-Policy forbids both): behaviour is ``review.js``, looks ``review.css``,
both served by the app under ``/static/`` with the token like every other route.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any, Final
from urllib.parse import urlencode

from ocr_frames.review._view import ImageRef, chips, render_row
from ocr_frames.review._view import escape as _e

__all__ = ["HELP", "STATIC", "list_page", "row_page", "static_file"]

#: files served under /static/: name → content type (nothing else is reachable there)
STATIC: Final = {
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}
#: the keyboard shortcuts, shown by ``?`` on the row page
HELP: Final = (
    ("j / k", "next / previous row"),
    ("a", "approve the row"),
    ("r", "reject the row"),
    ("↑ / ↓", "focus the previous / next field"),
    ("e", "edit the focused field"),
    ("Enter", "save the edit (a correction)"),
    ("Esc", "cancel the edit, close this help"),
    ("?", "show / hide this help"),
)


def static_file(name: str) -> bytes:
    """The bytes of a static file named in :data:`STATIC` (KeyError for any other)."""
    if name not in STATIC:
        raise KeyError(name)
    return resources.files("ocr_frames.review").joinpath(f"static/{name}").read_bytes()


def _url(path: str, token: str, **params: object) -> str:
    query = {"token": token, **{k: v for k, v in params.items() if v is not None}}
    return f"{path}?{urlencode(query)}"


def _shell(title: str, token: str, body: str, page: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title>"
        # an empty icon: otherwise the browser asks for /favicon.ico without the token
        # (a 401 on the console of every page)
        "<link rel='icon' href='data:,'>"
        f"<link rel='stylesheet' href='{_e(_url('/static/review.css', token))}'>"
        f"<script defer src='{_e(_url('/static/review.js', token))}'></script>"
        f"</head><body data-page='{page}'>{body}</body></html>"
    )


def list_page(data: Mapping[str, Any], token: str, output_name: str) -> str:
    """The list view: rows of the current filter with status, reasons and key fields."""
    which = data["filter"]
    tabs = "".join(
        f"<a class='of-tab{' of-current' if f == which else ''}' "
        f"href='{_e(_url('/', token, filter=f))}'>{_e(f)} ({n})</a>"
        for f, n in data["counts"].items()
    )
    keys = list(data["rows"][0]["fields"]) if data["rows"] else []
    head = "".join(
        f"<th data-sort='{k}'>{_e(k)}</th>"
        for k in ("row", "status", "min_conf", "reasons", "source")
    ) + "".join(f"<th>{_e(k)}</th>" for k in keys)
    lines = []
    for row in data["rows"]:
        link = _url(f"/rows/{row['row']}", token, filter=which)
        conf = "" if row["min_conf"] is None else f"{row['min_conf']:.2f}"
        lines.append(
            f"<tr class='of-line' data-row='{row['row']}' data-status='{_e(row['status'])}'"
            f" data-min_conf='{conf}'>"
            f"<td><a href='{_e(link)}'>{row['row']}</a></td>"
            f"<td><span class='of-status of-status-{_e(row['status'])}'>{_e(row['status'])}"
            f"</span></td><td>{conf}</td>"
            f"<td>{chips(row['reasons'], 'of-reason')}</td>"
            f"<td>{_e(row['source'])}{' p' + _e(row['page']) if row['page'] else ''}</td>"
            + "".join(f"<td>{_e(row['fields'].get(k))}</td>" for k in keys)
            + "</tr>"
        )
    shown = len(data["rows"])
    more = (
        f"<p class='of-note'>Showing the first {shown} of {data['total']} rows "
        "(the API pages further with offset=).</p>"
        if shown < data["total"]
        else ""
    )
    empty = "<p class='of-note'>No rows in this filter.</p>" if not lines else ""
    body = (
        f"<header><h1>{_e(output_name)} · {_e(data['kind'])}</h1><nav>{tabs}"
        f"<a class='of-tab' href='{_e(_url('/report', token))}'>audit report</a></nav>"
        "<p class='of-hint'>j/k move, Enter opens, click a heading to sort</p></header>"
        f"<main><table class='of-list'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>{empty}{more}</main>"
    )
    return _shell(f"review {output_name}", token, body, "list")


def _help() -> str:
    rows = "".join(f"<tr><th><kbd>{_e(k)}</kbd></th><td>{_e(v)}</td></tr>" for k, v in HELP)
    return f"<div id='of-help' class='of-help' hidden><h2>Keyboard</h2><table>{rows}</table></div>"


def row_page(
    detail: Mapping[str, Any],
    image: ImageRef,
    token: str,
    *,
    which: str,
    neighbours: tuple[int | None, int | None],
    output_name: str,
) -> str:
    """The row view: image with boxes beside the fields, with keyboard shortcuts."""
    before, after = neighbours
    i = detail["row"]
    steps = ((before, "of-prev", "k previous"), (after, "of-next", "j next"))
    nav = (
        f"<nav><a href='{_e(_url('/', token, filter=which))}'>← list</a>"
        + "".join(
            f" <a id='{ident}' href='{_e(_url(f'/rows/{r}', token, filter=which))}'>{label}</a>"
            for r, ident, label in steps
            if r is not None
        )
        + "</nav>"
    )
    actions = (
        "<div class='of-actions'><button id='of-approve' type='button'>approve (a)</button>"
        "<button id='of-reject' type='button'>reject (r)</button>"
        "<button id='of-edit' type='button'>edit field (e)</button>"
        "<button id='of-helpbtn' type='button'>keys (?)</button>"
        "<span id='of-message' role='status'></span></div>"
    )
    body = (
        f"<header><h1>{_e(output_name)} · row {i}</h1>{nav}</header>"
        f"<main data-row='{i}' data-api='{_e(f'/api/rows/{i}')}'>{actions}"
        f"{render_row(detail, image)}</main>{_help()}"
    )
    return _shell(f"row {i} · review {output_name}", token, body, "row")
