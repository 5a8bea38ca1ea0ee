"""Blocking httpx transports and clients behind httpx's async transport interface.

:class:`~ocr_frames.wechat.WeChatClient` runs :class:`~ocr_frames.wechat.AsyncWeChatClient`
on a private event loop, yet accepts what a blocking httpx user has: a
``transport=httpx.HTTPTransport(...)``, blocking ``mounts=`` or a ready
``http_client=httpx.Client(...)``.  :class:`BlockingTransport` carries each exchange to
such an object in a worker thread, one blocking call (the send, each chunk, the close) at
a time, so the event loop never blocks.

The deadline stays the client's: when it runs out, the call returns at once; the worker
thread may go on waiting for the blocking read until that transport's own timeout, and a
response that arrives for a caller who is gone is closed, never read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Final, TypeVar

import httpx

__all__ = ["BlockingTransport", "as_async"]

_T = TypeVar("_T")
_A = TypeVar("_A")
_END = b""
#: Worker threads per transport: as many exchanges as httpx's default connection limit
#: (threads are started on demand; more concurrent callers wait for one).
MAX_WORKERS: Final = 100


class BlockingTransport(httpx.AsyncBaseTransport):
    """``send`` (a blocking ``request -> streamed response``) as an async transport.

    ``close`` is called by :meth:`aclose` (a transport handed over is closed with the
    client, as httpx does; an ``httpx.Client`` passed in is the caller's, left open).
    """

    def __init__(
        self,
        send: Callable[[httpx.Request], httpx.Response],
        close: Callable[[], None] | None = None,
    ) -> None:
        self._send = send
        self._close = close
        self._pool = concurrent.futures.ThreadPoolExecutor(
            MAX_WORKERS, thread_name_prefix="ocr-frames-io"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._blocking(self._send, request, orphan=_close_response)
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)  # what a blocking transport returns
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ThreadedStream(stream, self),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._close is not None:
            await asyncio.to_thread(self._close)

    async def _blocking(
        self,
        call: Callable[[_A], _T],
        arg: _A,
        *,
        orphan: Callable[[_T], None] | None = None,
    ) -> _T:
        """``call(arg)`` in a worker thread; if the caller is cancelled meanwhile, the result
        it would have got goes to ``orphan`` once the call returns."""
        future = self._pool.submit(call, arg)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if orphan is not None:
                future.add_done_callback(lambda done: _hand_over(done, orphan))
            raise


class _ThreadedStream(httpx.AsyncByteStream):
    """A blocking response body, read chunk by chunk in the transport's worker threads."""

    def __init__(self, stream: httpx.SyncByteStream, transport: BlockingTransport) -> None:
        self._stream = stream
        self._transport = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = iter(self._stream)
        while chunk := await self._transport._blocking(_next_chunk, chunks):
            yield chunk

    async def aclose(self) -> None:
        await self._transport._blocking(_close_stream, self._stream)


def as_async(
    transport: httpx.BaseTransport | None, http_client: httpx.Client | None
) -> httpx.AsyncBaseTransport | None:
    """The async transport to use for a blocking ``transport`` or ``http_client`` (or None).

    Blocking even if it speaks both interfaces (``httpx.MockTransport``): a handler given
    to the blocking client may block, and must not block the event loop.
    """
    if http_client is not None:
        return BlockingTransport(_ResentThrough(http_client))
    if transport is None:
        return None
    return BlockingTransport(transport.handle_request, transport.close)


class _ResentThrough:
    """Sends a request of the async client as ``http_client`` would have built it.

    The request arrives built by the async client around it, with that client's default
    headers (its User-Agent, say) and none of ``http_client``'s: so it is built again by
    ``http_client`` - its headers, cookies, query parameters, auth and timeout defaults
    apply, as if the call had been made on it - from what the call itself sets: method,
    URL (its query merged with the client's parameters), body, Content-Type (the only
    header a WeChat client call sets) and extensions (the call's timeout).
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def __call__(self, request: httpx.Request) -> httpx.Response:
        content_type = request.headers.get("Content-Type")
        again = self._client.build_request(
            request.method,
            request.url.copy_with(query=None),
            params=request.url.params,  # merged with the client's, not replaced by them
            content=request.content,
            headers=None if content_type is None else {"Content-Type": content_type},
            extensions=request.extensions,
        )
        return self._client.send(again, stream=True)


def _next_chunk(chunks: Iterator[bytes]) -> bytes:
    for chunk in chunks:
        if chunk:
            return chunk
    return _END


def _close_stream(stream: httpx.SyncByteStream) -> None:
    stream.close()


def _close_response(response: httpx.Response) -> None:
    response.close()


def _hand_over(done: concurrent.futures.Future[_T], orphan: Callable[[_T], None]) -> None:
    if not done.cancelled() and done.exception() is None:
        orphan(done.result())
