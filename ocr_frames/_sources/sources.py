"""Turn the entries of an images column into :class:`Source` objects (bytes + sha256).

A column entry may be a file path (``str``, :class:`pathlib.Path`, any
:class:`os.PathLike`, a ``file://`` URL), an ``http(s)://`` URL, a ``data:`` URI or a
bare base64 string, a path on any fsspec filesystem (``s3://``, ``gs://``, ``abfs://``,
``memory://`` ...: any other ``protocol://``), raw image bytes, or a null.  Every entry
becomes exactly one :class:`Source`; a problem with one entry is recorded on its Source
(``errcode`` from :data:`ocr_frames._errors.LOCAL_CODES` plus a printable ``errmsg``)
and never raised, so a batch always comes back whole and in input order.

Checks happen here, before anything is sent (and billed): size (the platform wants
images *smaller* than :data:`MAX_IMAGE_BYTES`; a bigger file is rejected from its
``fstat`` size without being read), emptiness, and the format, sniffed from the first
bytes (JPEG, PNG, GIF, BMP, WebP, TIFF; truncated JPEGs and PNG decompression bombs are
refused).

A ``str`` is told apart as follows (:func:`classify`): ``http(s)://`` is a URL,
``file://`` a local path, ``data:`` a data URI, another ``protocol://`` (two letters or
more, so ``C:\\`` stays a path) or ``protocol::`` chain an fsspec path; a bare base64
string is a str of at least 64 characters made only of the base64 alphabet (line breaks
allowed), whose first bytes decode to an image or PDF signature - a real file name has a
``.`` or a character outside that alphabet; anything else is a local path.

URL downloads follow a :class:`~ocr_frames._http.urlpolicy.UrlPolicy` (against SSRF): every
hop, redirects included, is checked on the address it resolves to, and the connection is
pinned to that address; a refused URL is ``E_URL_REFUSED``, with a message that does not
depend on the target.  Proxies come from the environment as httpx reads them.  fsspec
paths whose protocol reaches a host the value names (``ftp://``, ``simplecache::https://``
...) are refused the same way unless that host is allowed
(:meth:`~ocr_frames._http.urlpolicy.UrlPolicy.fsspec_refusal`).

Error messages are safe to print, log and write to Parquet: paths with undecodable
bytes are shown with ``\\xNN`` escapes, control characters are escaped, URLs are shown
as ``scheme://host/path`` only (query strings may carry signed tokens), and no message
ever contains file contents.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import math
import mmap
import os
import re
import stat
import struct
import threading
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

import httpx
import numpy as np
import pandas as pd

from ocr_frames._errors import (
    E_BAD_INPUT,
    E_DOWNLOAD,
    E_EMPTY,
    E_MISSING,
    E_NOT_A_FILE,
    E_NOT_IMAGE,
    E_NULL,
    E_TOO_LARGE,
    E_UNREADABLE,
    E_URL_REFUSED,
    ConfigurationError,
)
from ocr_frames._http.urlpolicy import (
    DEFAULT_URL_POLICY,
    UrlPolicy,
    UrlRefused,
    download_client,
    pins,
)

if TYPE_CHECKING:
    from ocr_frames._cache.derived import DerivedStore
    from ocr_frames._sources import shrink as _shrink

__all__ = [
    "DEFAULT_DOWNLOAD_CONCURRENCY",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_SOURCE_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "Source",
    "UrlPolicy",
    "ValueKind",
    "classify",
    "display_url",
    "download",
    "load_local",
    "load_source",
    "load_sources",
    "sniff_image",
]

#: The platform wants images smaller than this (``len(data) >= MAX_IMAGE_BYTES`` is too big).
MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024
#: PNG images with more pixels are refused as decompression bombs (Pillow's default).
MAX_IMAGE_PIXELS: Final = 89_478_485
#: Total seconds allowed for one URL download, redirects included.
DEFAULT_DOWNLOAD_TIMEOUT: Final = 20.0
#: Redirects followed per URL before giving up.
DEFAULT_MAX_REDIRECTS: Final = 5
#: URLs downloaded at the same time by :func:`load_sources`.
DEFAULT_DOWNLOAD_CONCURRENCY: Final = 8
#: With ``shrink``, inputs up to this size are read (and re-encoded); bigger ones are refused.
DEFAULT_MAX_SOURCE_BYTES: Final = 64 * 1024 * 1024

ValueKind = Literal["null", "path", "url", "bytes", "data", "fsspec", "invalid"]
UrlMode = Literal["download", "passthrough"]

log = logging.getLogger("ocr_frames")
_MB: Final = 1024 * 1024
_MAX_SHOWN_CHARS: Final = 240  # long paths/URLs are cut in messages
_BATCH_MAX: Final = 256  # local values handed to one executor job
_MAP_MIN_BYTES: Final = 4 * _MB  # documents this big are read outside the C heap
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is rejected after fstat);
# it has no effect on regular files.  O_BINARY matters on Windows only.
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NONBLOCK", 0)
)
_DOWNLOAD_HEADERS: Final = {"Accept-Encoding": "identity"}
_ALLOWED_SCHEMES: Final = ("http", "https")
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1"})
_BMP_HEADER_SIZES: Final = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_PROTOCOL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+(://|::)")
_BASE64_TEXT: Final = re.compile(r"[A-Za-z0-9+/\-_\r\n]+={0,2}\s*")
_BASE64_MIN_CHARS: Final = 64
_SIGNATURES: Final = (
    b"\xff\xd8\xff",
    b"\x89PNG",
    b"GIF8",
    b"BM",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
    b"%PDF-",
)


@dataclass(frozen=True, slots=True)
class Source:
    """One column entry, ready for the cache and the engine, or the reason it is not.

    ``data`` holds the image bytes when ``errcode`` is 0 and the value was not a URL
    passed through; ``sha256`` is the hex digest of every byte string that was read in
    full (also for rejected data, for auditing).  ``url`` is set only in ``img_url``
    passthrough mode, where the platform downloads the image itself.

    With ``shrink``, an input that had to be re-encoded has ``sha256`` of the bytes to
    send and ``original_sha256`` of the bytes read.  When an earlier run already did the
    re-encoding (see :mod:`ocr_frames._cache.derived`), ``data`` is None and only the digest is
    known (:attr:`deferred`): load it again with ``derived=None`` if the answer is not
    cached.  A document (PDF, multi-page TIFF) has one Source per page in ``pages``
    (each with its 1-based ``page``) and no ``data`` or ``sha256`` of its own; loaded
    with ``lazy_pages``, it has ``document`` instead, whose pages are rendered on demand
    (:class:`Pages`).
    """

    data: bytes | None
    sha256: str | None
    errcode: int = 0
    errmsg: str = ""
    url: str | None = None
    original_sha256: str | None = None
    page: int | None = None
    pages: tuple[Source, ...] | None = None
    document: Pages | None = None

    @property
    def ok(self) -> bool:
        """True when the entry can be sent to an engine."""
        return self.errcode == 0

    @property
    def deferred(self) -> bool:
        """True when only the digest of the bytes to send is known (no ``data``)."""
        return self.ok and self.data is None and self.url is None and self.sha256 is not None

    @property
    def held(self) -> int:
        """Bytes of image data kept in memory: ``data``, the pages', a document's original."""
        size = 0 if self.data is None else len(self.data)
        if self.pages:
            size += sum(part.held for part in self.pages)
        return size + (self.document.size if self.document is not None else 0)


@dataclass(frozen=True, slots=True)
class _Reader:
    """How values are read: the platform limit, the read cap, the re-encoding switch."""

    max_bytes: int
    shrink: bool = False
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES
    derived: DerivedStore | None = None
    storage_options: Mapping[str, Any] | None = None
    lazy_pages: bool = False
    budget: ByteBudget | None = None
    url_policy: UrlPolicy = DEFAULT_URL_POLICY  # for fsspec paths (URLs have their own)

    @property
    def read_cap(self) -> int:
        """Inputs of this size or more are refused without being read in full."""
        return max(self.max_bytes, self.max_source_bytes) if self.shrink else self.max_bytes


class ByteBudget:
    """Bytes one :func:`load_sources` call may read (thread-safe).

    A value is read only if its size fits in what is left, or if nothing was read yet (so
    a value bigger than the budget is read alone); otherwise it comes back as
    :data:`POSTPONED`, unread.  Sizes are known before reading for files, ``bytes``,
    data URIs and fsspec paths that report one; a download is started only while
    something is left, and counted once read.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes if they fit (always when nothing is reserved yet)."""
        with self._lock:
            if self.used and self.used + size > self.limit:
                return False
            self.used += size
            return True

    def add(self, size: int) -> None:
        """Count ``size`` bytes already read."""
        with self._lock:
            self.used += size

    @property
    def spent(self) -> bool:
        """Whether nothing is left."""
        return self.used >= self.limit


#: What :func:`load_sources` returns, with a ``budget``, for a value it did not read.
POSTPONED: Final = Source(data=None, sha256=None, errcode=-2, errmsg="not read (byte budget)")


def _over_budget(reader: _Reader, size: int) -> bool:
    return reader.budget is not None and not reader.budget.take(size)


# --- classification -------------------------------------------------------------------


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
    return start.startswith(_SIGNATURES) or (start[4:8] == b"ftyp")


# --- printable text for messages --------------------------------------------------------


def _printable(text: str) -> str:
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


def _display_path(path: str | bytes) -> str:
    text = os.fsdecode(path) if isinstance(path, bytes) else path
    return _printable(text) if text else "(empty path)"


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
    return _printable(shown)


def _size_mb(size: int) -> str:
    return f"{size / _MB:.2f} MB"


def _error(errcode: int, errmsg: str, sha256: str | None = None) -> Source:
    return Source(data=None, sha256=sha256, errcode=errcode, errmsg=errmsg)


# --- format sniffing -------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """Return None when ``data`` looks like a supported image, else why it does not.

    Supported: JPEG (which must end with the EOI marker within its last 64 bytes), PNG
    (at most :data:`MAX_IMAGE_PIXELS` pixels, non-zero size), GIF, BMP, WebP and TIFF.
    Only the first and last bytes are looked at; nothing is decoded.
    """
    if data[:3] == b"\xff\xd8\xff":
        if data.rfind(b"\xff\xd9", max(0, len(data) - 64)) < 0:
            return "truncated JPEG (end-of-image marker FFD9 missing at the end)"
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _check_png(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return None
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return None
    if data[:2] == b"BM" and len(data) >= 18:
        (header_size,) = struct.unpack_from("<I", data, 14)
        if header_size in _BMP_HEADER_SIZES:
            return None
    return _describe_non_image(data)


def _check_png(data: bytes) -> str | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return "damaged PNG (IHDR header missing)"
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0:
        return f"invalid PNG: {width} x {height} pixels"
    if width * height > MAX_IMAGE_PIXELS:
        return (
            f"PNG of {width} x {height} pixels exceeds the {MAX_IMAGE_PIXELS:,} pixel limit "
            "(possible decompression bomb)"
        )
    return None


def _describe_non_image(data: bytes) -> str:
    """Name what non-image data looks like, from a few magic numbers."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return "not an image: PDF documents are not supported (convert pages to images)"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "not supported: HEIC/HEIF image (convert to JPEG)"
        if brand in (b"avif", b"avis"):
            return "not supported: AVIF image (convert to JPEG)"
        return "not an image: ISO media file (video or audio)"
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "not supported: JPEG 2000 image (convert to JPEG)"
    if head.startswith(b"RIFF"):
        return "not an image: RIFF container (WAV/AVI)"
    if head.startswith(b"PK\x03\x04"):
        return "not an image: ZIP archive (or Office document)"
    if head.startswith(b"\x1f\x8b"):
        return "not an image: gzip-compressed data"
    if head.startswith(b"8BPS"):
        return "not supported: Photoshop PSD file"
    sample = data[:1024]
    if b"\x00" not in sample:
        try:
            text = sample.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = sample[: exc.start].decode("utf-8") if exc.start > len(sample) - 4 else ""
        if text:
            lowered = text.lstrip("\ufeff \t\r\n").lower()
            if lowered.startswith(("<!doctype html", "<html")):
                return "not an image: HTML page (an error or login page?)"
            if "<svg" in lowered:
                return "not supported: SVG vector image"
            return "not an image: text file"
    return "not an image: unrecognised data (supported: JPEG, PNG, GIF, BMP, WebP, TIFF)"


