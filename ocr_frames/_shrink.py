"""Re-encode what the platform cannot take as it is into JPEGs it can.

Used by :mod:`ocr_frames.sources` when ``shrink`` is on (the default of the public API):

* images of :data:`~ocr_frames.sources.MAX_IMAGE_BYTES` or more (phone photos of ID
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
:data:`~ocr_frames.sources.MAX_IMAGE_PIXELS` pixels per image or page, more than
:data:`MAX_PAGES` pages.  Every failure is a :class:`ConversionError` carrying a
:data:`~ocr_frames._errors.LOCAL_CODES` code; nothing here raises anything else.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import PIL
from PIL import Image, ImageOps, UnidentifiedImageError

from ._errors import E_NOT_IMAGE, E_TOO_LARGE

__all__ = [
    "MAX_LONG_SIDE",
    "MAX_PAGES",
    "MIN_LONG_SIDE",
    "PDF_DPI",
    "RECIPE",
    "ConversionError",
    "Converted",
    "convert",
    "document_type",
    "params_id",
]

#: Version of the encoding recipe below; bump it whenever the bytes produced change.
RECIPE: Final = "jpeg-v1"
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
_MAX_PIXELS: Final = 89_478_485  # = sources.MAX_IMAGE_PIXELS (no import cycle)
_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1"})


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


def document_type(data: bytes) -> str | None:
    """``"pdf"``, ``"heif"`` or ``"tiff"`` when ``data`` may need conversion even if small."""
    if data[:5] == b"%PDF-":
        return "pdf"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def is_multipage_tiff(data: bytes) -> bool:
    """Whether a TIFF has more than one page (reads the directory chain only)."""
    try:
        with Image.open(io.BytesIO(data), formats=["TIFF"]) as img:
            return int(getattr(img, "n_frames", 1)) > 1
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,  # raised when warnings are errors
    ):
        return False  # not decodable: sent as it is, like before (huge: refused by convert)


def convert(data: bytes, max_bytes: int) -> Converted:
    """Re-encode ``data`` (an image, a PDF or a HEIC photo) into JPEG pages under ``max_bytes``.

    Raises :class:`ConversionError` only.
    """
    if document_type(data) == "pdf":
        return Converted(tuple(_encode(page, max_bytes) for page in _pdf_pages(data)), True)
    if document_type(data) == "heif":
        _register_heif()
    img = _open(data)
    with img:
        frames = int(getattr(img, "n_frames", 1)) if img.format == "TIFF" else 1
        if frames > MAX_PAGES:
            raise ConversionError(E_NOT_IMAGE, f"document has {frames} pages (limit {MAX_PAGES})")
        pages = []
        for number in range(frames):
            if number:
                img.seek(number)
            _check_pixels(img.size)
            pages.append(_encode(img, max_bytes))
    return Converted(tuple(pages), frames > 1)


def _open(data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Image.open checks the header's size; the warning is an error under -W error
        raise ConversionError(E_NOT_IMAGE, f"possible decompression bomb ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ConversionError(E_NOT_IMAGE, f"image cannot be decoded ({_detail(exc)})") from None
    _check_pixels(img.size)
    return img


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > _MAX_PIXELS:
        raise ConversionError(
            E_NOT_IMAGE,
            f"image of {width} x {height} pixels exceeds the {_MAX_PIXELS:,} pixel limit "
            "(possible decompression bomb)",
        )


def _encode(img: Image.Image, max_bytes: int) -> bytes:
    """One image → upright RGB JPEG under ``max_bytes`` (see the module docstring)."""
    try:
        upright = _rgb(ImageOps.exif_transpose(img))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ConversionError(E_NOT_IMAGE, f"image cannot be decoded ({_detail(exc)})") from None
    side = min(max(upright.size), MAX_LONG_SIDE)
    while True:
        scaled = _fit(upright, side)
        for quality in QUALITIES:
            out = io.BytesIO()
            scaled.save(out, "JPEG", quality=quality, optimize=True)
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


def _pdf_pages(data: bytes) -> Iterator[Image.Image]:
    """Render each page of a PDF at :data:`PDF_DPI` (long side capped)."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ConversionError(
            E_NOT_IMAGE, 'PDF input needs pypdfium2: pip install "ocr-frames[pdf]"'
        ) from None
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ConversionError(E_NOT_IMAGE, f"PDF cannot be opened ({_detail(exc)})") from None
    try:
        if len(pdf) > MAX_PAGES:
            raise ConversionError(E_NOT_IMAGE, f"PDF has {len(pdf)} pages (limit {MAX_PAGES})")
        if len(pdf) == 0:
            raise ConversionError(E_NOT_IMAGE, "PDF has no pages")
        for index in range(len(pdf)):
            yield _render(pdf[index])
    except pdfium.PdfiumError as exc:
        raise ConversionError(
            E_NOT_IMAGE, f"PDF page cannot be rendered ({_detail(exc)})"
        ) from None
    finally:
        pdf.close()


def _render(page: Any) -> Image.Image:
    width, height = page.get_size()  # points (1/72 inch)
    if width <= 0 or height <= 0:
        raise ConversionError(E_NOT_IMAGE, "PDF page has no area")
    scale = min(PDF_DPI / 72, MAX_LONG_SIDE / max(width, height))
    _check_pixels((math.ceil(width * scale), math.ceil(height * scale)))
    try:
        image: Image.Image = page.render(scale=scale).to_pil()
    finally:
        page.close()
    return image


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
