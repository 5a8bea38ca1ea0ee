"""Traces of image-editing software in an image's metadata (``warn_edited``).

The evidence read, all of it already parsed by Pillow when the image is opened:

* EXIF ``Software`` (0x0131) and ``ProcessingSoftware`` (0x000B) of IFD0;
* XMP (JPEG APP1, PNG ``XML:com.adobe.xmp``, WebP): ``xmp:CreatorTool``,
  ``stEvt:softwareAgent`` of the edit history, and any ``photoshop:`` namespace;
* a JPEG APP13 segment holding a Photoshop image resource block (``Photoshop 3.0``);
* PNG ``tEXt``/``iTXt`` ``Software`` chunks.

A tool name fires when it contains one of :data:`EDITORS` (case-insensitive) and does not
start with one of :data:`CAMERA_FIRMWARE`: phones write their own firmware into
``Software`` ("HDR+ 1.0", "iOS 17.1", "MIUI", "Android ...") and that is not an edit.
Absence of a trace proves nothing: metadata is easily stripped, and most chat apps strip
it on upload.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from PIL import Image

__all__ = ["CAMERA_FIRMWARE", "EDITORS", "editing_traces"]

#: Substrings (lower case) of the names of image editors and retouching apps.
EDITORS: Final = (
    "photoshop",
    "lightroom",
    "gimp",
    "pixelmator",
    "affinity photo",
    "paint.net",
    "paintshop",
    "corel",
    "acdsee",
    "photoscape",
    "pixlr",
    "krita",
    "luminar",
    "capture one",
    "darktable",
    "rawtherapee",
    "snapseed",
    "picsart",
    "canva",
    "fotor",
    "polarr",
    "facetune",
    "vsco",
    "photo editor",
    "photodirector",
    "meitu",
    "mtxx",
    "xiuxiu",
    "美图",
    "醒图",
    "xingtu",
    "天天p图",
    "faceu",
    "轻颜",
    "美颜",
    "剪映",
    "capcut",
    "inshot",
)
#: Prefixes (lower case) of camera firmware names that are never taken for an editor.
CAMERA_FIRMWARE: Final = (
    "hdr+",
    "ios ",
    "ipados",
    "miui",
    "hyperos",
    "android",
    "coloros",
    "oxygenos",
    "emui",
    "harmonyos",
    "funtouch",
    "originos",
    "one ui",
    "flyme",
    "samsung",
    "huawei",
    "xiaomi",
)

_EXIF_SOFTWARE: Final = (0x0131, 0x000B)
_XMP_TOOLS: Final = re.compile(
    r"(?:CreatorTool|softwareAgent)\s*(?:=\s*\"([^\"]*)\"|>([^<]*)<)", re.IGNORECASE
)
_XMP_PHOTOSHOP: Final = re.compile(r"xmlns:photoshop\s*=|<photoshop:|\sphotoshop:\w+\s*=")


def _text(value: object) -> str:
    """A metadata value as text; UTF-8 that Pillow decoded as Latin-1 (EXIF) is repaired."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    try:  # Chinese apps write UTF-8 into EXIF's ASCII fields
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _names(img: Image.Image) -> Iterator[str]:
    """Every software name the metadata of ``img`` declares."""
    try:
        exif = img.getexif()
    except Exception:  # a broken EXIF block is no evidence either way
        exif = Image.Exif()
    for tag in _EXIF_SOFTWARE:
        yield _text(exif.get(tag)).strip("\x00 ")
    yield _text(img.info.get("Software"))
    for match in _XMP_TOOLS.finditer(_xmp(img)):
        yield match.group(1) or match.group(2) or ""


def _xmp(img: Image.Image) -> str:
    return _text(img.info.get("xmp")) or _text(img.info.get("XML:com.adobe.xmp"))


def _is_editor(name: str) -> bool:
    lowered = name.strip().lower()
    if not lowered or lowered.startswith(CAMERA_FIRMWARE):
        return False
    return any(editor in lowered for editor in EDITORS)


def editing_traces(img: Image.Image) -> list[str]:
    """The editing traces found in the metadata of ``img`` (empty when there are none).

    Each trace is printable: the offending tool name, ``"xmp photoshop namespace"`` or
    ``"jpeg app13 photoshop"``.
    """
    traces = [name for name in _names(img) if _is_editor(name)]
    if _XMP_PHOTOSHOP.search(_xmp(img)):
        traces.append("xmp photoshop namespace")
    applist = getattr(img, "applist", [])
    if any(marker == "APP13" and body.startswith(b"Photoshop 3.0") for marker, body in applist):
        traces.append("jpeg app13 photoshop")
    return traces