def _finish(data: bytes | mmap.mmap, where: str | bytes, reader: _Reader) -> Source:
    """Hash, sniff and (with shrink) convert bytes read in full; ``where`` (a path, or
    printable text) names them."""
    digest = hashlib.sha256(data).hexdigest()
    if isinstance(data, mmap.mmap):  # a big PDF to render lazily (see _read_document)
        return _convert(data, digest, where, reader)
    if reader.shrink:
        from ocr_frames._sources import shrink as _shrink

        document = _shrink.document_type(data)
        if document in ("pdf", "heif") or (document == "tiff" and _shrink.is_multipage_tiff(data)):
            return _convert(data, digest, where, reader)
    problem = sniff_image(data)
    if problem is not None:
        return _error(E_NOT_IMAGE, f"{problem}: {_display_path(where)}", digest)
    if len(data) >= reader.max_bytes:
        if reader.shrink:
            return _convert(data, digest, where, reader)
        return _error(
            E_TOO_LARGE,
            f"image is {_size_mb(len(data))}; it must be smaller than "
            f"{_size_mb(reader.max_bytes)}: {_display_path(where)}",
            digest,
        )
    return Source(data=data, sha256=digest)


def _convert(data: bytes | mmap.mmap, digest: str, where: str | bytes, reader: _Reader) -> Source:
    """Re-encode ``data`` (see :mod:`ocr_frames._sources.shrink`), or, when an earlier run did,
    return the digests it produced without decoding anything."""
    from ocr_frames._sources import shrink as _shrink

    paged_type = _shrink.document_type(data) == "pdf"
    params = _shrink.params_id(reader.max_bytes)
    known = reader.derived.get(digest, params) if reader.derived is not None else None
    if known is not None:
        return _converted(digest, [None] * len(known), known, paged_type or len(known) > 1)
    if isinstance(data, mmap.mmap) or (
        reader.lazy_pages and (paged_type or _shrink.is_multipage_tiff(data))
    ):
        try:
            document = _shrink.Document(data, reader.max_bytes)
        except _shrink.ConversionError as exc:
            return _error(exc.errcode, f"{exc.message}: {_display_path(where)}", digest)
        pages = Pages(document, digest, _display_path(where), reader.derived, params)
        return Source(data=None, sha256=None, original_sha256=digest, document=pages)
    try:
        converted = _shrink.convert(data, reader.max_bytes)
    except _shrink.ConversionError as exc:
        return _error(exc.errcode, f"{exc.message}: {_display_path(where)}", digest)
    sent = [hashlib.sha256(page).hexdigest() for page in converted.pages]
    if reader.derived is not None:
        reader.derived.put(digest, params, sent)
    return _converted(digest, list(converted.pages), sent, paged_type or converted.paged)


