"""``of.show(df, i)`` / ``df.ocr.show(i)``: the review app's row view in a notebook.

The same HTML as the app's row page (:func:`~ocr_frames.review._view.render_row`), with
the image embedded as a JPEG data URI (at most ``side`` pixels) and the app's stylesheet
inlined, restricted to its own ``of-`` classes so the notebook's look is untouched.  With
``mask=True`` names and numbers are masked and the image is blurred past reading, so the
output can be saved in a notebook that others read.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Final

import pandas as pd

from ocr_frames._sources.display import DisplayError, ImageIndex, data_uri, thumbnail
from ocr_frames.checks import resolve_kind
from ocr_frames.review._view import ImageRef, render_row, row_detail

__all__ = ["SHOW_SIDE", "RowView", "show"]

#: longest side of the image embedded by :func:`show`, pixels
SHOW_SIDE: Final = 720
_RULE: Final = re.compile(r"([^{}]+)\{([^}]*)\}")


def scoped_css() -> str:
    """The rules of ``review.css`` that style only the row view's own ``of-`` classes."""
    css = resources.files("ocr_frames.review").joinpath("static/review.css").read_text("utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    kept = []
    for rule in _RULE.finditer(css):
        selectors = [s.strip() for s in rule.group(1).split(",")]
        if all("of-" in s for s in selectors):
            kept.append(f"{', '.join(selectors)} {{{rule.group(2)}}}")
    return "\n".join(kept)


class RowView:
    """One row rendered as HTML; Jupyter shows it (``_repr_html_``), ``.html`` is the text."""

    def __init__(self, html: str) -> None:
        self.html = html

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def _image(
    df: pd.DataFrame, i: int, column: str, images: str | Path | None, side: int, blur: bool
) -> ImageRef:
    if column not in df.columns:
        return ImageRef(None, missing=f"no column {column!r} with the image paths (pass column=)")
    row = df.iloc[[i]]
    index = ImageIndex(
        row[column].tolist(),
        row["page"].tolist() if "page" in row else [None],
        row["sha256"].tolist() if "sha256" in row else [None],
        base_dir=Path.cwd(),
        images_dir=Path(images) if images is not None else None,
    )
    try:
        shown = index.display(0)
        small = thumbnail(shown, side=side, blur=blur)
    except DisplayError as exc:
        return ImageRef(None, missing=str(exc))
    return ImageRef(data_uri(small, "image/jpeg"), shown.width, shown.height, matches=shown.matches)


def show(
    df: pd.DataFrame,
    i: int,
    *,
    kind: str | None = None,
    column: str = "source",
    mask: bool = False,
    images: str | Path | None = None,
    side: int = SHOW_SIDE,
) -> RowView:
    """Row ``i`` (0-based position) of the result table ``df`` as the review app shows it:
    the image (from ``df[column]``, or found by file name in ``images``) with the card
    and item boxes, beside the fields coloured by confidence, failed checks, warnings and
    review reasons.  ``kind`` defaults to the one recorded in ``df.attrs``.  ``mask``
    masks names and numbers and blurs the image.  Raises IndexError for a row outside
    the table."""
    if not -len(df) <= i < len(df):
        raise IndexError(f"row {i} is outside the table ({len(df)} rows)")
    i = i % len(df)
    kind = resolve_kind(df, kind)
    detail = row_detail(df, i, kind, mask=mask)
    image = _image(df, i, column, images, side, blur=mask)
    return RowView(
        f"<style>{scoped_css()}</style><div class='of-show'>{render_row(detail, image)}</div>"
    )
