"""The size limits and timeouts of reading images, each defined once.

:data:`MAX_IMAGE_BYTES` is the platform's: the WeChat client, the emulator, ``ocr-frames
serve`` and the readers of :mod:`ocr_frames._sources` all refuse (or re-encode) an image of
that size or more.  The others bound what one column entry may cost to read.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_DOWNLOAD_CONCURRENCY",
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_SOURCE_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
]

#: The platform wants images smaller than this (``len(data) >= MAX_IMAGE_BYTES`` is too big).
MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024
#: Images (or pages) with more pixels are refused as decompression bombs (Pillow's default).
MAX_IMAGE_PIXELS: Final = 89_478_485
#: Total seconds allowed for one URL download, redirects included.
DEFAULT_DOWNLOAD_TIMEOUT: Final = 20.0
#: Redirects followed per URL before giving up.
DEFAULT_MAX_REDIRECTS: Final = 5
#: URLs downloaded (and fsspec paths read) at the same time by one batch.
DEFAULT_DOWNLOAD_CONCURRENCY: Final = 8
#: With ``shrink``, inputs up to this size are read (and re-encoded); bigger ones are refused.
DEFAULT_MAX_SOURCE_BYTES: Final = 64 * 1024 * 1024
