"""The WeChat OCR client: :class:`AsyncWeChatClient`, and :class:`WeChatClient` around it.

One implementation.  :class:`AsyncWeChatClient` is the client: tokens, the
compare-and-swap refresh, the capped streamed read, the deadline.  :class:`WeChatClient`
is a thin blocking wrapper: it owns an :class:`AsyncWeChatClient` and a private event loop
(:class:`~ocr_frames._base.loop.SharedLoop`), and each method runs the async method on
that loop, driven by the calling thread itself (or by the thread already driving it for
another caller).  Chosen over generating the sync client from the async one (as httpcore
does with unasync) because the deadline is an ``asyncio.timeout`` around the whole
exchange, which cancels a stalled read at once and never loses a cancel (CPython
gh-86296, see :mod:`ocr_frames._base.deadline`); generated blocking code could only check
a clock between chunks.  The price: a blocking ``transport``, ``mounts`` or
``http_client=httpx.Client`` is driven from worker threads
(:mod:`ocr_frames.wechat._blocking`).  Threads calling one :class:`WeChatClient` share its
loop, its connections and its token lock; a forked child gets a loop, an
:class:`AsyncWeChatClient` and connections of its own, and keeps the token (a client given
the user's ``transport``, ``mounts`` or ``http_client`` refuses to run in a child instead:
those connections are the parent's, and answers would cross processes).  Without a
transport of the user's, the calls go out as :class:`~ocr_frames.wechat.WeChatEngine`'s
do (:func:`default_transports`; bench/notes.md, "The blocking client").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ocr_frames._base.closing import Closing
from ocr_frames._base.deadline import DeadlineExpired, within
from ocr_frames._base.loop import SharedLoop
from ocr_frames._errors import TOKEN_CODES, ConfigurationError, error_for_code
from ocr_frames._http.h11 import H11Transport
from ocr_frames._http.proxies import proxy_mounts, proxy_routes
from ocr_frames._http.sharded import ShardedTransport
from ocr_frames.wechat._blocking import as_async
from ocr_frames.wechat._config import USER_AGENT, BaseClient, OCRCall, check_http_options
from ocr_frames.wechat._parse import parse_response
from ocr_frames.wechat._token import DEFAULT_REFRESH_MARGIN, TokenEndpoint

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DEADLINE",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN_ENDPOINT",
    "AsyncWeChatClient",
    "WeChatClient",
    "default_transports",
]

DEFAULT_BASE_URL: Final = "https://api.weixin.qq.com"
DEFAULT_TOKEN_ENDPOINT: Final[TokenEndpoint] = "stable_token"
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
#: Whole-call bound (connect + send + every byte of the answer), on top of httpx's timeouts.
DEFAULT_DEADLINE: Final = 90.0
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: Responses are read streamed and abandoned beyond this size (real answers are a few KB).
DEFAULT_MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024

logger = logging.getLogger("ocr_frames.wechat")


class AsyncWeChatClient(BaseClient):
    """The client (concurrency-safe: the token is shared under an asyncio.Lock)."""

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

    async def __aexit__(self, *exc_info: object) -> None:
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
        if isinstance(url, httpx.URL) and self._http.params:
            # httpx would replace the URL's query (the token) with the client's parameters
            url, kwargs = url.copy_with(query=None), {**kwargs, "params": url.params}

        async def exchange() -> httpx.Response:
            async with self._http.stream(method, url, timeout=self._timeout, **kwargs) as response:
                capped.start(response)
                async for chunk in response.aiter_bytes():
                    capped.feed(chunk)
            return response

        try:
            response = await within(exchange(), self._deadline)
        except httpx.HTTPError as exc:
            raise self._transport_error(what, exc) from None
        except DeadlineExpired:
            raise self._deadline_error(what) from None
        return response.status_code, capped.body(), response.headers.get("content-type")


class WeChatClient(Closing):
    """Blocking client: each call runs :class:`AsyncWeChatClient`'s on a private loop.

    Thread-safe (calls from many threads run concurrently on that loop and share the
    token under its lock), and usable in a forked child (which gets a loop and
    connections of its own, and keeps the token), unless it was given the user's
    ``transport``, ``mounts`` or ``http_client``: a child's call then raises
    :class:`~ocr_frames.ConfigurationError`, since those connections are the parent's.
    ``transport``, ``mounts`` and ``http_client`` are blocking httpx objects, as in any
    blocking httpx code; without ``transport`` or ``http_client`` the calls go out through
    the transports :class:`~ocr_frames.wechat.WeChatEngine` uses
    (:func:`default_transports`).
    """

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
        check_http_options(http_client, transport, limits, mounts)
        make = functools.partial(
            _async_client,
            {
                "appid": appid,
                "secret": secret,
                "access_token": access_token,
                "base_url": base_url,
                "token_endpoint": token_endpoint,
                "timeout": timeout,
                "max_response_bytes": max_response_bytes,
                "refresh_margin": refresh_margin,
                "deadline": deadline,
            },
            _BlockingHTTP(limits, transport, http_client, mounts),
        )
        #: this process's first client; its configuration answers the properties
        self._client = make(None)
        self._loop = SharedLoop("ocr-frames-wechat", self._client, make, AsyncWeChatClient.aclose)
        # a client dropped without close() must not leave its loop open
        self._stop_loop = weakref.finalize(self, self._loop.stop, close=False)

    @property
    def appid(self) -> str | None:
        return self._client.appid

    @property
    def base_url(self) -> str:
        return self._client.base_url

    @property
    def token_endpoint(self) -> TokenEndpoint:
        return self._client.token_endpoint

    def __repr__(self) -> str:
        return f"WeChatClient({repr(self._client).partition('(')[2]}"

    def request(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Recognise one image; return the answer dict whatever its errcode."""
        return self._loop.run(lambda client: client.request(kind, img, img_url=img_url))

    def ocr(
        self, kind: str, img: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        """Like :meth:`request`, but raise the matching OCRError unless errcode is 0."""
        return self._loop.run(lambda client: client.ocr(kind, img, img_url=img_url))

    def get_token(self) -> str:
        """The access token in force, fetched (once, under the lock) when due."""
        return self._loop.run(AsyncWeChatClient.get_token)

    def close(self) -> None:
        """Close the HTTP client (unless it was passed in as ``http_client``), end the loop.

        Closing again does nothing; a call after it raises RuntimeError."""
        self._loop.stop()


@dataclass(frozen=True)
class _BlockingHTTP:
    """The blocking HTTP options of a :class:`WeChatClient`, as given."""

    limits: httpx.Limits | None
    transport: httpx.BaseTransport | None
    http_client: httpx.Client | None
    mounts: Mapping[str, httpx.BaseTransport | None] | None


def _async_client(
    options: dict[str, Any], http: _BlockingHTTP, previous: AsyncWeChatClient | None
) -> AsyncWeChatClient:
    """The async client a :class:`WeChatClient` runs in this process (``previous``: the
    one of the process it was forked from, whose token it takes over)."""
    if previous is not None and (http.transport or http.http_client or http.mounts):
        # their kept-alive connections are the parent's too: answers would cross processes
        raise ConfigurationError(
            "this WeChatClient was given its own transport, mounts or http_client and cannot "
            "be used in a forked child (their connections belong to the parent process); "
            "create the client in the child"
        )
    limits, transport = http.limits, as_async(http.transport, http.http_client)
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if transport is None:  # none of the user's: WeChatEngine's (with limits applied)
        limits, (transport, mounts) = None, default_transports(None, http.limits)
    mounts.update({key: as_async(each, None) for key, each in (http.mounts or {}).items()})
    client = AsyncWeChatClient(**options, limits=limits, transport=transport, mounts=mounts or None)
    if previous is not None:
        client._take_tokens(previous)
    return client


def default_transports(
    proxy: str | None, limits: httpx.Limits | None
) -> tuple[httpx.AsyncBaseTransport, dict[str, httpx.AsyncBaseTransport | None]]:
    """``transport`` and ``mounts`` for a client of our own: the lean h11 transport for
    direct calls, httpx's own (sharded) for proxied ones, through ``proxy`` or the
    environment's proxies (see :mod:`ocr_frames._http.proxies`); with ``limits``, httpx's
    transport for both."""

    def through(route: httpx.Proxy) -> httpx.AsyncBaseTransport:
        if limits is None:
            return ShardedTransport(proxy=route)
        return httpx.AsyncHTTPTransport(limits=limits, proxy=route)

    if limits is None:
        transport: httpx.AsyncBaseTransport = H11Transport()
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    return transport, proxy_mounts(proxy_routes(proxy), through)
