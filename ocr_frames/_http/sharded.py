"""A connection pool split into small shards, for high concurrency on one host.

httpcore's pool matches queued requests to connections by scanning all of them for every
state change, so its cost per request grows with the number of requests in flight: on a
2-core machine one ``httpx.AsyncClient`` serving 64 concurrent calls spends most of its CPU
there (measured: ~0.5 of the ideal ``concurrency / latency`` at 64, see BENCHMARKS.md).
:class:`ShardedTransport` keeps each pool small and sends every request to the least busy
shard, so the scan stays short however high ``concurrency`` goes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

import httpx

__all__ = ["DEFAULT_SHARD_SIZE", "ShardedTransport"]

DEFAULT_SHARD_SIZE: Final = 4


class _CountedStream(httpx.AsyncByteStream):
    """Response body that tells its shard when the connection is free again."""

    def __init__(self, inner: httpx.AsyncByteStream, transport: ShardedTransport, shard: int):
        self._inner, self._transport, self._shard = inner, transport, shard
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport._load[self._shard] -= 1
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Independent ``AsyncHTTPTransport`` pools of ``shard_size`` connections each.

    A new shard opens when every shard is full, so the number of shards follows the
    number of requests in flight (``concurrency``) without being told it.  With ``proxy``
    every shard sends through that proxy.
    """

    def __init__(
        self,
        *,
        shard_size: int = DEFAULT_SHARD_SIZE,
        max_shards: int = 64,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        self._proxy = proxy  # every shard's connections go through it
        self._limits = httpx.Limits(
            max_connections=shard_size, max_keepalive_connections=shard_size
        )
        self._shard_size, self._max_shards = shard_size, max_shards
        self._ssl = httpx.create_ssl_context()  # one CA bundle load, not one per shard
        self._shards: list[httpx.AsyncHTTPTransport] = []
        self._load: list[int] = []

    def _pick(self) -> int:
        if self._load:
            shard = min(range(len(self._load)), key=self._load.__getitem__)
            if self._load[shard] < self._shard_size or len(self._shards) >= self._max_shards:
                return shard
        self._shards.append(
            httpx.AsyncHTTPTransport(limits=self._limits, verify=self._ssl, proxy=self._proxy)
        )
        self._load.append(0)
        return len(self._shards) - 1

    @property
    def shards(self) -> int:
        return len(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = self._pick()
        self._load[shard] += 1
        try:
            response = await self._shards[shard].handle_async_request(request)
        except BaseException:
            self._load[shard] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, self, shard)
        return response

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