def _converted(
    digest: str, pages: Sequence[bytes | None], sent: Sequence[str], paged: bool
) -> Source:
    parts = [
        Source(data=data, sha256=sha, original_sha256=digest, page=number if paged else None)
        for number, (data, sha) in enumerate(zip(pages, sent, strict=True), start=1)
    ]
    if not paged:
        return parts[0]
    return Source(data=None, sha256=None, original_sha256=digest, pages=tuple(parts))


class Pages:
    """The pages of a document loaded with ``lazy_pages``: ``count`` pages rendered one at
    a time by :meth:`render` (thread-safe), from the ``size`` bytes of the original held
    until :meth:`close`."""

    def __init__(
        self,
        document: _shrink.Document,
        original_sha256: str,
        shown: str,
        derived: DerivedStore | None,
        params: str,
    ) -> None:
        self.count = document.count
        self.size = document.size
        self.original_sha256 = original_sha256
        self._document = document
        self._shown = shown
        self._derived = derived
        self._params = params
        self._sent: dict[int, str] = {}
        self._lock = threading.Lock()

    def render(self, number: int) -> Source:
        """Page ``number`` (1-based): its JPEG and digest, or why it cannot be sent."""
        from ocr_frames._sources import shrink as _shrink

        try:
            data = self._document.page(number - 1)
        except _shrink.ConversionError as exc:
            return self._failed(number, exc.errcode, exc.message)
        except Exception as exc:  # a decoder's surprise: one bad page never sinks the run
            log.warning("page %d of %s: %s", number, self._shown, type(exc).__name__)
            message = f"page cannot be rendered ({type(exc).__name__})"
            return self._failed(number, E_NOT_IMAGE, message)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._sent[number] = digest
        return Source(data=data, sha256=digest, original_sha256=self.original_sha256, page=number)

    def _failed(self, number: int, errcode: int, message: str) -> Source:
        return Source(
            data=None,
            sha256=None,
            errcode=errcode,
            errmsg=f"{message}: {self._shown}",
            original_sha256=self.original_sha256,
            page=number,
        )

    def close(self) -> None:
        """Free the document.  Once every page was rendered, remember what was sent for
        the original (:mod:`ocr_frames._cache.derived`): a rerun then renders nothing."""
        self._document.close()
        with self._lock:
            sent = [self._sent.get(number) for number in range(1, self.count + 1)]
        if self._derived is not None and all(sent):
            self._derived.put(self.original_sha256, self._params, [s for s in sent if s])


