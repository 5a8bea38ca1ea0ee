"""Review: look at a row's image beside its fields, approve, reject or correct it, and
feed the corrections back into the table.

- ``ocr-frames review OUT.parquet`` (:func:`serve`): a web app on 127.0.0.1 with a list of
  the flagged rows and a row view (image, boxes, fields coloured by confidence, keyboard
  shortcuts), over a small JSON API; needs the ``review`` extra (Starlette, uvicorn).
- Decisions are data: each is appended to ``OUT.reviews.parquet`` (:func:`reviews_path`,
  :class:`ReviewLog`, :func:`read_reviews`), never to the output or the answer cache.
- :func:`apply_reviews` returns the table with the corrections applied, a
  ``review_status`` column and the checks recomputed (``ocr-frames review --apply``).
- :func:`show` renders the row view as HTML in a notebook (``df.ocr.show(i)``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from ocr_frames._base.files import DEFAULT_FILE_MODE
from ocr_frames._tables.parquet import write_parquet
from ocr_frames.review._apply import apply_reviews
from ocr_frames.review._session import FILTERS, ReviewSession
from ocr_frames.review._show import RowView, show
from ocr_frames.review._store import (
    DECISIONS,
    REVIEWS_SCHEMA,
    Review,
    ReviewLog,
    read_reviews,
    reviews_path,
)
from ocr_frames.review._web import ReviewServer, missing_extra

__all__ = [
    "DECISIONS",
    "FILTERS",
    "REVIEWS_SCHEMA",
    "Review",
    "ReviewLog",
    "ReviewServer",
    "ReviewSession",
    "RowView",
    "apply_reviews",
    "apply_to_file",
    "read_reviews",
    "reviews_path",
    "serve",
    "show",
]


def serve(
    output: str | Path,
    *,
    port: int = 0,
    images: str | Path | None = None,
    unmask: bool = False,
    filter: str = "needs_review",
    open_browser: bool = True,
    out: TextIO | None = None,
) -> int:
    """Serve the review of ``output`` until Ctrl-C; the first line printed is
    ``review: http://127.0.0.1:PORT/?token=...``.  Returns the exit status."""
    stream = out if out is not None else sys.stdout
    why = missing_extra()
    if why is not None:
        print(f"ocr-frames: error: {why}", file=sys.stderr)
        return 2
    session = ReviewSession(output, images=images, mask=not unmask, default_filter=filter)
    server = ReviewServer(session, port=port)
    print(f"review: {server.url}", file=stream, flush=True)
    flagged = session.rows("needs_review", limit=0)["total"]
    print(
        f"{len(session)} rows, {flagged} need review; decisions go to "
        f"{session.log.path} (Ctrl-C stops)",
        file=stream,
        flush=True,
    )
    server.serve(open_browser=open_browser)
    return 0


def apply_to_file(
    output: str | Path, dest: str | Path, *, file_mode: int = DEFAULT_FILE_MODE
) -> pd.DataFrame:
    """``OUT.parquet`` with its reviews applied (:func:`apply_reviews`), written to
    ``dest`` (private, atomic); returns the table.  Raises ValueError when ``dest`` is the
    output itself or its reviews file (neither is ever rewritten)."""
    log = reviews_path(output)
    kept = {Path(p).resolve() for p in (output, log, log.with_name(log.name + ".lock"))}
    if Path(dest).resolve() in kept:
        raise ValueError(f"{dest} is the output or its reviews file: write elsewhere")
    session = ReviewSession(output, mask=False)
    applied = apply_reviews(session.frame, session.log.read(), kind=session.kind)
    write_parquet(applied, dest, kind=session.kind, file_mode=file_mode)
    return applied
