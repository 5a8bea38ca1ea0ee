"""Read one column entry that needs no HTTP client: a local path or ``file://`` URL
(:mod:`ocr_frames._sources.paths`), raw bytes, a ``data:`` URI or bare base64 string, a
path on an fsspec filesystem, or a null.

Every entry becomes exactly one :class:`~ocr_frames._sources.source.Source`; a problem with
it is recorded there (``errcode`` from :data:`ocr_frames._errors.LOCAL_CODES` plus a
printable ``errmsg``), never raised.  Sizes are checked before anything is decoded or read
in full.  fsspec paths whose protocol reaches a host the value names (``ftp://``,
``simplecache::https://`` ...) are refused unless the reader's URL policy allows that host
(:meth:`~ocr_frames._http.urlpolicy.UrlPolicy.fsspec_refusal`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from urllib.parse import unquote_to_bytes

from ocr_frames._errors import (
    E_BAD_INPUT,
    E_DOWNLOAD,
    E_EMPTY,
    E_MISSING,
    E_NOT_A_FILE,
    E_NOT_IMAGE,
    E_NULL,
    E_TOO_LARGE,
    E_URL_REFUSED,
)
from ocr_frames._sources.classify import ValueKind, classify
from ocr_frames._sources.finish import finish
from ocr_frames._sources.limits import DEFAULT_MAX_SOURCE_BYTES, MAX_IMAGE_BYTES
from ocr_frames._sources.messages import (
    display_url,
    exception_detail,
    printable,
    size_mb,
    too_large_file,
)
from ocr_frames._sources.paths import load_file_url, load_path
from ocr_frames._sources.source import POSTPONED, Reader, Source, error, over_budget

__all__ = ["load_batch", "load_classified", "load_fsspec", "load_local", "load_source"]


def load_local(
    value: object,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    shrink: bool = False,
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
) -> Source:
    """Load a null, path, bytes or invalid entry; never raises for a bad entry.

    URLs are not fetched here (that needs a client): they come back as E_BAD_INPUT with
    a hint to use :func:`~ocr_frames._sources.batch.load_sources` or
    :func:`~ocr_frames._sources.download.download`.  With ``shrink``, inputs up to
    ``max_source_bytes`` are read and re-encoded when they must be (see
    :mod:`ocr_frames._sources.shrink`).
    """
    reader = Reader(max_bytes, shrink, max_source_bytes)
    return load_classified(value, classify(value), reader)


#: Name used in the architecture contract.
load_source = load_local


def load_classified(value: object, kind: ValueKind, reader: Reader) -> Source:
    """Load ``value``, already classified as ``kind``; a URL is refused (no client here)."""
    if kind == "path" and isinstance(value, str) and value[:7].lower() == "file://":
        return load_file_url(value, reader)
    if kind == "path" and isinstance(value, (str, os.PathLike)):
        return load_path(value, reader)
    if kind == "bytes" and isinstance(value, (bytes, bytearray, memoryview)):
        return _load_bytes(value, reader)
    if kind == "data" and isinstance(value, str):
        return _load_inline(value, reader)
    if kind == "fsspec" and isinstance(value, str):
        return load_fsspec(value, reader)
    if kind == "null":
        return error(E_NULL, "no image: the value is null")
    if kind == "url":
        return error(E_BAD_INPUT, "URL values are fetched by load_sources() or download()")
    return error(
        E_BAD_INPUT,
        f"unsupported value of type {type(value).__name__!r} "
        "(expected a file path, an http(s) URL, bytes or null)",
    )


def load_batch(
    values: Sequence[object], kinds: Sequence[ValueKind], reader: Reader
) -> list[Source]:
    """Executor job: load many local values (one job per batch keeps overhead low)."""
    return [load_classified(v, k, reader) for v, k in zip(values, kinds, strict=True)]


def _load_inline(text: str, reader: Reader) -> Source:
    """A ``data:`` URI (base64 or percent-encoded) or a bare base64 string."""
    is_uri = text[:5].lower() == "data:"
    shown = "data: URI" if is_uri else "base64 value"
    payload, encoded = text, True
    if is_uri:
        header, comma, payload = text[5:].partition(",")
        if not comma:
            return error(E_BAD_INPUT, "invalid data: URI (no comma before the data)")
        encoded = header.lower().endswith(";base64")
    if len(payload) * (3 / 4 if encoded else 1) >= reader.read_cap:  # before decoding
        return error(
            E_TOO_LARGE,
            f"{shown} holds about {size_mb(len(payload) * 3 // 4)}; "
            f"it must be smaller than {size_mb(reader.read_cap)}",
        )
    if over_budget(reader, len(payload) * 3 // 4 if encoded else len(payload)):
        return POSTPONED
    try:
        if encoded:
            cleaned = re.sub(r"\s+", "", payload).replace("-", "+").replace("_", "/")
            data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return error(E_NOT_IMAGE, f"invalid base64 in the {shown}")
    if not data:
        return error(E_EMPTY, f"empty {shown} (0 bytes)")
    if len(data) >= reader.read_cap:
        return error(E_TOO_LARGE, f"{shown} is {size_mb(len(data))}; too large")
    return finish(data, shown, reader)


def load_fsspec(url: str, reader: Reader) -> Source:
    """Read a path on an fsspec filesystem (size checked first when the backend says it)."""
    shown = display_url(url)
    refused = reader.url_policy.fsspec_refusal(url)
    if refused is not None:  # decided from the text alone: says nothing of the target
        return error(E_URL_REFUSED, f"URL refused: {printable(refused)}: {shown}")
    protocol = printable(url.split(":", 1)[0].lower())
    try:
        import fsspec
    except ImportError:
        hint = 'pip install "ocr-frames[fsspec]"'
        return error(E_BAD_INPUT, f"{protocol}:// paths need fsspec ({hint}): {shown}")
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(reader.storage_options or {}))
    except ImportError:
        return error(
            E_BAD_INPUT,
            f"no fsspec backend installed for {protocol}:// (e.g. s3fs, gcsfs, adlfs): {shown}",
        )
    except ValueError:
        return error(
            E_BAD_INPUT, f"unknown protocol {protocol!r} (not an fsspec filesystem): {shown}"
        )
    except Exception as exc:  # backends raise their own errors (credentials, config)
        return error(E_DOWNLOAD, f"cannot open filesystem ({exception_detail(exc)}): {shown}")
    try:
        info = fs.info(path)
        if info.get("type") == "directory":
            return error(E_NOT_A_FILE, f"not a regular file (directory): {shown}")
        size = info.get("size")
        if isinstance(size, int) and size >= reader.read_cap:
            return error(E_TOO_LARGE, too_large_file(size, reader.read_cap, shown))
        if isinstance(size, int) and over_budget(reader, size):
            return POSTPONED
        with fs.open(path, "rb") as handle:
            data = handle.read(reader.read_cap)
    except FileNotFoundError:
        return error(E_MISSING, f"file not found: {shown}")
    except Exception as exc:  # one bad object never fails the batch
        return error(E_DOWNLOAD, f"read failed ({exception_detail(exc)}): {shown}")
    if not isinstance(data, bytes):
        return error(E_DOWNLOAD, f"read failed (backend returned no bytes): {shown}")
    if reader.budget is not None and not isinstance(size, int):  # size known only now
        reader.budget.add(len(data))
    if len(data) >= reader.read_cap:
        return error(E_TOO_LARGE, too_large_file(len(data), reader.read_cap, shown))
    if not data:
        return error(E_EMPTY, f"empty file (0 bytes): {shown}")
    return finish(data, shown, reader)


def _load_bytes(value: bytes | bytearray | memoryview, reader: Reader) -> Source:
    max_bytes = reader.read_cap
    data = value if type(value) is bytes else bytes(value)
    if not data:
        return error(E_EMPTY, "empty image data (0 bytes)")
    if len(data) >= max_bytes:
        digest = hashlib.sha256(data).hexdigest()
        return error(
            E_TOO_LARGE,
            f"image data is {size_mb(len(data))}; it must be smaller than {size_mb(max_bytes)}",
            digest,
        )
    if over_budget(reader, len(data)):
        return POSTPONED
    return finish(data, "bytes value", reader)
