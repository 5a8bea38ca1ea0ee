"""The step every read ends with: hash the bytes, sniff the format, check the size, and
with ``shrink`` re-encode what the platform cannot take (:mod:`ocr_frames._sources.shrink`).

A re-encoding an earlier run already did is looked up in the derived map
(:mod:`ocr_frames._cache.derived`) instead of being done again; a document loaded with
``lazy_pages`` comes back as :class:`~ocr_frames._sources.source.Pages`, not rendered yet.
"""

from __future__ import annotations

import hashlib
import mmap
from collections.abc import Sequence

from ocr_frames._errors import E_NOT_IMAGE, E_TOO_LARGE
from ocr_frames._sources import shrink as _shrink
from ocr_frames._sources.messages import display_path, size_mb
from ocr_frames._sources.sniff import document_type, sniff_image
from ocr_frames._sources.source import Pages, Reader, Source, error

__all__ = ["finish"]


def finish(data: bytes | mmap.mmap, where: str | bytes, reader: Reader) -> Source:
    """Hash, sniff and (with shrink) convert bytes read in full; ``where`` (a path, or
    printable text) names them."""
    digest = hashlib.sha256(data).hexdigest()
    if isinstance(data, mmap.mmap):  # a big PDF to render lazily (see read._read_document)
        return _convert(data, digest, where, reader)
    if reader.shrink:
        document = document_type(data)
        if document in ("pdf", "heif") or (document == "tiff" and _shrink.is_multipage_tiff(data)):
            return _convert(data, digest, where, reader)
    problem = sniff_image(data)
    if problem is not None:
        return error(E_NOT_IMAGE, f"{problem}: {display_path(where)}", digest)
    if len(data) >= reader.max_bytes:
        if reader.shrink:
            return _convert(data, digest, where, reader)
        return error(
            E_TOO_LARGE,
            f"image is {size_mb(len(data))}; it must be smaller than "
            f"{size_mb(reader.max_bytes)}: {display_path(where)}",
            digest,
        )
    return Source(data=data, sha256=digest)


def _convert(data: bytes | mmap.mmap, digest: str, where: str | bytes, reader: Reader) -> Source:
    """Re-encode ``data`` (see :mod:`ocr_frames._sources.shrink`), or, when an earlier run did,
    return the digests it produced without decoding anything."""
    paged_type = document_type(data) == "pdf"
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
            return error(exc.errcode, f"{exc.message}: {display_path(where)}", digest)
        pages = Pages(document, digest, display_path(where), reader.derived, params)
        return Source(data=None, sha256=None, original_sha256=digest, document=pages)
    try:
        converted = _shrink.convert(data, reader.max_bytes)
    except _shrink.ConversionError as exc:
        return error(exc.errcode, f"{exc.message}: {display_path(where)}", digest)
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
