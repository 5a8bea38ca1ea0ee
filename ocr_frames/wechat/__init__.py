"""The WeChat OCR HTTP client, sync (:class:`WeChatClient`) and async (:class:`AsyncWeChatClient`).

Usage::

    from ocr_frames.wechat import AsyncWeChatClient, WeChatClient

    with WeChatClient(appid="wx...", secret="...") as client:
        answer = client.request("idcard", image_bytes)       # the answer dict, any errcode
        answer = client.ocr("bankcard", img_url="https://...")  # raises unless errcode == 0

    async with AsyncWeChatClient(access_token="...", base_url=emulator.base_url) as client:
        answer = await client.ocr("comm", image_bytes)

``request`` returns the *answer dict* of ``docs/architecture.md`` whatever its errcode;
``ocr`` returns it only when errcode is 0.  Responses become answers in one function,
:func:`parse_response`.  Configuration is keyword-only, with the ``DEFAULT_*`` constants
below; ``transport=`` (e.g. ``httpx.MockTransport``), httpx ``mounts=`` (e.g. proxies per
URL pattern) or a ready ``http_client=`` can be injected, and ``base_url`` points the
client at a gateway or at :class:`ocr_frames.testing.WeChatEmulator`.

Tokens
    With ``appid`` + ``secret`` the token comes from ``POST /cgi-bin/stable_token``
    (``token_endpoint="token"`` uses ``GET /cgi-bin/token``, which invalidates the token
    other processes hold).  It is cached until ``refresh_margin`` seconds (or 10% of its
    lifetime, if shorter) before it expires.  When an OCR call answers 40001/42001 the
    token is refreshed once, compare-and-swap style (only if the cached token is still the
    one that failed, so N concurrent failures cost one token call; ``force_refresh`` only
    if stable_token hands the failing token back), and the call is retried once.  A fixed
    ``access_token`` is never refreshed; given together with ``appid`` + ``secret`` it is
    only the first token, replaced the usual way once the platform refuses it.

Exceptions (from :mod:`ocr_frames._errors`; no ``httpx`` error escapes)
    * ``ConfigurationError``: unknown kind, bad option, no credentials; a token call
      answering 40013/40125 (wrong appid/secret).
    * ``AuthError``: a token call answering any other errcode.
    * ``ImageError``, raised before anything is sent: image of 2 MB or more (900005),
      empty (900004), neither ``img`` nor ``img_url`` (900000), both or a wrong type
      (900008).
    * ``TransportError``: network failure, timeout, HTTP 5xx (900009); a body that is not
      a JSON object, not UTF-8, too deep or larger than ``max_response_bytes`` (900010).
    * ``ocr`` only, for errcode != 0: ``error_for_code(errcode)`` - ``AuthError``
      (40001/42001 after the one refresh), ``QuotaExceeded`` (45009/101003),
      ``RateLimited`` (45011), ``ConfigurationError`` (48001/61007), ``RecognitionError``
      (-1, 101000, 101001, 101002, ...).

Secrets: the access token and the secret appear in no exception message, no ``repr`` and
no log line.  Creating a client installs (once) a filter on the ``httpx`` and ``httpcore``
loggers that rewrites ``access_token=...``/``secret=...`` as ``***``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx

from ocr_frames._errors import TOKEN_CODES, error_for_code
from ocr_frames.wechat._client import (
    MAX_IMAGE_BYTES,
    USER_AGENT,
    BaseClient,
    OCRCall,
    check_http_options,
)
from ocr_frames.wechat._parse import parse_response
from ocr_frames.wechat._token import DEFAULT_REFRESH_MARGIN, TokenEndpoint

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_REFRESH_MARGIN",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN_ENDPOINT",
    "MAX_IMAGE_BYTES",
    "AsyncWeChatClient",
    "WeChatClient",
    "parse_response",
]

DEFAULT_BASE_URL: Final = "https://api.weixin.qq.com"
DEFAULT_TOKEN_ENDPOINT: Final[TokenEndpoint] = "stable_token"
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
#: Whole-call bound (connect + send + every byte of the answer), on top of httpx's timeouts.
DEFAULT_DEADLINE: Final = 90.0
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: Responses are read streamed and abandoned beyond this size (real answers are a few KB).
DEFAULT_MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024

logger = logging.getLogger(__name__)


_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def _within_deadline(aw: Awaitable[_T], seconds: float | None) -> _T:
        """``await aw`` for at most ``seconds``; raises ``asyncio.TimeoutError`` after.

        Not ``asyncio.wait_for``: before 3.12 it drops a cancel that arrives in the loop
        turn in which the call completes (CPython gh-86296), and an interrupted run would
        go on making billed calls.  ``asyncio.timeout`` always delivers the cancel.
        """
        async with asyncio.timeout(seconds):
            return await aw

else:  # pragma: no cover - Python 3.10: no asyncio.timeout; the run shields its calls
    _within_deadline = asyncio.wait_for


class WeChatClient(BaseClient):
    """Synchronous client (thread-safe: the token is shared under a lock)."""

    def __init__(
        self,
        *,
        appid: str | None = None,
        secret: str | None = None,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        token_endpoint: TokenEndpoint = DEFAULT_TOKEN_ENDPOINT,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        deadline: float = DEFAULT_DEADLINE,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        mounts: Mapping[str, httpx.BaseTransport | None] | None = None,
    ) -> None:
        super().__init__(
            appid=appid,
            secret=secret,
            access_token=access_token,
            base_url=base_url,
            token_endpoint=token_endpoint,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            refresh_margin=refresh_margin,
            deadline=deadline,
        )
        check_http_options(http_client, transport, limits, mounts)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport,
            mounts=mounts,
            limits=limits or DEFAULT_LIMITS,
            headers={"User-Agent": USER_AGENT},
        )
        self._lock = threading.Lock()

    def request(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Recognise one image; return the answer dict whatever its errcode."""
        call = self._prepare(kind, img, img_url)
        token = self.get_token()
        answer = self._post(call, token)
        if answer["errcode"] in TOKEN_CODES:
            fresh = self._refresh(token, answer["errcode"])
            if fresh is not None:
                answer = self._post(call, fresh)
        return answer

    def ocr(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Like :meth:`request`, but raise the matching OCRError unless errcode is 0."""
        answer = self.request(kind, img, img_url=img_url)
        if answer["errcode"] != 0:
            raise error_for_code(answer["errcode"], answer["errmsg"], answer["rid"])
        return answer

    def get_token(self) -> str:
        """The access token in force, fetched (once, under the lock) when due."""
        if self._fixed_token is not None:
            return self._fixed_token
        token = self._tokens.fresh()
        if token is None:
            with self._lock:
                token = self._tokens.fresh() or self._fetch_token()
        return token

    def close(self) -> None:
        """Close the HTTP client (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WeChatClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _refresh(self, failed: str, errcode: int) -> str | None:
        """Compare-and-swap refresh: a token other than ``failed``, or None if none."""
        if not self._can_refresh:
            return None
        with self._lock:
            current = self._tokens.fresh()
            if current is not None and current != failed:
                return current
            logger.info("errcode %s: refreshing the access token once", errcode)
            token = self._fetch_token()
            if token == failed and self._can_force_refresh:
                token = self._fetch_token(force_refresh=True)
        return None if token == failed else token

    def _fetch_token(self, *, force_refresh: bool = False) -> str:
        req = self._token_call(force_refresh=force_refresh)
        status, body, _ = self._send(
            req.method, self._url(req.path), "token call", params=req.params, json=req.json
        )
        return self._accept_token(status, body, forced=force_refresh)

    def _post(self, call: OCRCall, token: str) -> dict[str, Any]:
        status, body, content_type = self._send(
            "POST",
            self._ocr_url(call, token),
            call.kind,
            **call.body(),
        )
        return parse_response(call.kind, status, body, content_type)

    def _send(
        self, method: str, url: str | httpx.URL, what: str, **kwargs: Any
    ) -> tuple[int, bytes, str | None]:
        capped = self._capped(what)
        give_up = time.monotonic() + self._deadline
        try:
            with self._http.stream(method, url, timeout=self._timeout, **kwargs) as response:
                capped.start(response)
                for chunk in response.iter_bytes():
                    capped.feed(chunk)
                    if time.monotonic() > give_up:
                        raise self._deadline_error(what)
        except httpx.HTTPError as exc:
            raise self._transport_error(what, exc) from None
        return response.status_code, capped.body(), response.headers.get("content-type")


class AsyncWeChatClient(BaseClient):
    """Asynchronous client (concurrency-safe: the token is shared under an asyncio.Lock)."""

    def __init__(
        self,
        *,
        appid: str | None = None,
        secret: str | None = None,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        token_endpoint: TokenEndpoint = DEFAULT_TOKEN_ENDPOINT,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        deadline: float = DEFAULT_DEADLINE,
        limits: httpx.Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        mounts: Mapping[str, httpx.AsyncBaseTransport | None] | None = None,
    ) -> None:
        super().__init__(
            appid=appid,
            secret=secret,
            access_token=access_token,
            base_url=base_url,
            token_endpoint=token_endpoint,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            refresh_margin=refresh_margin,
            deadline=deadline,
        )
        check_http_options(http_client, transport, limits, mounts)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport,
            mounts=mounts,
            limits=limits or DEFAULT_LIMITS,
            headers={"User-Agent": USER_AGENT},
        )
        self._lock = asyncio.Lock()

    async def request(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Recognise one image; return the answer dict whatever its errcode."""
        call = self._prepare(kind, img, img_url)
        token = await self.get_token()
        answer = await self._post(call, token)
        if answer["errcode"] in TOKEN_CODES:
            fresh = await self._refresh(token, answer["errcode"])
            if fresh is not None:
                answer = await self._post(call, fresh)
        return answer

    async def ocr(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Like :meth:`request`, but raise the matching OCRError unless errcode is 0."""
        answer = await self.request(kind, img, img_url=img_url)
        if answer["errcode"] != 0:
            raise error_for_code(answer["errcode"], answer["errmsg"], answer["rid"])
        return answer

    async def get_token(self) -> str:
        """The access token in force, fetched (once, under the lock) when due."""
        if self._fixed_token is not None:
            return self._fixed_token
        token = self._tokens.fresh()
        if token is None:
            async with self._lock:
                token = self._tokens.fresh() or await self._fetch_token()
        return token

    async def aclose(self) -> None:
        """Close the HTTP client (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncWeChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _refresh(self, failed: str, errcode: int) -> str | None:
        """Compare-and-swap refresh: a token other than ``failed``, or None if none."""
        if not self._can_refresh:
            return None
        async with self._lock:
            current = self._tokens.fresh()
            if current is not None and current != failed:
                return current
            logger.info("errcode %s: refreshing the access token once", errcode)
            token = await self._fetch_token()
            if token == failed and self._can_force_refresh:
                token = await self._fetch_token(force_refresh=True)
        return None if token == failed else token

    async def _fetch_token(self, *, force_refresh: bool = False) -> str:
        req = self._token_call(force_refresh=force_refresh)
        status, body, _ = await self._send(
            req.method, self._url(req.path), "token call", params=req.params, json=req.json
        )
        return self._accept_token(status, body, forced=force_refresh)

    async def _post(self, call: OCRCall, token: str) -> dict[str, Any]:
        status, body, content_type = await self._send(
            "POST",
            self._ocr_url(call, token),
            call.kind,
            **call.body(),
        )
        return parse_response(call.kind, status, body, content_type)

    async def _send(
        self, method: str, url: str | httpx.URL, what: str, **kwargs: Any
    ) -> tuple[int, bytes, str | None]:
        capped = self._capped(what)

        async def exchange() -> httpx.Response:
            async with self._http.stream(method, url, timeout=self._timeout, **kwargs) as response:
                capped.start(response)
                async for chunk in response.aiter_bytes():
                    capped.feed(chunk)
            return response

        try:
            response = await _within_deadline(exchange(), self._deadline)
        except httpx.HTTPError as exc:
            raise self._transport_error(what, exc) from None
        except asyncio.TimeoutError:
            raise self._deadline_error(what) from None
        return response.status_code, capped.body(), response.headers.get("content-type")
