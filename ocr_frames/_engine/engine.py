"""Engines and the call pool shared by all of them.

An *engine* turns one image into one answer dict (see ``docs/architecture.md``).  It makes
exactly one attempt per call; everything about *how many* calls run, how fast, and what
happens on a transient failure lives here, in :class:`CallPool`, so every engine gets the
same bounded concurrency, global rate limit, retries with back-off and quota handling.

Engine protocol::

    class Engine(Protocol):
        identity: str                         # goes into the cache key; never a secret
        async def arecognize(self, kind, image=None, *, img_url=None) -> dict
        async def aclose(self) -> None

Engines built on :class:`BaseEngine` also get synchronous ``recognize_one(image, kind)``
and ``recognize_many(images, kind)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ocr_frames._base.sync import run_sync
from ocr_frames._errors import (
    CONFIG_CODES,
    E_TRANSPORT,
    QUOTA_CODES,
    RETRYABLE_CODES,
    ConfigurationError,
    OCRError,
    error_for_code,
)
from ocr_frames.kinds import check_kind

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BaseEngine",
    "CallPool",
    "Engine",
    "Limiter",
    "RetryPolicy",
    "WeChatEngine",
]

DEFAULT_CONCURRENCY: Final = 16
Answer = dict[str, Any]


@runtime_checkable
class Engine(Protocol):
    """What the pipeline needs from an OCR engine."""

    @property
    def identity(self) -> str: ...

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class BaseEngine:
    """Sync conveniences for any engine implementing ``arecognize``/``aclose``."""

    @property
    def identity(self) -> str:
        raise NotImplementedError

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def recognize_one(self, image: bytes, kind: str) -> Answer:
        """Recognise one image synchronously (one attempt, no cache, no retries)."""

        async def one() -> Answer:
            try:
                return await self.arecognize(kind, image)
            finally:
                await self.aclose()

        return run_sync(one())

    def recognize_many(
        self, images: Sequence[bytes], kind: str, *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[Answer]:
        """Recognise several images concurrently, with retries (no cache)."""

        async def many() -> list[Answer]:
            pool = CallPool(self, kind, concurrency=concurrency)
            try:
                return list(await asyncio.gather(*(pool.call(img) for img in images)))
            finally:
                await self.aclose()

        return run_sync(many())


class WeChatEngine(BaseEngine):
    """The WeChat OCR API as an engine.

    Credentials are either ``appid`` + ``secret`` (token via ``/cgi-bin/stable_token``, or
    ``/cgi-bin/token`` with ``token_endpoint="token"``) or a fixed ``access_token``.
    ``base_url`` points at a gateway or at :class:`ocr_frames.testing.WeChatEmulator`.

    Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` are honoured as httpx
    honours them; ``proxy="http://[user:password@]host:port"`` (or ``socks5://``) sends every
    call through that proxy instead, and a run with this engine downloads its image URLs
    through it too.  Proxied calls use httpx's transport, the others the lean one.
    """

    def __init__(
        self,
        *,
        appid: str | None = None,
        secret: str | None = None,
        access_token: str | None = None,
        base_url: str | None = None,
        token_endpoint: Literal["stable_token", "token"] = "stable_token",
        timeout: float = 30.0,
        client_options: Mapping[str, Any] | None = None,
        proxy: str | None = None,
    ) -> None:
        from ocr_frames._http.proxies import check_proxy
        from ocr_frames.wechat import DEFAULT_BASE_URL
        from ocr_frames.wechat._client import _check_base_url

        if not access_token and not (appid and secret):
            raise ConfigurationError(
                "WeChatEngine needs appid and secret, or access_token "
                "(or use WeChatEngine.from_env() with WECHAT_APPID/WECHAT_SECRET)"
            )
        self._appid = appid
        self._secret = secret
        self._access_token = access_token
        self.base_url = _check_base_url(base_url or DEFAULT_BASE_URL)
        self._token_endpoint = token_endpoint
        self._timeout = timeout
        self._client_options = dict(client_options or {})
        if proxy is not None:
            check_proxy(proxy)
            if {"transport", "http_client"} & self._client_options.keys():
                raise ConfigurationError(
                    "pass proxy= or client_options transport/http_client, not both"
                )
        self._proxy = proxy
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> WeChatEngine:
        """Build from ``WECHAT_APPID``, ``WECHAT_SECRET`` (or ``WECHAT_ACCESS_TOKEN``) and
        ``WECHAT_BASE_URL``; keyword arguments (``proxy=`` too) override the environment."""
        env = os.environ if env is None else env
        kwargs: dict[str, Any] = {
            "appid": env.get("WECHAT_APPID") or None,
            "secret": env.get("WECHAT_SECRET") or None,
            "access_token": env.get("WECHAT_ACCESS_TOKEN") or None,
            "base_url": env.get("WECHAT_BASE_URL") or None,
        }
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)

    @property
    def identity(self) -> str:
        """``"wechat"`` for the platform; ``"wechat@scheme://host[:port]/~DIGEST"`` otherwise.

        Answers from a gateway or emulator must not mix with the platform's, nor with
        another backend's: scheme and host lower-case, default port dropped, never the user
        info; the path (no trailing slash) enters as the first 12 hex digits of its sha256,
        because gateways put keys in paths and the identity is written to Parquet metadata
        and cache exports.  The account is not part of it (answers do not depend on it), so
        two appids on one backend share cached answers.
        """
        from ocr_frames.wechat import DEFAULT_BASE_URL

        where = _backend(self.base_url)
        return "wechat" if where == _backend(DEFAULT_BASE_URL) else f"wechat@{where}"

    @property
    def proxy(self) -> str | None:
        """The explicit proxy (None: the environment's proxies, if any)."""
        return self._proxy

    def __repr__(self) -> str:
        from ocr_frames._http.proxies import shown_proxy

        parts = urlsplit(self.base_url)  # a gateway URL may carry user:password
        netloc = parts.netloc.rpartition("@")[2]  # and a query or fragment a signature
        shown = parts._replace(netloc=netloc, query="", fragment="").geturl()
        text = f"WeChatEngine(appid={self._appid!r}, base_url={shown!r}"
        if self._proxy is not None:
            text += f", proxy={shown_proxy(self._proxy)!r}"
        return text + ")"

    def _get_client(self) -> Any:
        from ocr_frames.wechat import AsyncWeChatClient

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # an httpx.AsyncClient belongs to the loop that opened its connections
            options = dict(self._client_options)
            if "http_client" not in options and "transport" not in options:
                options.update(_http_options(self._proxy, options.pop("limits", None)))
            self._client = AsyncWeChatClient(
                appid=self._appid,
                secret=self._secret,
                access_token=self._access_token,
                base_url=self.base_url,
                token_endpoint=self._token_endpoint,
                timeout=self._timeout,
                **options,
            )
            self._loop = loop
        return self._client

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> Answer:
        from ocr_frames._errors import ImageError, TransportError

        client = self._get_client()
        try:
            answer: Answer = await client.request(kind, image, img_url=img_url)
        except (TransportError, ImageError) as exc:  # per-image problems are row results
            return {"errcode": exc.errcode or E_TRANSPORT, "errmsg": exc.message, "rid": exc.rid}
        return answer

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential back-off and full jitter, bounded in count.

    ``-1`` (system error), HTTP 5xx and network failures (900009) are retried after
    ``uniform(0, min(max_delay, base_delay * 2**attempt))`` seconds; ``45011`` (minute
    quota) pauses the whole pool for ``rate_limited_delay`` seconds first.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    rate_limited_delay: float = 60.0
    retry_codes: frozenset[int] = field(default=RETRYABLE_CODES | {E_TRANSPORT})

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class CallPool:
    """Bounded, rate-limited, retrying calls to one engine for one kind.

    ``call`` is awaited by at most ``concurrency`` tasks at once (a semaphore); a global
    ``rate_limit`` (calls per second, shared by all tasks) is applied to every attempt,
    retries included.  A spent quota (45009/101003) sets :attr:`stopped` and makes every
    later call return the quota answer without sending; a configuration errcode raises.
    """

    def __init__(
        self,
        engine: Engine,
        kind: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate_limit: float | Limiter | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[Answer], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be >= 1, got {concurrency}")
        if not isinstance(rate_limit, (Limiter, type(None))) and rate_limit <= 0:
            raise ConfigurationError(f"rate_limit must be > 0 calls/s, got {rate_limit}")
        self.engine = engine
        self.kind = check_kind(kind)
        self.retry = retry or RetryPolicy()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = _make_limiter(rate_limit)
        self._paused_until = 0.0
        self._on_attempt = on_attempt
        self.stopped: OCRError | None = None
        self.attempts = 0
        self.retries = 0

    async def call(
        self,
        image: bytes | None = None,
        *,
        img_url: str | None = None,
        keep: Callable[[Answer], Awaitable[None]] | None = None,
    ) -> Answer:
        """One image → one answer, with retries; never raises for a per-image problem.

        ``keep`` (e.g. a cache write) is awaited before the call's slot is freed, so at
        most ``concurrency`` answers are ever received-but-not-kept: the bound on what a
        killed process can lose.
        """
        async with self._semaphore:
            answer = await self._attempts(image, img_url)
            if keep is not None:
                await keep(answer)
            return answer

    async def _attempts(self, image: bytes | None, img_url: str | None) -> Answer:
        attempt = 0
        while True:
            if (stopped := self._stop_answer()) is not None:
                return stopped
            await self._wait_turn()
            if (stopped := self._stop_answer()) is not None:  # quota ran out while waiting
                return stopped
            self.attempts += 1
            answer = await self.engine.arecognize(self.kind, image, img_url=img_url)
            if self._on_attempt is not None:
                self._on_attempt(answer)
            try:
                code = int(answer.get("errcode", 0))
            except (TypeError, ValueError):  # paid for, so kept: as a bad-response row
                from ocr_frames._errors import E_BAD_RESPONSE

                return {"errcode": E_BAD_RESPONSE, "errmsg": "engine errcode is not an integer"}
            if code in QUOTA_CODES:
                self.stopped = error_for_code(code, str(answer.get("errmsg", "")))
                return answer
            if code in CONFIG_CODES:
                raise error_for_code(code, str(answer.get("errmsg", "")), answer.get("rid"))
            if code not in self.retry.retry_codes or attempt + 1 >= self.retry.max_attempts:
                return answer
            if code == 45011:
                self._paused_until = max(
                    self._paused_until, time.monotonic() + self.retry.rate_limited_delay
                )
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1
            self.retries += 1

    def _stop_answer(self) -> Answer | None:
        return None if self.stopped is None else _stopped_answer(self.stopped)

    async def _wait_turn(self) -> None:
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if self._limiter is not None:
            await self._limiter.acquire()


@runtime_checkable
class Limiter(Protocol):
    """A rate limiter shared beyond one pool (e.g. :class:`ocr_frames.dask.GlobalRateLimit`):
    ``acquire`` returns when one more call may be sent."""

    async def acquire(self) -> Any: ...


def _http_options(proxy: str | None, limits: Any) -> dict[str, Any]:
    """``transport`` and ``mounts`` for the engine's client: the lean h11 transport for
    direct calls, httpx's own (sharded) with ``proxy=`` for proxied ones (see
    :mod:`ocr_frames._http.proxies`); with ``limits``, httpx's transport for both."""
    import httpx

    from ocr_frames._http.proxies import proxy_mounts, proxy_routes

    def through(route: httpx.Proxy) -> httpx.AsyncBaseTransport:
        if limits is None:
            from ocr_frames._http.sharded import ShardedTransport

            return ShardedTransport(proxy=route)
        return httpx.AsyncHTTPTransport(limits=limits, proxy=route)

    if limits is None:
        from ocr_frames._http.h11 import H11Transport

        transport: httpx.AsyncBaseTransport = H11Transport()
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    return {"transport": transport, "mounts": proxy_mounts(proxy_routes(proxy), through)}


def _backend(base_url: str) -> str:
    """``scheme://host[:port]/path`` of a base URL, normalised (see ``identity``)."""
    import httpx

    url = httpx.URL(base_url)  # lower-cases scheme and host (IDNA), removes dot segments
    host = url.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = "" if url.port in (None, default) else f":{url.port}"
    path = url.raw_path.split(b"?", 1)[0].rstrip(b"/")  # still %-encoded
    digest = f"/~{hashlib.sha256(path).hexdigest()[:12]}" if path else ""
    return f"{url.scheme}://{host}{port}{digest}"


def _make_limiter(rate_limit: float | Limiter | None) -> Any:
    if rate_limit is None or isinstance(rate_limit, Limiter):
        return rate_limit  # an object with ``async acquire()`` is used as it is
    from aiolimiter import AsyncLimiter

    # capacity 1 per 1/rate seconds: a smooth rate without an initial burst
    return AsyncLimiter(1, 1.0 / rate_limit)


def _stopped_answer(exc: OCRError) -> Answer:
    from ocr_frames._errors import E_NOT_DONE

    return {"errcode": E_NOT_DONE, "errmsg": f"not sent: run stopped ({exc.message})", "rid": None}
