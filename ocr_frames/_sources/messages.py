"""Make paths, URLs and exceptions safe to show in a row's ``errmsg``.

Error messages are printed, logged and written to Parquet, so what they quote is cleaned
here: paths with undecodable bytes are shown with ``\\xNN`` escapes, control characters
are escaped, long texts are cut in the middle (the file name is at the end), URLs are
shown as ``scheme://host/path`` only (query strings may carry signed tokens), and an
exception whose text holds a URL is named by its type alone.
"""

from __future__ import annotations

import os
from typing import Final

import httpx

__all__ = [
    "display_path",
    "display_url",
    "exception_detail",
    "printable",
    "size_mb",
    "too_large_file",
]

_MAX_SHOWN_CHARS: Final = 240  # long paths/URLs are cut in messages


def printable(text: str) -> str:
    """Escape what cannot be printed or encoded (surrogates, control characters)."""
    if not text.isprintable():
        parts = []
        for char in text:
            if char.isprintable():
                parts.append(char)
            elif "\udc80" <= char <= "\udcff":  # an undecodable byte (surrogateescape)
                parts.append(f"\\x{ord(char) - 0xDC00:02x}")
            else:
                parts.append(ascii(char)[1:-1])
        text = "".join(parts)
    if len(text) > _MAX_SHOWN_CHARS:  # keep both ends: the file name is at the end
        head = _MAX_SHOWN_CHARS // 3
        text = text[:head] + "…" + text[head + 1 - _MAX_SHOWN_CHARS :]
    return text


def display_path(path: str | bytes) -> str:
    """A path (``str`` or ``bytes``) as printable text."""
    text = os.fsdecode(path) if isinstance(path, bytes) else path
    return printable(text) if text else "(empty path)"


def display_url(url: str | httpx.URL) -> str:
    """Show a URL as ``scheme://host[:port]/path``: no user info, query or fragment.

    Query strings often carry signed tokens, so they never reach a message.
    """
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        netloc = parsed.netloc.decode("ascii", "backslashreplace")  # host[:port], no user info
        shown = f"{parsed.scheme}://{netloc}{parsed.path}"
    except (httpx.InvalidURL, TypeError, ValueError):
        text = str(url)
        shown = text.split("?", 1)[0].split("#", 1)[0]
        if "@" in shown.split("://", 1)[-1].split("/", 1)[0]:
            shown = "<URL with user info>"
    return printable(shown)


def size_mb(size: int) -> str:
    """A byte count in MB, two decimals."""
    return f"{size / (1024 * 1024):.2f} MB"


def exception_detail(exc: BaseException) -> str:
    """Name an exception without echoing URLs (which may carry tokens in the query)."""
    text = str(exc)
    name = type(exc).__name__
    if not text or "://" in text or "?" in text:
        return name
    return f"{name}: {printable(text)}"


def too_large_file(size: int, max_bytes: int, path: str | bytes) -> str:
    """The message for a file (or fsspec object) of ``size`` bytes, over ``max_bytes``."""
    return (
        f"file is {size_mb(size)}; images must be smaller than {size_mb(max_bytes)}: "
        f"{display_path(path)}"
    )
