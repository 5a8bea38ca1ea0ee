"""Read a column of images from what a CLI user points at: a table file, a folder, stdin."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final, TextIO

import pandas as pd

from ocr_frames._errors import ConfigurationError

__all__ = ["IMAGE_SUFFIXES", "read_images"]

IMAGE_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pdf", ".heic", ".heif"}
)
COLUMN_GUESSES: Final = ("image", "images", "path", "paths", "file", "filename", "url", "img_url")


def _pick_column(df: pd.DataFrame, column: str | None, where: str) -> list[object]:
    if column is not None:
        if column not in df.columns:
            raise ConfigurationError(
                f"{where}: no column {column!r}; columns are {', '.join(map(str, df.columns))}"
            )
        return list(df[column].tolist())
    if len(df.columns) == 1:
        return list(df.iloc[:, 0].tolist())
    for guess in COLUMN_GUESSES:
        if guess in df.columns:
            return list(df[guess].tolist())
    raise ConfigurationError(
        f"{where}: several columns ({', '.join(map(str, df.columns))}); choose one with --column"
    )


def _walk(folder: Path) -> list[object]:
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    return [str(p) for p in sorted(found)]


def read_images(
    source: str, *, column: str | None = None, stdin: TextIO | None = None
) -> list[object]:
    """The image column named by ``source``.

    ``-``: one path or URL per line on stdin; a folder: every image file below it
    (recursive, sorted, by suffix); ``.csv``/``.tsv``, ``.parquet``, ``.jsonl``/``.ndjson``/
    ``.json``: the ``column`` (or the only column, or one named like image/path/url).
    Relative paths stay relative to the current directory.
    """
    if source == "-":
        stream = stdin or sys.stdin
        return [line.rstrip("\r\n") for line in stream if line.strip()]
    path = Path(source)
    if path.is_dir():
        return _walk(path)
    if not path.exists():
        raise ConfigurationError(f"input not found: {source}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        df = pd.read_csv(
            path, dtype=str, keep_default_na=True, sep="\t" if suffix == ".tsv" else ","
        )
    elif suffix in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        df = pd.read_json(path, lines=suffix != ".json", dtype=False)
    elif suffix in IMAGE_SUFFIXES:
        return [os.fspath(path)]
    else:
        raise ConfigurationError(
            f"cannot read {source}: expected a folder, '-', or a .csv/.tsv/.parquet/.jsonl file"
        )
    return _pick_column(df, column, source)
