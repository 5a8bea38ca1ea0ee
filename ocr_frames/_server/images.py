"""The image of an OCR request: the multipart ``img`` part, or the download of ``img_url``.

What the servers then check comes from :mod:`ocr_frames._sources`, so the client, the
emulator and ``ocr-frames serve`` share one definition of each: the size limit
(:data:`~ocr_frames._sources.limits.MAX_IMAGE_BYTES`, 101002 at or above it) and the
magic numbers (:func:`~ocr_frames._sources.sniff.is_image`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Final
from urllib.parse import urlsplit

import httpx

from ocr_frames._server.loopback import Request, parse_multipart

__all__ = ["FETCH_TIMEOUT", "ImageReader", "sha256_of"]

#: Total time allowed to download an ``img_url`` (only loopback hosts are fetched).
FETCH_TIMEOUT: Final = 5.0
#: A download larger than this is abandoned (101000) rather than held in memory.
MAX_DOWNLOAD: Final = 16 * 1024 * 1024

_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def sha256_of(image: bytes | str) -> str:
    """The sha256 hex digest of image bytes, or a given digest checked and lower-cased."""
    if isinstance(image, bytes):
        return hashlib.sha256(image).hexdigest()
    if not _SHA256.fullmatch(image.lower()):
        raise ValueError(f"not image bytes nor a sha256 hex digest: {image[:80]!r}")
    return image.lower()


class ImageReader:
    """Finds a request's image; owns the HTTP client that downloads ``img_url``."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def read(self, request: Request) -> tuple[bytes, int]:
        """The image bytes and 0, or b"" and the errcode saying why there are none."""
        content_type = request.headers.get("content-type", "")
        image = parse_multipart(request.body, content_type).get("img", b"")
        if image:
            return image, 0
        url = request.query.get("img_url")
        if not url:
            return b"", 44002
        try:
            image = await asyncio.wait_for(self._download(url), FETCH_TIMEOUT)
        except Exception:  # any failure to download is the platform's 101000
            return b"", 101000
        return image, 0 if image else 101000

    async def aclose(self) -> None:
        """Close the download client (on the loop that used it)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _download(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK:
            return b""  # never fetch from anywhere but this machine
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=FETCH_TIMEOUT, trust_env=False)
        async with self._client.stream("GET", url) as response:
            if response.status_code != 200:
                return b""
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_DOWNLOAD:
                    return b""
                chunks.append(chunk)
        return b"".join(chunks)
