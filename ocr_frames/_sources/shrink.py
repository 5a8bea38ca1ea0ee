"""Re-encode what the platform cannot take as it is into JPEGs it can.

Used by the readers of :mod:`ocr_frames._sources` when ``shrink`` is on (the default of the
public API):

* images of :data:`~ocr_frames._sources.limits.MAX_IMAGE_BYTES` or more (phone photos of ID
  cards are 3-8 MB) are turned upright (EXIF orientation), scaled down to a long side of
  at most :data:`MAX_LONG_SIDE` pixels and encoded as JPEG, lowering the quality and then
  the size in steps until the result is under the limit (never below
  :data:`MIN_LONG_SIDE`, where ID-card text stops being legible);
* multi-page TIFFs, PDFs (``pypdfium2``, extra ``ocr-frames[pdf]``) and HEIC/HEIF photos
  (``pillow-heif``, extra ``ocr-frames[heic]``) become one JPEG per page the same way.

Images that are sendable as they are are never touched, not even to apply an EXIF
rotation: their bytes, and so their cache keys, stay exactly what they were, and the
platform reads the orientation tag itself.  Only images that must be re-encoded anyway
are turned upright.

Decompression bombs are refused from the header, before any pixel is decoded: more than
:data:`~ocr_frames._sources.limits.MAX_IMAGE_PIXELS` pixels per image or page, more than
:data:`MAX_PAGES` pages.  Every failure is a :class:`ConversionError` carrying a
:data:`~ocr_frames._errors.LOCAL_CODES` code; nothing here raises anything else.

A :class:`Document` renders its pages one at a time, when asked: a 100-page scan is ~100
MB of page JPEGs, so a run renders each page when its chunk is formed and lets it go once
sent, instead of holding every page of every document.  PDFium is not thread-safe, not
even across documents: every PDFium call is made under one process-wide lock (only the
rasterising; the JPEG encoding runs in parallel).  Closing a document hands the C heap's
free memory back to the system (``malloc_trim``, glibc only): glibc keeps freed buffers of
up to 32 MB in its heaps once a buffer that big was freed, and rendering frees page-sized
ones all the time, so a batch of PDFs would otherwise hold far more than it uses.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import math
import mmap
import threading
from dataclasses import dataclass
from typing import Any, Final

import PIL
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr_frames._errors import E_NOT_IMAGE, E_TOO_LARGE
from ocr_frames._sources.limits import MAX_IMAGE_PIXELS
from ocr_frames._sources.sniff import document_type

__all__ = [
    "MAX_LONG_SIDE",
    "MAX_PAGES",
    "MIN_LONG_SIDE",
    "PDF_DPI",
    "RECIPE",
    "ConversionError",
    "Converted",
    "Document",
    "convert",
    "is_multipage_tiff",
    "params_id",
]

#: Version of the encoding recipe below; bump it whenever the bytes produced change.
RECIPE: Final = "jpeg-v2"
#: EXIF tags carried into a re-encoded image: the software that wrote it (Software,
#: ProcessingSoftware), so that ``quality=True`` still sees an editor's name
#: (``warn_edited``) in what is sent.  Nothing else is kept (no location, no orientation).
KEPT_EXIF_TAGS: Final = (0x0131, 0x000B)
#: Re-encoded images are at most this many pixels on their long side.
MAX_LONG_SIDE: Final = 4096
#: Below this long side, text on a card photo is no longer legible: give up instead.
MIN_LONG_SIDE: Final = 1024
#: JPEG qualities tried at each size, best first.
QUALITIES: Final = (90, 80, 70)
#: Pages of one document (PDF, TIFF) converted at most; more is refused.
MAX_PAGES: Final = 100
#: Resolution PDF pages are rendered at (capped by MAX_LONG_SIDE).
PDF_DPI: Final = 200
_PDFIUM_LOCK: Final = threading.Lock()  # PDFium must never be called from two threads at once


class ConversionError(Exception):
    """An input that cannot be converted: ``errcode`` from LOCAL_CODES, printable message."""

    def __init__(self, errcode: int, message: str) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.message = message


@dataclass(frozen=True)
class Converted:
    """JPEG bytes to send, one per page; ``paged`` when the input was a document (PDF,
    multi-page TIFF), whose rows get page numbers."""

    pages: tuple[bytes, ...]
    paged: bool


def params_id(max_bytes: int) -> str:
    """Everything that decides the bytes produced: part of the ``original → sent`` key."""
    return f"{RECIPE}:pillow-{PIL.__version__}:{max_bytes}"


def is_multipage_tiff(data: bytes) -> bool:
    """Whether a TIFF has more than one page (reads the directory chain only)."""
    try:
        with Image.open(io.BytesIO(data), formats=["TIFF"]) as img:
            return int(getattr(img, "n_frames", 1)) > 1
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,  # Pillow's TIFF reader on a broken directory chain
        TypeError,  # ... and on a page without dimensions
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,  # raised when warnings are errors
        UserWarning,  # "Corrupt EXIF data", likewise
    ):
        return False  # not decodable: sent as it is, like before (huge: refused by convert)


def convert(data: bytes, max_bytes: int) -> Converted:
    """Re-encode ``data`` (an image, a PDF or a HEIC photo) into JPEG pages under ``max_bytes``.

    Raises :class:`ConversionError` only.
    """
    kind = document_type(data)
    if kind == "pdf" or (kind == "tiff" and is_multipage_tiff(data)):
        with contextlib.closing(Document(data, max_bytes)) as document:
            pages = tuple(document.page(index) for index in range(document.count))
        return Converted(pages, kind == "pdf" or len(pages) > 1)
    if kind == "heif":
        _register_heif()
    img = _open(data)
    with img:
        return Converted((_encode(img, max_bytes),), False)


class Document:
    """A PDF or multi-page TIFF whose pages are rendered one at a time, on demand.

    Opening reads only what it takes to count the pages (more than :data:`MAX_PAGES`, or
    none, is refused); :meth:`page` renders one page and encodes it exactly as
    :func:`convert` does.  Safe to share between threads (pages of one document are
    rendered one at a time).  Holds the bytes it was opened from, and one page's pixels,
    until :meth:`close`.  Raises :class:`ConversionError` only.

    A PDF page is rasterised into the same buffer every time, as RGBX, which Pillow uses
    in place and encodes as is (same JPEG bytes as from RGB): no page-sized buffer is
    allocated and freed per page, which would leave the C heap fragmented.
    """

    def __init__(self, data: bytes | mmap.mmap, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = len(data)
        self._lock = threading.Lock()  # one page at a time (they share the pixel buffer)
        self._pdf: Any = None
        self._tiff: Image.Image | None = None
        self._pixels: Any = None  # ctypes buffer the PDF pages are rasterised into
        if document_type(data) == "pdf":
            with _PDFIUM_LOCK:
                self._pdf = _pdf_call("PDF cannot be opened", _open_pdf, data)
                count = len(self._pdf)
            what = "PDF"
        else:
            self._tiff = _open(data)
            try:
                count = int(getattr(self._tiff, "n_frames", 1))
            except (OSError, ValueError, SyntaxError, TypeError, EOFError) as exc:
                self.close()
                raise ConversionError(
                    E_NOT_IMAGE, f"document cannot be read ({_detail(exc)})"
                ) from None
            what = "document"
        if count > MAX_PAGES or count == 0:
            self.close()
            limit = f"has {count} pages (limit {MAX_PAGES})" if count else "has no pages"
            raise ConversionError(E_NOT_IMAGE, f"{what} {limit}")
        self.count: int = count

    def page(self, index: int) -> bytes:
        """Page ``index`` (0-based) as a JPEG under ``max_bytes``."""
        with self._lock:
            if self._pdf is not None:
                pdf = self._pdf
                with _PDFIUM_LOCK:  # a rendering has no EXIF orientation to apply
                    # pdf[index] loads the page: inside _pdf_call, whose errors are rows
                    image = _pdf_call(
                        "PDF page cannot be rendered", lambda: self._render(pdf[index])
                    )
                return _jpeg(image, self.max_bytes)  # (before the next page reuses the buffer)
            if self._tiff is not None:
                try:
                    self._tiff.seek(index)
                except (OSError, ValueError, SyntaxError, TypeError, EOFError) as exc:
                    raise ConversionError(
                        E_NOT_IMAGE, f"document page cannot be read ({_detail(exc)})"
                    ) from None
                _check_pixels(self._tiff.size)
                upright = _upright(self._tiff)
            else:
                raise ConversionError(E_NOT_IMAGE, "document already closed")
        return _jpeg(upright, self.max_bytes)

    def _render(self, page: Any) -> Image.Image:
        """Rasterise a PDF page at :data:`PDF_DPI` (long side capped) into the document's
        pixel buffer; closes the page.  (PDFium lock held.)"""
        import pypdfium2 as pdfium

        def bitmap(width: int, height: int, format: int, rev_byteorder: bool) -> Any:
            if self._pixels is None or len(self._pixels) < width * height * 4:
                self._pixels = None  # the old one first
                self._pixels = (ctypes.c_ubyte * (width * height * 4))()
            return pdfium.PdfBitmap.new_native(
                width, height, format, rev_byteorder, buffer=self._pixels
            )

        try:
            width, height = page.get_size()  # points (1/72 inch)
            if width <= 0 or height <= 0:
                raise ConversionError(E_NOT_IMAGE, "PDF page has no area")
            scale = min(PDF_DPI / 72, MAX_LONG_SIDE / max(width, height))
            _check_pixels((math.ceil(width * scale), math.ceil(height * scale)))
            rendered = page.render(
                scale=scale, rev_byteorder=True, prefer_bgrx=True, bitmap_maker=bitmap
            )
            try:
                image: Image.Image = rendered.to_pil()  # RGBX over the buffer, no copy
            finally:
                rendered.close()
        finally:
            page.close()
        return image

    def close(self) -> None:
        """Free the document (and the bytes it was opened from); idempotent."""
        with self._lock:
            pdf, self._pdf = self._pdf, None
            tiff, self._tiff = self._tiff, None
            self._pixels = None
            if pdf is not None:
                with _PDFIUM_LOCK:
                    pdf.close()
        if tiff is not None:
            tiff.close()
        if pdf is not None or tiff is not None:
            pdf = tiff = None  # the last references to the original's bytes: free them first
            trim_heap()


def _open(data: bytes | mmap.mmap) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Image.open checks the header's size; the warning is an error under -W error
        raise ConversionError(E_NOT_IMAGE, f"possible decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, TypeError) as exc:
        raise ConversionError(E_NOT_IMAGE, f"image cannot be decoded ({_detail(exc)})") from None
    _check_pixels(img.size)
    return img


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise ConversionError(
            E_NOT_IMAGE,
            f"image of {width} x {height} pixels exceeds the {MAX_IMAGE_PIXELS:,} pixel limit "
            "(possible decompression bomb)",
        )


def _encode(img: Image.Image, max_bytes: int) -> bytes:
    """One image → upright RGB JPEG under ``max_bytes`` (see the module docstring)."""
    return _jpeg(_upright(img), max_bytes, _kept_exif(img))


def _kept_exif(img: Image.Image) -> bytes:
    """The original's :data:`KEPT_EXIF_TAGS` as EXIF bytes (empty when it has none)."""
    try:
        exif = img.getexif()
        kept = {tag: exif[tag] for tag in KEPT_EXIF_TAGS if isinstance(exif.get(tag), str)}
    except Exception:
        return b""
    if not kept:
        return b""
    out = Image.Exif()
    for tag, value in kept.items():
        out[tag] = value
    return out.tobytes()


