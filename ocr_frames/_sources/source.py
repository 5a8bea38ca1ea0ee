"""What a column entry becomes: a :class:`Source` (bytes + sha256, or why not), the lazily
rendered :class:`Pages` of a document, and the :class:`Reader` settings and
:class:`ByteBudget` every reader of :mod:`ocr_frames._sources` works under.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ocr_frames._errors import E_NOT_IMAGE
from ocr_frames._http.urlpolicy import DEFAULT_URL_POLICY, UrlPolicy
from ocr_frames._sources import shrink as _shrink
from ocr_frames._sources.limits import DEFAULT_MAX_SOURCE_BYTES

if TYPE_CHECKING:
    from ocr_frames._cache.derived import DerivedStore

__all__ = ["POSTPONED", "ByteBudget", "Pages", "Reader", "Source", "error", "over_budget"]

log = logging.getLogger("ocr_frames")


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


def error(errcode: int, errmsg: str, sha256: str | None = None) -> Source:
    """A Source that could not be loaded: ``errcode`` from LOCAL_CODES, printable ``errmsg``."""
    return Source(data=None, sha256=sha256, errcode=errcode, errmsg=errmsg)


class ByteBudget:
    """Bytes one :func:`~ocr_frames._sources.batch.load_sources` call may read (thread-safe).

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


#: What :func:`~ocr_frames._sources.batch.load_sources` returns, with a ``budget``, for a
#: value it did not read.
POSTPONED: Final = Source(data=None, sha256=None, errcode=-2, errmsg="not read (byte budget)")


@dataclass(frozen=True, slots=True)
class Reader:
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


def over_budget(reader: Reader, size: int) -> bool:
    """Whether the reader's budget (if any) refuses ``size`` more bytes."""
    return reader.budget is not None and not reader.budget.take(size)


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