# --- local values ----------------------------------------------------------------------


def load_local(
    value: object,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    shrink: bool = False,
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
) -> Source:
    """Load a null, path, bytes or invalid entry; never raises for a bad entry.

    URLs are not fetched here (that needs a client): they come back as E_BAD_INPUT with
    a hint to use :func:`load_sources` or :func:`download`.  With ``shrink``, inputs up
    to ``max_source_bytes`` are read and re-encoded when they must be (see
    :mod:`ocr_frames._sources.shrink`).
    """
    reader = _Reader(max_bytes, shrink, max_source_bytes)
    return _load_classified(value, classify(value), reader)


#: Name used in the architecture contract.
load_source = load_local


def _load_classified(value: object, kind: ValueKind, reader: _Reader) -> Source:
    if kind == "path" and isinstance(value, str) and value[:7].lower() == "file://":
        return _load_file_url(value, reader)
    if kind == "path" and isinstance(value, (str, os.PathLike)):
        return _load_path(value, reader)
    if kind == "bytes" and isinstance(value, (bytes, bytearray, memoryview)):
        return _load_bytes(value, reader)
    if kind == "data" and isinstance(value, str):
        return _load_inline(value, reader)
    if kind == "fsspec" and isinstance(value, str):
        return _load_fsspec(value, reader)
    if kind == "null":
        return _error(E_NULL, "no image: the value is null")
    if kind == "url":
        return _error(E_BAD_INPUT, "URL values are fetched by load_sources() or download()")
    return _error(
        E_BAD_INPUT,
        f"unsupported value of type {type(value).__name__!r} "
        "(expected a file path, an http(s) URL, bytes or null)",
    )


def _load_file_url(url: str, reader: _Reader) -> Source:
    """``file:///abs/path`` (or ``file://localhost/...``), percent-decoded, read as a path."""
    parts = urlsplit(url)
    if parts.netloc.lower() not in ("", "localhost"):
        return _error(E_BAD_INPUT, f"file:// URL names another host: {display_url(url)}")
    return _load_path(url2pathname(parts.path), reader)