def _upright(img: Image.Image) -> Image.Image:
    """The image turned by its EXIF orientation, in a mode JPEG takes (decodes it)."""
    try:
        return _rgb(ImageOps.exif_transpose(img))
    except (OSError, ValueError, SyntaxError, TypeError, Image.DecompressionBombError) as exc:
        raise ConversionError(E_NOT_IMAGE, f"image cannot be decoded ({_detail(exc)})") from None


def _jpeg(upright: Image.Image, max_bytes: int, exif: bytes = b"") -> bytes:
    """An RGB or L image → JPEG under ``max_bytes``, scaled down as little as needed."""
    side = min(max(upright.size), MAX_LONG_SIDE)
    while True:
        scaled = _fit(upright, side)
        for quality in QUALITIES:
            out = io.BytesIO()
            scaled.save(out, "JPEG", quality=quality, optimize=True, exif=exif)
            if out.tell() < max_bytes:
                return out.getvalue()
        if side <= MIN_LONG_SIDE:
            raise ConversionError(
                E_TOO_LARGE,
                f"image cannot be re-encoded under {max_bytes / 1048576:.2f} MB "
                f"at a legible size ({MIN_LONG_SIDE} px long side)",
            )
        # JPEG size grows about with the pixel count: aim a little under the limit
        side = max(MIN_LONG_SIDE, int(side * math.sqrt(max_bytes / out.tell()) * 0.9))


