"""Show a row's image to a reviewer: the file a row of an output table names, and the
pixels the engine saw, so that the positions in its answer line up.

Reachable (:class:`ImageIndex`): only the local files the rows' ``source`` values name;
callers pass a row number, never a path.  A relative source is resolved from ``base_dir``
(where the run was started), a ``file://`` URL of this host is a path; URLs, remote
(fsspec) paths, ``data:`` URIs, base64 and bytes are not files and nothing is fetched for
them.  With ``images_dir`` (the files were moved), a source not found where it says is
looked up by its *file name* only, in that folder; what that names must resolve (symlinks
followed) to a regular file inside the folder, so ``..``, absolute paths and symlinks out
reach nothing there.  Every miss
has a reason (:meth:`ImageIndex.missing`) that quotes at most the row's own source.

Pixels (:func:`display_image`): the bytes sent, rebuilt as
:func:`~ocr_frames._sources.finish.finish` builds them with ``shrink`` (the default): an
image under ``max_bytes`` as it is, a bigger one or a HEIC photo as the JPEG of
:func:`~ocr_frames._sources.shrink.convert`, a PDF or multi-page TIFF page as the JPEG of
:class:`~ocr_frames._sources.shrink.Document`.  ``matches`` says whether their sha256 is
the row's ``sha256`` (the bytes sent); if so the engine's positions (card corners, field
and item boxes) are in the space of :attr:`Shown.width` x :attr:`Shown.height`, which is
*upright*: engines decode a JPEG turned by its EXIF orientation (the platform reads the
tag, see :mod:`~ocr_frames._sources.shrink`; ``LocalEngine`` gives positions in the image
as decoded), and re-encoded images are stored upright, untagged.  A JPEG goes to the
browser as it is (it turns it by the tag: CSS ``image-orientation: from-image`` is the
default) and its size is reported turned; other images with an orientation tag, and
formats browsers do not show (TIFF, BMP), are re-encoded upright as PNG (lossless).

Limits: files over :data:`MAX_DISPLAY_SOURCE_BYTES` are refused unread; at most
:data:`~ocr_frames._sources.limits.MAX_IMAGE_PIXELS` pixels an image or page and
:data:`~ocr_frames._sources.shrink.MAX_PAGES` pages, from the headers.  Every failure is a
:class:`DisplayError` whose text names no path.  :func:`thumbnail` makes small upright
JPEGs without metadata (blurred past reading for masked documents).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import numbers
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit
from urllib.request import url2pathname

from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from ocr_frames._sources.classify import classify
from ocr_frames._sources.limits import DEFAULT_MAX_SOURCE_BYTES, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from ocr_frames._sources.messages import display_path, printable, size_mb
from ocr_frames._sources.shrink import ConversionError, Document, convert, is_multipage_tiff
from ocr_frames._sources.sniff import document_type, image_format, sniff_image

__all__ = [
    "MAX_DISPLAY_SOURCE_BYTES",
    "THUMBNAIL_SIDE",
    "DisplayError",
    "ImageIndex",
    "Shown",
    "data_uri",
    "display_image",
    "thumbnail",
]

#: Bigger files are not read for display (the run reads no more than this with shrink).
MAX_DISPLAY_SOURCE_BYTES: Final = DEFAULT_MAX_SOURCE_BYTES
#: Long side of a thumbnail, in pixels.
THUMBNAIL_SIDE: Final = 160
#: Formats every browser shows in an ``<img>``, by their MIME type.
BROWSER_TYPES: Final = {name: f"image/{name}" for name in ("jpeg", "png", "gif", "webp")}
_EXIF_ORIENTATION: Final = 0x0112
_TURNED: Final = frozenset({5, 6, 7, 8})  # orientations that swap width and height
_MIME: Final = re.compile(r"[a-z]+/[a-z0-9.+\-]+")
_PNG_MODES: Final = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
# O_NONBLOCK: a FIFO named by a row must not make the open wait (refused after fstat)
_OPEN_FLAGS: Final = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


class DisplayError(Exception):
    """An image that cannot be shown; its text is short, printable and names no path."""


@dataclass(frozen=True)
class Shown:
    """An image ready for a browser: ``data`` of type ``mime``, ``width`` x ``height``
    upright pixels (the space of the engine's positions when ``matches``), the document's
    ``page_count`` (1 for an image), and whether the bytes rebuilt are the bytes sent
    (None when the row has no sha256 to compare with)."""

    data: bytes
    mime: str
    width: int
    height: int
    page_count: int
    matches: bool | None


class ImageIndex:
    """The local image files named by the rows of one output table, looked up by row.

    ``sources``, ``pages`` and ``sha256s`` are the table's ``source``, ``page`` and
    ``sha256`` columns (nulls and NaN allowed); see the module docstring for what is
    reachable.  Raises ValueError when the columns differ in length or ``images_dir`` is
    not a directory, IndexError for a row outside the table.
    """

    def __init__(
        self,
        sources: Sequence[object],
        pages: Sequence[object],
        sha256s: Sequence[object],
        *,
        base_dir: Path,
        images_dir: Path | None = None,
    ) -> None:
        if not len(sources) == len(pages) == len(sha256s):
            raise ValueError("sources, pages and sha256s must have one entry per row")
        self._sources = list(sources)
        self._pages = [_whole(p) for p in pages]
        self._sha256s = [s if isinstance(s, str) and s else None for s in sha256s]
        self.base_dir = Path(base_dir)
        self.images_dir: Path | None = None
        if images_dir is not None:
            self.images_dir = Path(images_dir).resolve()  # (links out of it are refused)
            if not self.images_dir.is_dir():
                raise ValueError(f"images folder not found or not a directory: {images_dir}")

    def __len__(self) -> int:
        return len(self._sources)

    def resolve(self, row: int) -> Path | None:
        """The real path of the file row ``row`` names, or None (see :meth:`missing`)."""
        return self._locate(row)[0]

    def missing(self, row: int) -> str:
        """Why row ``row`` has no image file ("not found: ...", "a URL, not fetched" ...);
        empty when it has one."""
        return self._locate(row)[1]

    def display(
        self, row: int, page: int | None = None, *, max_bytes: int = MAX_IMAGE_BYTES
    ) -> Shown:
        """:func:`display_image` of the row's file, at its own page unless ``page`` says
        another (then there is no sha256 to compare: ``matches`` is None).  Raises
        :class:`DisplayError` (with :meth:`missing`'s reason when there is no file)."""
        path, reason = self._locate(row)
        if path is None:
            raise DisplayError(reason)
        own = self._pages[row]
        wanted = own if page is None else page
        digest = self._sha256s[row] if (wanted or 1) == (own or 1) else None
        return display_image(path, wanted, digest, max_bytes=max_bytes)

    def _check(self, row: int) -> int:
        if isinstance(row, bool) or not 0 <= row < len(self._sources):
            raise IndexError(f"no row {row} (the table has {len(self._sources)} rows)")
        return row

    def _locate(self, row: int) -> tuple[Path | None, str]:
        value = self._sources[self._check(row)]
        kind = classify(value)
        if kind == "url":
            return None, "a URL, not fetched"
        if kind == "fsspec":
            return None, "a remote path, not fetched"
        if kind in ("data", "bytes"):
            return None, "image data held in the table, not a file"
        if kind == "null":
            return None, "no image source"
        if kind != "path" or not isinstance(value, (str, os.PathLike)):
            return None, "not a file path"
        text = os.fsdecode(value)
        shown = display_path(text)
        if text[:7].lower() == "file://":
            parts = urlsplit(text)
            if parts.netloc.lower() not in ("", "localhost"):
                return None, f"a file:// URL of another host, not fetched: {shown}"
            text = url2pathname(parts.path)
        found, reason = _regular_file(self.base_dir / text, shown)
        if found is None and self.images_dir is not None:  # moved: look it up by name
            return _in_folder(self.images_dir, text, shown)
        return found, reason


def _in_folder(folder: Path, text: str, shown: str) -> tuple[Path | None, str]:
    """The file of ``text``'s name directly in ``folder`` (resolved), if it stays inside."""
    name = re.split(r"[\\/]", text)[-1]  # a Windows path's name too
    if name in ("", ".", ".."):
        return None, f"no file name in the source: {shown}"
    found, reason = _regular_file(folder / name, shown, "in the images folder")
    if found is not None and not found.is_relative_to(folder):
        return None, f"outside the images folder: {shown}"  # a symlink out (not its target)
    return found, reason


def _regular_file(path: Path, shown: str, where: str = "") -> tuple[Path | None, str]:
    """``path`` resolved, when it is a regular file; else None and why."""
    where = f" {where}" if where else ""
    try:
        real = path.resolve(strict=True)
        mode = real.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None, f"not found{where}: {shown}"
    except (OSError, RuntimeError, ValueError) as exc:  # permissions, symlink loop, NUL byte
        return None, f"cannot be read ({_reason(exc)}){where}: {shown}"
    if not stat.S_ISREG(mode):
        what = "directory" if stat.S_ISDIR(mode) else "special file"
        return None, f"not a regular file ({what}){where}: {shown}"
    return real, ""


def display_image(
    path: Path,
    page: int | None,
    sha256: str | None,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_source_bytes: int = MAX_DISPLAY_SOURCE_BYTES,
) -> Shown:
    """The image at ``path`` as the run sent it (``page`` of a document, 1-based; None is
    the first), showable by a browser; ``max_bytes`` must be the run's (it decides what
    was re-encoded, and how).  Raises :class:`DisplayError` for an unreadable, too large
    or undecodable file and for a page out of range."""
    data = _read(path, max_source_bytes)
    sent, count = _as_sent(data, page, sha256, max_bytes)
    matches = None if sha256 is None else hashlib.sha256(sent).hexdigest() == sha256
    return _showable(sent, count, matches)


def _read(path: Path, limit: int) -> bytes:
    """The whole regular file, refused from its size when over ``limit``."""
    try:
        with os.fdopen(os.open(path, _OPEN_FLAGS), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DisplayError("not a regular file")
            size = info.st_size
            data = handle.read(limit + 1) if size <= limit else b""
    except (OSError, ValueError) as exc:  # (ValueError: a NUL byte in the path)
        raise DisplayError(f"image file cannot be read ({_reason(exc)})") from None
    if max(size, len(data)) > limit:  # (it may have grown after fstat)
        raise DisplayError(
            f"image file is {size_mb(max(size, len(data)))}; "
            f"files over {size_mb(limit)} are not shown"
        )
    if not data:
        raise DisplayError("empty file (0 bytes)")
    return data


def _as_sent(
    data: bytes, page: int | None, sha256: str | None, max_bytes: int
) -> tuple[bytes, int]:
    """The bytes sent for ``page`` of ``data`` (see finish.finish) and the page count."""
    kind = document_type(data)
    if kind != "pdf" and sha256 is not None and hashlib.sha256(data).hexdigest() == sha256:
        _page_index(page, 1)  # sent as it is (shrink off, or small enough): one image
        return data, 1
    try:
        if kind == "pdf" or (kind == "tiff" and is_multipage_tiff(data)):
            with contextlib.closing(Document(data, max_bytes)) as document:
                return document.page(_page_index(page, document.count)), document.count
        _page_index(page, 1)
        problem = None if kind == "heif" else sniff_image(data)
        if problem is not None:  # the run sent nothing: an error row
            raise DisplayError(problem)
        if kind != "heif" and len(data) < max_bytes:
            return data, 1
        return convert(data, max_bytes).pages[0], 1
    except ConversionError as exc:
        raise DisplayError(printable(exc.message)) from None  # (no path in it)


def _page_index(page: int | None, count: int) -> int:
    number = 1 if page is None else page
    if isinstance(number, bool) or not 1 <= number <= count:
        pages = "1 page" if count == 1 else f"{count} pages"
        raise DisplayError(f"page {number} out of range (the image has {pages})")
    return number - 1


def _showable(sent: bytes, count: int, matches: bool | None) -> Shown:
    """``sent`` as a browser shows it: passed through, or re-encoded upright as PNG."""
    found = image_format(sent)
    with _open(sent) as img:
        orientation = _orientation(img)
        if found in BROWSER_TYPES and (found == "jpeg" or orientation in (0, 1)):
            width, height = img.size[::-1] if orientation in _TURNED else img.size  # as shown
            return Shown(sent, BROWSER_TYPES[found], width, height, count, matches)
        upright = _decoded(lambda: _for_png(ImageOps.exif_transpose(img)))
        out = io.BytesIO()
        upright.save(out, "PNG", compress_level=1)  # local display: speed over size
        width, height = upright.size
    return Shown(out.getvalue(), "image/png", width, height, count, matches)


def thumbnail(image: Shown | bytes, *, side: int = THUMBNAIL_SIDE, blur: bool = False) -> bytes:
    """A JPEG of at most ``side`` pixels each way, upright, without metadata; ``blur``
    blurs it past reading (for masked documents: a Gaussian of radius 1/12 of its long
    side).  Raises :class:`DisplayError` for undecodable bytes, ValueError for ``side < 1``."""
    if side < 1:
        raise ValueError(f"side must be >= 1, got {side}")
    data = image.data if isinstance(image, Shown) else image
    with _open(data) as img:
        img.draft("RGB", (side, side))  # a JPEG is decoded at a fraction of its size: fast
        small = _decoded(lambda: _flat_rgb(ImageOps.exif_transpose(img)))
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    if blur:
        small = small.filter(ImageFilter.GaussianBlur(max(2.0, max(small.size) / 12)))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    """``data:MIME;base64,...`` for embedding in HTML; ValueError for a malformed MIME type
    (it would end up inside an attribute)."""
    if not _MIME.fullmatch(mime):
        raise ValueError(f"not a MIME type: {mime!r}")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _open(data: bytes) -> Image.Image:
    """Open ``data`` from its header, refusing decompression bombs before decoding."""
    try:
        img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # (the warning is raised when warnings are errors)
        raise DisplayError("image too large in pixels (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise DisplayError("not an image (format not recognised)") from None
    except (OSError, ValueError, SyntaxError, TypeError) as exc:
        raise DisplayError(f"image cannot be decoded ({_reason(exc)})") from None
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        img.close()
        raise DisplayError(
            f"image of {width} x {height} pixels exceeds the {MAX_IMAGE_PIXELS:,} pixel limit"
        )
    return img


def _decoded(step: Callable[[], Image.Image]) -> Image.Image:
    """Run a Pillow step that decodes pixels, its failures as DisplayError."""
    try:
        return step()
    except (OSError, ValueError, SyntaxError, TypeError, EOFError) as exc:
        raise DisplayError(f"image cannot be decoded ({_reason(exc)})") from None


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: engines ignore it too
        return 1
    return value if isinstance(value, int) else 1


def _for_png(img: Image.Image) -> Image.Image:
    """A mode PNG takes: 16-bit and float greys stretched to 8 bits, the rest RGB(A)."""
    if img.mode in _PNG_MODES:
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return ImageOps.autocontrast(img.convert("L"))
    return img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")


def _flat_rgb(img: Image.Image) -> Image.Image:
    """RGB with any transparency laid on white (a JPEG has none)."""
    img = _for_png(img)
    if "A" not in img.mode and "transparency" not in img.info:
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _whole(value: object) -> int | None:
    """A page number from a column cell (int, whole float, numpy number); None for nulls."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return int(float(value)) if float(value).is_integer() else None


def _reason(exc: BaseException) -> str:
    """An exception's kind and first line, without any path it quotes."""
    if isinstance(exc, OSError) and exc.strerror:
        return printable(exc.strerror).lower()
    text = str(exc).splitlines()[0][:80] if str(exc) else ""
    return type(exc).__name__ if not text or "/" in text else f"{type(exc).__name__}: {text}"