def _load_inline(text: str, reader: _Reader) -> Source:
    """A ``data:`` URI (base64 or percent-encoded) or a bare base64 string."""
    is_uri = text[:5].lower() == "data:"
    shown = "data: URI" if is_uri else "base64 value"
    payload, encoded = text, True
    if is_uri:
        header, comma, payload = text[5:].partition(",")
        if not comma:
            return _error(E_BAD_INPUT, "invalid data: URI (no comma before the data)")
        encoded = header.lower().endswith(";base64")
    if len(payload) * (3 / 4 if encoded else 1) >= reader.read_cap:  # before decoding
        return _error(
            E_TOO_LARGE,
            f"{shown} holds about {_size_mb(len(payload) * 3 // 4)}; "
            f"it must be smaller than {_size_mb(reader.read_cap)}",
        )
    if _over_budget(reader, len(payload) * 3 // 4 if encoded else len(payload)):
        return POSTPONED
    try:
        if encoded:
            cleaned = re.sub(r"\s+", "", payload).replace("-", "+").replace("_", "/")
            data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return _error(E_NOT_IMAGE, f"invalid base64 in the {shown}")
    if not data:
        return _error(E_EMPTY, f"empty {shown} (0 bytes)")
    if len(data) >= reader.read_cap:
        return _error(E_TOO_LARGE, f"{shown} is {_size_mb(len(data))}; too large")
    return _finish(data, shown, reader)


def _load_fsspec(url: str, reader: _Reader) -> Source:
    """Read a path on an fsspec filesystem (size checked first when the backend says it)."""
    shown = display_url(url)
    refused = reader.url_policy.fsspec_refusal(url)
    if refused is not None:  # decided from the text alone: says nothing of the target
        return _error(E_URL_REFUSED, f"URL refused: {_printable(refused)}: {shown}")
    protocol = _printable(url.split(":", 1)[0].lower())
    try:
        import fsspec
    except ImportError:
        hint = 'pip install "ocr-frames[fsspec]"'
        return _error(E_BAD_INPUT, f"{protocol}:// paths need fsspec ({hint}): {shown}")
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(reader.storage_options or {}))
    except ImportError:
        return _error(
            E_BAD_INPUT,
            f"no fsspec backend installed for {protocol}:// (e.g. s3fs, gcsfs, adlfs): {shown}",
        )
    except ValueError:
        return _error(
            E_BAD_INPUT, f"unknown protocol {protocol!r} (not an fsspec filesystem): {shown}"
        )
    except Exception as exc:  # backends raise their own errors (credentials, config)
        return _error(E_DOWNLOAD, f"cannot open filesystem ({_exception_detail(exc)}): {shown}")
    try:
        info = fs.info(path)
        if info.get("type") == "directory":
            return _error(E_NOT_A_FILE, f"not a regular file (directory): {shown}")
        size = info.get("size")
        if isinstance(size, int) and size >= reader.read_cap:
            return _error(E_TOO_LARGE, _too_large_file(size, reader.read_cap, shown))
        if isinstance(size, int) and _over_budget(reader, size):
            return POSTPONED
        with fs.open(path, "rb") as handle:
            data = handle.read(reader.read_cap)
    except FileNotFoundError:
        return _error(E_MISSING, f"file not found: {shown}")
    except Exception as exc:  # one bad object never fails the batch
        return _error(E_DOWNLOAD, f"read failed ({_exception_detail(exc)}): {shown}")
    if not isinstance(data, bytes):
        return _error(E_DOWNLOAD, f"read failed (backend returned no bytes): {shown}")
    if reader.budget is not None and not isinstance(size, int):  # size known only now
        reader.budget.add(len(data))
    if len(data) >= reader.read_cap:
        return _error(E_TOO_LARGE, _too_large_file(len(data), reader.read_cap, shown))
    if not data:
        return _error(E_EMPTY, f"empty file (0 bytes): {shown}")
    return _finish(data, shown, reader)


def _load_bytes(value: bytes | bytearray | memoryview, reader: _Reader) -> Source:
    max_bytes = reader.read_cap
    data = value if type(value) is bytes else bytes(value)
    if not data:
        return _error(E_EMPTY, "empty image data (0 bytes)")
    if len(data) >= max_bytes:
        digest = hashlib.sha256(data).hexdigest()
        return _error(
            E_TOO_LARGE,
            f"image data is {_size_mb(len(data))}; it must be smaller than {_size_mb(max_bytes)}",
            digest,
        )
    if _over_budget(reader, len(data)):
        return POSTPONED
    return _finish(data, "bytes value", reader)


