"""Download an ``http(s)://`` image URL into a :class:`~ocr_frames._sources.source.Source`.

Downloads follow a :class:`~ocr_frames._http.urlpolicy.UrlPolicy` (against SSRF): every
hop, redirects included, is checked on the address it resolves to, and with a client from
:func:`~ocr_frames._http.urlpolicy.download_client` the connection is pinned to that
address; a refused URL is ``E_URL_REFUSED``, with a message that does not depend on the
target.  Redirects are followed by hand; the body is streamed (gzip inflated here, with an
output bound) and reading stops at the size cap.  Messages show the URL without its query.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Final

import httpx

from ocr_frames._errors import E_DOWNLOAD, E_EMPTY, E_TOO_LARGE, E_URL_REFUSED
from ocr_frames._http.urlpolicy import DEFAULT_URL_POLICY, UrlPolicy, UrlRefused, pins
from ocr_frames._sources.finish import finish
from ocr_frames._sources.limits import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_SOURCE_BYTES,
    MAX_IMAGE_BYTES,
)
from ocr_frames._sources.messages import display_url, exception_detail, printable, size_mb
from ocr_frames._sources.source import Reader, Source, error

__all__ = ["download", "download_with"]

_DOWNLOAD_HEADERS: Final = {"Accept-Encoding": "identity"}
_ALLOWED_SCHEMES: Final = ("http", "https")


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
    :mod:`ocr_frames._http.urlpolicy`); a client from
    :func:`~ocr_frames._http.urlpolicy.download_client` also pins each connection to the
    address it checked.
    """
    reader = Reader(max_bytes, shrink, max_source_bytes)
    return await download_with(url, client, reader, timeout, max_redirects, url_policy)


async def download_with(
    url: str,
    client: httpx.AsyncClient,
    reader: Reader,
    timeout: float,
    max_redirects: int,
    policy: UrlPolicy,
) -> Source:
    """:func:`download` under a reader's settings (cap, shrink, derived map, budget)."""
    try:
        fetch = _fetch(url, client, reader, max_redirects, policy)
        return await asyncio.wait_for(fetch, timeout)
    except asyncio.TimeoutError:
        return error(E_DOWNLOAD, f"download timed out after {timeout:g} s: {display_url(url)}")


async def _fetch(
    url: str, client: httpx.AsyncClient, reader: Reader, max_redirects: int, policy: UrlPolicy
) -> Source:
    shown = display_url(url)
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return error(E_DOWNLOAD, f"invalid URL: {shown}")
    seen: set[str] = set()
    for redirects in range(max_redirects + 1):
        if current.scheme not in _ALLOWED_SCHEMES:
            scheme = printable(current.scheme)
            return error(
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
                        return error(E_DOWNLOAD, f"redirect loop: {shown}")
                    continue
                if response.status_code >= 300:
                    return error(E_DOWNLOAD, f"HTTP {response.status_code}{after}: {shown}")
                return await _read_body(response, reader, shown)
        except UrlRefused as exc:  # decided before connecting: says nothing of the target
            return error(E_URL_REFUSED, f"URL refused: {exc.reason}{after}: {shown}")
        except httpx.TimeoutException as exc:
            return error(E_DOWNLOAD, f"download timed out ({type(exc).__name__}){after}: {shown}")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            return error(E_DOWNLOAD, f"download failed ({exception_detail(exc)}){after}: {shown}")
    return error(E_DOWNLOAD, f"too many redirects (more than {max_redirects}): {shown}")


async def _read_body(response: httpx.Response, reader: Reader, shown: str) -> Source:
    """Stream a response body into memory, stopping at the reader's cap."""
    max_bytes = reader.read_cap
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) >= max_bytes:
        return error(
            E_TOO_LARGE,
            f"download is {size_mb(int(declared))} (Content-Length); "
            f"images must be smaller than {size_mb(max_bytes)}: {shown}",
        )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        shown_encoding = printable(encoding)
        return error(E_DOWNLOAD, f"unsupported Content-Encoding {shown_encoding!r}: {shown}")
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
                    return error(E_DOWNLOAD, f"incomplete gzip body: {shown}")
                piece = inflater.flush()
                total += len(piece)
                chunks.append(piece)
    except zlib.error:
        return error(E_DOWNLOAD, f"corrupt gzip body: {shown}")
    if total >= max_bytes:
        return error(
            E_TOO_LARGE,
            f"download exceeds {size_mb(max_bytes)} (stopped reading); images must "
            f"be smaller than {size_mb(max_bytes)}: {shown}",
        )
    if total == 0:
        return error(E_EMPTY, f"empty download (0 bytes): {shown}")
    if reader.shrink:  # re-encoding decodes pixels: not on the event loop
        return await asyncio.to_thread(finish, b"".join(chunks), shown, reader)
    return finish(b"".join(chunks), shown, reader)
