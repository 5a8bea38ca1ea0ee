"""Say what kind of location a column entry is, without reading anything.

A ``str`` is told apart as follows: ``http(s)://`` is a URL, ``file://`` a local path,
``data:`` a data URI, another ``protocol://`` (two letters or more, so ``C:\\`` stays a
path) or ``protocol::`` chain an fsspec path; a bare base64 string is a str of at least 64
characters made only of the base64 alphabet (line breaks allowed), whose first bytes
decode to an image or PDF signature - a real file name has a ``.`` or a character outside
that alphabet; anything else is a local path.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from typing import Final, Literal

import numpy as np
import pandas as pd

from ocr_frames._sources.sniff import starts_like_a_file

__all__ = ["ValueKind", "classify"]

ValueKind = Literal["null", "path", "url", "bytes", "data", "fsspec", "invalid"]

_PROTOCOL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+(://|::)")
_BASE64_TEXT: Final = re.compile(r"[A-Za-z0-9+/\-_\r\n]+={0,2}\s*")
_BASE64_MIN_CHARS: Final = 64


def classify(value: object) -> ValueKind:
    """Say what a column entry is: ``"null"``, ``"path"``, ``"url"``, ``"bytes"``,
    ``"data"``, ``"fsspec"`` or ``"invalid"``.

    None, NaN, ``pd.NA`` and ``pd.NaT`` are null; a ``str`` is sorted by the rules of the
    module docstring (URL, ``file://`` path, data URI or base64, fsspec path, local path);
    an :class:`os.PathLike` is a path; ``bytes``, ``bytearray`` and ``memoryview`` are raw
    image data; the rest is invalid.  Nothing is read or decoded beyond a few characters.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, str):
        return _classify_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, os.PathLike):
        return "path"
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return "null"
    if isinstance(value, np.datetime64) and np.isnat(value):
        return "null"
    return "invalid"


def _classify_text(text: str) -> ValueKind:
    head = text[:8].lower()
    if head.startswith(("http://", "https://")):
        return "url"
    if head.startswith("file://"):
        return "path"
    if head.startswith("data:"):
        return "data"
    if _PROTOCOL.match(text, 0, 64):
        return "fsspec"
    return "data" if _looks_like_base64(text) else "path"


def _looks_like_base64(text: str) -> bool:
    if len(text) < _BASE64_MIN_CHARS or not _BASE64_TEXT.fullmatch(text, 0, 4096):
        return False
    head = text[:24].replace("\n", "").replace("\r", "")[:16]
    try:
        start = base64.b64decode(head.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return starts_like_a_file(start)