def _load_path(value: str | os.PathLike[str] | os.PathLike[bytes], reader: _Reader) -> Source:
    max_bytes = reader.read_cap
    try:
        path = os.fspath(value)
    except TypeError:
        return _error(E_BAD_INPUT, f"{type(value).__name__!r} value did not give a path")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return _open_error(exc, path)
    except (ValueError, UnicodeError) as exc:  # NUL byte, unencodable surrogate
        reason = "contains a NUL byte" if "null" in str(exc) else "cannot be encoded"
        return _error(E_UNREADABLE, f"invalid path ({reason}): {_display_path(path)}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = _file_type(info.st_mode)
            return _error(E_NOT_A_FILE, f"not a regular file ({what}): {_display_path(path)}")
        size = info.st_size
        if size == 0:
            return _error(E_EMPTY, f"empty file (0 bytes): {_display_path(path)}")
        if size >= max_bytes:
            return _error(E_TOO_LARGE, _too_large_file(size, max_bytes, path))
        if _over_budget(reader, size):
            return POSTPONED
        data = _read_document(fd, size, reader) or _read_fd(fd, size, max_bytes)
    except OSError as exc:
        return _error(E_UNREADABLE, f"cannot read file ({_reason(exc)}): {_display_path(path)}")
    finally:
        os.close(fd)
    if len(data) >= max_bytes:  # grew after fstat
        return _error(E_TOO_LARGE, _too_large_file(len(data), max_bytes, path))
    if not data:  # shrank after fstat
        return _error(E_EMPTY, f"empty file (0 bytes): {_display_path(path)}")
    return _finish(data, path, reader)


def _read_document(fd: int, size: int, reader: _Reader) -> mmap.mmap | None:
    """A big PDF whose pages will be rendered lazily, read into memory mapped for it alone;
    None for anything else (read as usual).

    Not into the C heap: freed by whichever loader thread read it, a 30 MB buffer would
    stay in that thread's malloc arena (glibc returns such holes to the system only when
    they reach its trim threshold), and a batch of documents read by a pool of threads
    would hold one such hole per thread.
    """
    if not (reader.lazy_pages and reader.shrink) or size < _MAP_MIN_BYTES:
        return None
    if not hasattr(os, "readv") or os.pread(fd, 5, 0) != b"%PDF-":
        return None
    buffer = mmap.mmap(-1, size)
    got = 0
    with memoryview(buffer) as view:
        while got < size and (count := os.readv(fd, [view[got:]])):
            got += count
    if got != size or os.read(fd, 1):  # the file changed size meanwhile: read it as usual
        buffer.close()
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    return buffer


def _read_fd(fd: int, size: int, max_bytes: int) -> bytes:
    """Read a whole regular file, normally with one ``read`` call, never past max_bytes."""
    data = os.read(fd, size + 1)  # one byte more than fstat said, to notice growth
    if len(data) == size:
        return data
    chunks = [data]
    total = len(data)
    while total < max_bytes:
        chunk = os.read(fd, min(_MB, max_bytes - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _open_error(exc: OSError, path: str | bytes) -> Source:
    shown = _display_path(path)
    if isinstance(exc, FileNotFoundError):
        hint = " (only http:// and https:// URLs are downloaded)" if _looks_like_url(path) else ""
        return _error(E_MISSING, f"file not found{hint}: {shown}")
    if isinstance(exc, NotADirectoryError):
        return _error(E_MISSING, f"file not found (a parent is not a directory): {shown}")
    if isinstance(exc, IsADirectoryError) or (
        isinstance(exc, PermissionError) and os.path.isdir(path)  # Windows opens no dirs
    ):
        return _error(E_NOT_A_FILE, f"not a regular file (directory): {shown}")
    return _error(E_UNREADABLE, f"cannot read file ({_reason(exc)}): {shown}")


def _looks_like_url(path: str | bytes) -> bool:
    head = path[:16]
    return "://" in head if isinstance(head, str) else b"://" in head


def _reason(exc: OSError) -> str:
    return _printable(exc.strerror or type(exc).__name__).lower()


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _too_large_file(size: int, max_bytes: int, path: str | bytes) -> str:
    return (
        f"file is {_size_mb(size)}; images must be smaller than {_size_mb(max_bytes)}: "
        f"{_display_path(path)}"
    )


def _load_batch(
    values: Sequence[object], kinds: Sequence[ValueKind], reader: _Reader
) -> list[Source]:
    """Executor job: load many local values (one job per batch keeps overhead low)."""
    return [_load_classified(v, k, reader) for v, k in zip(values, kinds, strict=True)]


# --- URLs ------------------------------------------------------------------------------


async def download(
    url: str,
    *,
    client: httpx.AsyncClient,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    shrink: bool = False,
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
    url_policy: UrlPolicy = DEFAULT_URL_POLICY,
) -> Source:
    """Download one image URL; never raises for a problem with that URL.

    Redirects are followed by hand (at most ``max_redirects``, http/https only); the body
    is streamed and reading stops as soon as ``max_bytes`` is reached (a too-big
    ``Content-Length`` is refused before reading).  ``timeout`` bounds the whole
    download, redirects included.  Failures give E_DOWNLOAD, E_TOO_LARGE, E_EMPTY or
    E_NOT_IMAGE; messages show the URL without its query string.  With ``shrink`` the
    cap is ``max_source_bytes`` and oversize images are re-encoded (in a thread).
    Every hop is checked against ``url_policy`` (E_URL_REFUSED, see
    :mod:`ocr_frames._http.urlpolicy`); a client from :func:`download_client` also pins each
    connection to the address it checked.
    """
    reader = _Reader(max_bytes, shrink, max_source_bytes)
    return await _download(url, client, reader, timeout, max_redirects, url_policy)


async def _download(
    url: str,
    client: httpx.AsyncClient,
    reader: _Reader,
    timeout: float,
    max_redirects: int,
    policy: UrlPolicy,
) -> Source:
    try:
        fetch = _fetch(url, client, reader, max_redirects, policy)
        return await asyncio.wait_for(fetch, timeout)
    except asyncio.TimeoutError:
        return _error(E_DOWNLOAD, f"download timed out after {timeout:g} s: {display_url(url)}")


async def _fetch(
    url: str, client: httpx.AsyncClient, reader: _Reader, max_redirects: int, policy: UrlPolicy
) -> Source:
    shown = display_url(url)
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return _error(E_DOWNLOAD, f"invalid URL: {shown}")
    seen: set[str] = set()
    for redirects in range(max_redirects + 1):
        if current.scheme not in _ALLOWED_SCHEMES:
            scheme = _printable(current.scheme)
            return _error(
                E_DOWNLOAD, f"unsupported URL scheme {scheme!r} (http/https only): {shown}"
            )
        seen.add(str(current))
        after = f" after {redirects} redirect(s)" if redirects else ""
        try:
            if not pins(client, policy):  # a client of the caller's: check before sending
                await policy.check(current)
            async with client.stream(
                "GET", current, headers=_DOWNLOAD_HEADERS, follow_redirects=False
            ) as response:
                if response.is_redirect:
                    current = response.url.join(response.headers["location"])
                    if str(current) in seen:
                        return _error(E_DOWNLOAD, f"redirect loop: {shown}")
                    continue
                if response.status_code >= 300:
                    return _error(E_DOWNLOAD, f"HTTP {response.status_code}{after}: {shown}")
                return await _read_body(response, reader, shown)
        except UrlRefused as exc:  # decided before connecting: says nothing of the target
            return _error(E_URL_REFUSED, f"URL refused: {exc.reason}{after}: {shown}")
        except httpx.TimeoutException as exc:
            return _error(E_DOWNLOAD, f"download timed out ({type(exc).__name__}){after}: {shown}")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            return _error(E_DOWNLOAD, f"download failed ({_exception_detail(exc)}){after}: {shown}")
    return _error(E_DOWNLOAD, f"too many redirects (more than {max_redirects}): {shown}")


async def _read_body(response: httpx.Response, reader: _Reader, shown: str) -> Source:
    """Stream a response body into memory, stopping at the reader's cap."""
    max_bytes = reader.read_cap
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) >= max_bytes:
        return _error(
            E_TOO_LARGE,
            f"download is {_size_mb(int(declared))} (Content-Length); "
            f"images must be smaller than {_size_mb(max_bytes)}: {shown}",
        )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        shown_encoding = _printable(encoding)
        return _error(E_DOWNLOAD, f"unsupported Content-Encoding {shown_encoding!r}: {shown}")
    # Decompress ourselves with an output bound: a small gzip body may inflate hugely.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding.endswith("gzip") else None
    chunks: list[bytes] = []
    total = 0
    try:
        async for raw in response.aiter_raw():
            piece = raw if inflater is None else inflater.decompress(raw, max_bytes - total)
            total += len(piece)
            if total >= max_bytes:
                break
            chunks.append(piece)
        else:
            if inflater is not None:
                if not inflater.eof:
                    return _error(E_DOWNLOAD, f"incomplete gzip body: {shown}")
                piece = inflater.flush()
                total += len(piece)
                chunks.append(piece)
    except zlib.error:
        return _error(E_DOWNLOAD, f"corrupt gzip body: {shown}")
    if total >= max_bytes:
        return _error(
            E_TOO_LARGE,
            f"download exceeds {_size_mb(max_bytes)} (stopped reading); images must "
            f"be smaller than {_size_mb(max_bytes)}: {shown}",
        )
    if total == 0:
        return _error(E_EMPTY, f"empty download (0 bytes): {shown}")
    if reader.shrink:  # re-encoding decodes pixels: not on the event loop
        return await asyncio.to_thread(_finish, b"".join(chunks), shown, reader)
    return _finish(b"".join(chunks), shown, reader)


def _exception_detail(exc: BaseException) -> str:
    """Name an exception without echoing URLs (which may carry tokens in the query)."""
    text = str(exc)
    name = type(exc).__name__
    if not text or "://" in text or "?" in text:
        return name
    return f"{name}: {_printable(text)}"


# --- batches ---------------------------------------------------------------------------


async def load_sources(
    values: Sequence[object],
    *,
    url_mode: UrlMode = "download",
    client: httpx.AsyncClient | None = None,
    max_bytes: int = MAX_IMAGE_BYTES,
    download_concurrency: int = DEFAULT_DOWNLOAD_CONCURRENCY,
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    executor: Executor | None = None,
    shrink: bool = False,
    max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
    derived: DerivedStore | None = None,
    storage_options: Mapping[str, Any] | None = None,
    url_policy: UrlPolicy = DEFAULT_URL_POLICY,
    lazy_pages: bool = False,
    budget: ByteBudget | None = None,
) -> list[Source]:
    """Load a whole column: one :class:`Source` per value, in input order.

    Local files and bytes are read and hashed in batches on ``executor`` (the event
    loop's default thread pool when None) so the loop is never blocked; URLs are
    downloaded concurrently (at most ``download_concurrency`` at a time) with ``client``,
    or with a :func:`~ocr_frames._http.urlpolicy.download_client` created and closed here
    (which honours the usual proxy environment variables).  Every download hop is
    checked against ``url_policy`` (:mod:`ocr_frames._http.urlpolicy`).  Repeated paths and
    URLs are loaded once.
    In ``"passthrough"`` mode URLs are not fetched: they become
    ``Source(data=None, sha256=None, url=value)`` for the platform to download (from
    its own network: the URL policy does not apply).
    With ``shrink``, inputs up to ``max_source_bytes`` are read and re-encoded when the
    platform cannot take them as they are (:mod:`ocr_frames._sources.shrink`); ``derived``
    remembers what was sent for each original, so a rerun skips the re-encoding.
    fsspec paths are read in threads (at most ``download_concurrency`` at a time, each
    within ``download_timeout``) with ``storage_options`` passed to the filesystem.
    With ``lazy_pages``, a document that must be converted (PDF, multi-page TIFF) comes
    back with its pages not rendered yet (``Source.document``).  With a ``budget``,
    values that would overspend it are not read: they come back as :data:`POSTPONED`
    (see :class:`ByteBudget`).
    """
    if url_mode not in ("download", "passthrough"):
        raise ConfigurationError(f"url_mode must be 'download' or 'passthrough', not {url_mode!r}")
    if download_concurrency < 1:
        raise ConfigurationError("download_concurrency must be at least 1")
    options = (derived, storage_options, lazy_pages, budget, url_policy)
    reader = _Reader(max_bytes, shrink, max_source_bytes, *options)
    results: list[Source | None] = [None] * len(values)
    local_values: list[object] = []
    local_kinds: list[ValueKind] = []
    local_slots: list[list[int]] = []
    url_slots: dict[str, list[int]] = {}
    remote_slots: dict[str, list[int]] = {}
    first_slot: dict[object, list[int]] = {}  # dedupe of str/Path values
    for index, value in enumerate(values):
        kind = classify(value)
        if kind == "url":
            assert isinstance(value, str)
            if url_mode == "passthrough":
                results[index] = Source(data=None, sha256=None, url=value)
            else:
                url_slots.setdefault(value, []).append(index)
        elif kind == "fsspec":
            assert isinstance(value, str)
            remote_slots.setdefault(value, []).append(index)
        elif kind == "null" or kind == "invalid":
            results[index] = _load_classified(value, kind, reader)
        else:
            slots = first_slot.get(value) if kind == "path" and _hashable(value) else None
            if slots is not None:
                slots.append(index)
                continue
            slots = [index]
            if kind == "path" and _hashable(value):
                first_slot[value] = slots
            local_values.append(value)
            local_kinds.append(kind)
            local_slots.append(slots)

    loaded_local, loaded_urls, loaded_remote = await asyncio.gather(
        _load_local_batches(local_values, local_kinds, reader, executor),
        _download_all(
            list(url_slots),
            client,
            reader=reader,
            concurrency=download_concurrency,
            timeout=download_timeout,
            max_redirects=max_redirects,
            policy=url_policy,
        ),
        _read_remote_all(
            list(remote_slots), reader, executor, download_concurrency, download_timeout
        ),
    )
    for slots, source in zip(local_slots, loaded_local, strict=True):
        for index in slots:
            results[index] = source
    for slots, source in zip(url_slots.values(), loaded_urls, strict=True):
        for index in slots:
            results[index] = source
    for slots, source in zip(remote_slots.values(), loaded_remote, strict=True):
        for index in slots:
            results[index] = source
    loaded = [source for source in results if source is not None]
    if len(loaded) != len(results):  # never hand back a list that is out of step
        raise RuntimeError("load_sources left a value without a Source")
    return loaded


def _hashable(value: object) -> bool:
    return type(value) is str or isinstance(value, PurePath)


async def _load_local_batches(
    values: list[object], kinds: list[ValueKind], reader: _Reader, executor: Executor | None
) -> list[Source]:
    if not values:
        return []
    loop = asyncio.get_running_loop()
    # Enough batches to keep every worker busy, few enough that scheduling stays cheap.
    size = max(1, min(_BATCH_MAX, math.ceil(len(values) / 16)))
    jobs = [
        loop.run_in_executor(
            executor, _load_batch, values[i : i + size], kinds[i : i + size], reader
        )
        for i in range(0, len(values), size)
    ]
    batches = await asyncio.gather(*jobs)
    return [source for batch in batches for source in batch]


async def _read_remote_all(
    urls: list[str], reader: _Reader, executor: Executor | None, concurrency: int, timeout: float
) -> list[Source]:
    """Read fsspec paths in threads, ``concurrency`` at a time, each within ``timeout``
    seconds (a read still hanging then is left to finish in its thread; its row fails)."""
    if not urls:
        return []
    loop = asyncio.get_running_loop()
    semaphore = asyncio.Semaphore(concurrency)

    async def one(url: str) -> Source:
        async with semaphore:
            job = loop.run_in_executor(executor, _load_fsspec, url, reader)
            try:
                return await asyncio.wait_for(job, timeout)
            except asyncio.TimeoutError:
                return _error(E_DOWNLOAD, f"read timed out after {timeout:g} s: {display_url(url)}")

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def _download_all(
    urls: list[str],
    client: httpx.AsyncClient | None,
    *,
    reader: _Reader,
    concurrency: int,
    timeout: float,
    max_redirects: int,
    policy: UrlPolicy,
) -> list[Source]:
    if not urls:
        return []
    if client is None:
        async with download_client(policy, timeout=timeout) as own_client:
            return await _download_all(
                urls,
                own_client,
                reader=reader,
                concurrency=concurrency,
                timeout=timeout,
                max_redirects=max_redirects,
                policy=policy,
            )
    semaphore = asyncio.Semaphore(concurrency)
    http = client

    async def one(url: str) -> Source:
        async with semaphore:
            if reader.budget is not None and reader.budget.spent:
                return POSTPONED
            source = await _download(url, http, reader, timeout, max_redirects, policy)
            if reader.budget is not None:  # the size is known once read
                reader.budget.add(source.held)
            return source

    return list(await asyncio.gather(*(one(url) for url in urls)))
