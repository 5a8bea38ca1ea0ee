"""Tell file formats apart from their first bytes: the one table of magic numbers.

Used by the readers of :mod:`ocr_frames._sources` (is it an image the platform takes? is a
long string base64 of a file?), by :mod:`ocr_frames._sources.shrink` (does it need
converting?) and by the WeChat emulator and ``ocr-frames serve`` (does a request carry an
image?).  Nothing here decodes anything: only the first bytes (and a JPEG's last ones) are
looked at.
"""

from __future__ import annotations

import mmap
import struct
from typing import Final, Literal

from ocr_frames._sources.limits import MAX_IMAGE_PIXELS

__all__ = [
    "DocumentType",
    "ImageFormat",
    "document_type",
    "image_format",
    "is_image",
    "sniff_image",
    "starts_like_a_file",
]

ImageFormat = Literal["jpeg", "png", "gif", "webp", "tiff", "bmp"]
DocumentType = Literal["pdf", "heif", "tiff"]

JPEG: Final = b"\xff\xd8\xff"
JPEG_END: Final = b"\xff\xd9"
PNG: Final = b"\x89PNG\r\n\x1a\n"
GIF: Final = (b"GIF87a", b"GIF89a")
RIFF: Final = b"RIFF"  # WebP when bytes 8-12 are WEBP (else WAV, AVI ...)
WEBP: Final = b"WEBP"
TIFF: Final = (b"II*\x00", b"MM\x00*")
BMP: Final = b"BM"
PDF: Final = b"%PDF-"
FTYP: Final = b"ftyp"  # ISO media (bytes 4-8): HEIF, AVIF, MP4 ... told apart by the brand
HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1"})
AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
JPEG_2000: Final = (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")
ZIP: Final = b"PK\x03\x04"
GZIP: Final = b"\x1f\x8b"
PSD: Final = b"8BPS"

#: What data that is not a supported image is, by its first bytes.
_NOT_IMAGES: Final[tuple[tuple[bytes | tuple[bytes, ...], str], ...]] = (
    (PDF, "not an image: PDF documents are not supported (convert pages to images)"),
    (JPEG_2000, "not supported: JPEG 2000 image (convert to JPEG)"),
    (RIFF, "not an image: RIFF container (WAV/AVI)"),
    (ZIP, "not an image: ZIP archive (or Office document)"),
    (GZIP, "not an image: gzip-compressed data"),
    (PSD, "not supported: Photoshop PSD file"),
)
_BMP_HEADER_SIZES: Final = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
# What a str's first base64 characters must decode to for it to count as base64 of a file
# (loose: a damaged file still counts, so that its row says what is wrong with it).
_LEADS: Final = (JPEG, PNG[:4], GIF[0][:4], BMP, RIFF, *TIFF, PDF)


def image_format(data: bytes) -> ImageFormat | None:
    """The image format ``data`` starts like (JPEG, PNG, GIF, WebP, TIFF, BMP), or None."""
    if data[:3] == JPEG:
        return "jpeg"
    if data[:8] == PNG:
        return "png"
    if data[:6] in GIF:
        return "gif"
    if data[:4] == RIFF and data[8:12] == WEBP:
        return "webp"
    if data[:4] in TIFF:
        return "tiff"
    if data[:2] == BMP:
        return "bmp"
    return None


def is_image(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG, PNG, GIF, BMP, TIFF or WebP file."""
    return image_format(data) is not None


def starts_like_a_file(head: bytes) -> bool:
    """Whether the first bytes look like an image, a PDF or ISO media (e.g. HEIC)."""
    return head.startswith(_LEADS) or head[4:8] == FTYP


def document_type(data: bytes | mmap.mmap) -> DocumentType | None:
    """``"pdf"``, ``"heif"`` or ``"tiff"`` when ``data`` may need conversion even if small."""
    if data[:5] == PDF:
        return "pdf"
    if data[4:8] == FTYP and data[8:12] in HEIF_BRANDS:
        return "heif"
    if data[:4] in TIFF:
        return "tiff"
    return None


def sniff_image(data: bytes) -> str | None:
    """Return None when ``data`` looks like a supported image, else why it does not.

    Supported: JPEG (which must end with the EOI marker within its last 64 bytes), PNG
    (at most :data:`~ocr_frames._sources.limits.MAX_IMAGE_PIXELS` pixels, non-zero size),
    GIF, BMP, WebP and TIFF.  Only the first and last bytes are looked at; nothing is
    decoded.
    """
    found = image_format(data)
    if found == "jpeg":
        if data.rfind(JPEG_END, max(0, len(data) - 64)) < 0:
            return "truncated JPEG (end-of-image marker FFD9 missing at the end)"
        return None
    if found == "png":
        return _check_png(data)
    if found in ("gif", "webp", "tiff"):
        return None
    if found == "bmp" and len(data) >= 18:
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
    if data[4:8] == FTYP:  # (no prefix below has these bytes at 4-8)
        brand = data[8:12]
        if brand in HEIF_BRANDS:
            return "not supported: HEIC/HEIF image (convert to JPEG)"
        if brand in AVIF_BRANDS:
            return "not supported: AVIF image (convert to JPEG)"
        return "not an image: ISO media file (video or audio)"
    for prefix, description in _NOT_IMAGES:
        if data.startswith(prefix):
            return description
    return _describe_text(data[:1024])


def _describe_text(sample: bytes) -> str:
    """Name text that is not an image (HTML, SVG, other text), or say it is unrecognised."""
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
