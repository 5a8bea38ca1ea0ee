"""A lean httpx transport: asyncio streams + h11, one idle-connection stack per origin.

httpx's default transport (httpcore on anyio) spends most of a 2-core machine's CPU on
bookkeeping when 64 calls are in flight: every request pays for cancel scopes, pool scans
and socket-liveness polls (measured: ~1.1 ms of client CPU per call, see BENCHMARKS.md).
OCR calls are the simplest HTTP there is - one origin, small POSTs, small JSON answers,
keep-alive - so this transport does only that, on the same protocol library httpcore
uses (h11), behind httpx's public transport interface: the client, its timeouts, its
exceptions and everything above them stay httpx.

What it does not do (requests needing it go to :class:`httpx.AsyncHTTPTransport`):
proxies and HTTP/2.  It honours the request's connect/read/write timeouts.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Final

import h11
import httpx

__all__ = ["H11Transport"]

READ_CHUNK: Final = 65536
_Origin = tuple[bytes, str, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    async def send(self, events: list[h11.Event], timeout: float | None) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), timeout)

    async def next_event(self, timeout: float | None) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = await asyncio.wait_for(self.reader.read(READ_CHUNK), timeout)
            self.h11.receive_data(data)

    def reusable(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    def close(self) -> None:
        self.writer.close()


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, transport: H11Transport, origin: _Origin, conn: _Connection, timeout: float | None
    ) -> None:
        self._transport, self._origin, self._timeout = transport, origin, timeout
        self._conn: _Connection | None = conn
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await conn.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._done = True
                    return
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except (OSError, h11.RemoteProtocolError) as exc:
            raise httpx.ReadError(str(exc)) from None

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and conn.reusable():
            conn.h11.start_next_cycle()
            self._transport._idle.setdefault(self._origin, []).append(conn)
        else:
            conn.close()


class H11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive over asyncio streams; see the module docstring."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True) -> None:
        self._idle: dict[_Origin, list[_Connection]] = {}
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext | None = verify
        else:
            self._ssl = None if verify else httpx.create_ssl_context(verify=False)
        self._verify = verify

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._ssl_context() if scheme == b"https" else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, limit=READ_CHUNK * 4), timeout
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        return _Connection(reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: _Origin = (url.raw_scheme, url.host, port)
        timeouts = request.extensions.get("timeout", {})
        events = await self._events(request)
        conn = self._take_idle(origin) or await self._connect(origin, timeouts.get("connect"))
        return await self._exchange(origin, conn, events, timeouts)

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        """A kept-alive connection the server has not closed meanwhile, if any.

        A request is never re-sent on another connection once written: an OCR call that
        reached the platform is billed, so a retry is the caller's decision (CallPool
        counts it).  Closed idle connections are weeded out before use instead.
        """
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()
                continue
            return conn
        return None

    @staticmethod
    async def _events(request: httpx.Request) -> list[h11.Event]:
        """The request as h11 events (built before a connection is taken: nothing leaks if
        reading the body fails)."""
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]
        if not any(k.lower() == b"content-length" for k, _ in headers) and request.method in (
            "POST",
            "PUT",
            "PATCH",
        ):
            headers.append((b"Content-Length", str(len(body)).encode()))
        target = request.url.raw_path
        events: list[h11.Event] = [
            h11.Request(method=request.method, target=target, headers=headers)
        ]
        if body:
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        return events

    async def _exchange(
        self,
        origin: _Origin,
        conn: _Connection,
        events: list[h11.Event],
        timeouts: dict[str, float],
    ) -> httpx.Response:
        try:
            await conn.send(events, timeouts.get("write"))
            event = await conn.next_event(timeouts.get("read"))
        except BaseException as exc:
            conn.close()
            error = _translate(exc)
            if error is exc:
                raise
            raise error from None
        if not isinstance(event, h11.Response):
            conn.close()
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} from server")
        return httpx.Response(
            status_code=event.status_code,
            headers=[(bytes(k), bytes(v)) for k, v in event.headers],
            stream=_Body(self, origin, conn, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": bytes(event.reason)},
        )

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout("timed out waiting for the response")
    if isinstance(exc, h11.RemoteProtocolError):
        return httpx.RemoteProtocolError(str(exc))
    if isinstance(exc, (ConnectionError, OSError)):
        return httpx.ReadError(str(exc) or type(exc).__name__)
    return exc