def _rgb(img: Image.Image) -> Image.Image:
    """JPEG wants RGB or L: transparency goes on white, 16-bit and palettes are converted."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if img.mode in ("1", "I;16", "I;16B", "I;16L", "I", "F"):
        return img.convert("L") if img.mode == "1" else ImageOps.autocontrast(img.convert("L"))
    return img.convert("RGB")


def _fit(img: Image.Image, side: int) -> Image.Image:
    width, height = img.size
    if max(width, height) <= side:
        return img
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _open_pdf(data: bytes | mmap.mmap) -> Any:
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ConversionError(
            E_NOT_IMAGE, 'PDF input needs pypdfium2: pip install "ocr-frames[pdf]"'
        ) from None
    if isinstance(data, mmap.mmap):  # read in place (the document keeps it alive)
        return pdfium.PdfDocument((ctypes.c_char * len(data)).from_buffer(data))
    return pdfium.PdfDocument(data)


def _pdf_call(what: str, func: Any, *args: Any) -> Any:
    """``func(*args)`` with PDFium's errors as ConversionError (call with the lock held)."""
    try:
        return func(*args)
    except ConversionError:
        raise
    except Exception as exc:
        from pypdfium2 import PdfiumError  # imported by now: func needed it

        if isinstance(exc, PdfiumError):
            raise ConversionError(E_NOT_IMAGE, f"{what} ({_detail(exc)})") from None
        raise


def trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; a no-op
    where there is none).  Only returns memory nobody uses; takes a few milliseconds."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (AttributeError, OSError, TypeError):  # not glibc (musl, macOS, Windows)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF (idempotent), or say which extra to install."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise ConversionError(
            E_NOT_IMAGE, 'HEIC/HEIF input needs pillow-heif: pip install "ocr-frames[heic]"'
        ) from None
    register_heif_opener()


def _detail(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    name = type(exc).__name__
    return f"{name}: {text[:120]}" if text else name
