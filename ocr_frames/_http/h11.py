"""A lean httpx transport: asyncio streams + h11, one idle-connection stack per origin.

httpx's default transport (httpcore on anyio) spends most of a 2-core machine's CPU on
bookkeeping when 64 calls are in flight: every request pays for cancel scopes, pool scans
and socket-liveness polls (measured: ~1.1 ms of client CPU per call, see BENCHMARKS.md).
OCR calls are the simplest HTTP there is - one origin, small POSTs, small JSON answers,
keep-alive - so this transport does only that, on the same protocol library httpcore
uses (h11), behind httpx's public transport interface: the client, its timeouts, its
exceptions and everything above them stay httpx.

What it does not do (requests needing it go to :class:`httpx.AsyncHTTPTransport`):
proxies and HTTP/2.  It honours the request's connect/read/write timeouts; a cancel of
the caller always wins over them (no ``asyncio.wait_for``, see :mod:`ocr_frames._base.deadline`).

A kept-alive connection is reused only if nothing arrived on it since its last answer:
a byte that comes while no request is outstanding (a stray or late response) closes it,
and so do surplus bytes after an answer, an EOF, or data still waiting in the kernel when
the connection is taken (a zero-timeout poll, as httpcore does) - otherwise every later
answer on it would belong to the request before.  1xx informational responses are skipped.
tests/test_transport_conformance.py runs this transport and httpx's own against the same
misbehaving servers.

The limit of this (HTTP/1.1's, httpx's transport has it too): a response carries nothing
that names its request, so a stray response that arrives *while a request is outstanding*
on the connection - sent after that request was written, e.g. a late duplicate answer that
the server emits just after the answer before - is indistinguishable from the answer and
is taken as it.  That request gets the stray, and every later request on the connection
the answer of the one before it, until the connection is closed (by an error, by an answer
arriving while it is idle or together with another, by its expiry, or at the end of the
run).  Reusing the least recently used idle connection instead of the freshest does not
bound this (measured: the same wrong answers, since under load a released connection is
taken again at once either way), and under a steady trickle of calls it would keep every
connection of an earlier burst alive.

Idle connections: the freshest is reused first; one the server closes or resets while
idle is closed at once; expired ones (:data:`KEEPALIVE_EXPIRY`) are closed at the next
take or release wherever they are in the pool, and at most ``max_keepalive`` are kept.
:meth:`H11Transport.aclose` closes the connections of responses still open too.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from time import monotonic as _clock
from typing import Final, SupportsIndex

import h11
import httpx

from ocr_frames._base.deadline import DeadlineExpired, within

__all__ = ["H11Transport"]

READ_CHUNK: Final = 65536
#: An idle connection older than this is closed instead of reused (httpx's default): a
#: server's keep-alive timeout then rarely races our next request.
KEEPALIVE_EXPIRY: Final = 5.0
#: At most this many idle connections are kept per origin (the oldest are closed first).
#: Not below the concurrency OCR runs use (16 by default, 64 in the benchmarks): a run
#: whose calls all pause at once, e.g. between chunks, must not reconnect (TCP and TLS
#: handshakes are what keep-alive saves); only an unusually wide burst is trimmed.
MAX_KEEPALIVE: Final = 64
_Origin = tuple[bytes, str, int]


class _Reader(asyncio.StreamReader):
    """A StreamReader that knows when no request is outstanding on its connection.

    While the connection waits in the pool (``idle``), any byte that arrives is a protocol
    error - a stray or late response that would otherwise be read as the answer to the next
    request on this connection, shifting every later answer by one - so the connection is
    closed on the spot and the bytes are dropped.  So is one the server closes or resets
    meanwhile (no socket left in CLOSE_WAIT); either way it leaves the pool
    (``on_idle_loss``).
    """

    _buffer: bytearray  # StreamReader's own buffer (set by its __init__; not in the stubs)

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.idle = False
        self.lost = False  # something arrived while idle: never reuse
        self.on_idle_loss: Callable[[], None] | None = None
        self._conn_transport: asyncio.BaseTransport | None = None

    def set_transport(self, transport: asyncio.BaseTransport) -> None:
        super().set_transport(transport)
        self._conn_transport = transport

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        if self.idle and data:
            self._lost_while_idle()
            return
        super().feed_data(data)

    def feed_eof(self) -> None:
        super().feed_eof()
        if self.idle:
            self._lost_while_idle()

    def set_exception(self, exc: Exception) -> None:
        super().set_exception(exc)
        if self.idle:
            self._lost_while_idle()

    def _lost_while_idle(self) -> None:
        self.lost = True
        if self._conn_transport is not None:
            self._conn_transport.close()
        if self.on_idle_loss is not None:
            self.on_idle_loss()

    def buffered(self) -> bool:
        return bool(self._buffer)


_poll = getattr(select, "poll", None)


def _socket_readable(fd: int) -> bool:
    """Whether ``recv`` on ``fd`` would return at once (data or EOF) - a zero-timeout poll.

    Bytes (or a FIN) can sit in the kernel while the event loop has not yet had its turn to
    read them into the StreamReader.  A closed socket (fd -1) counts as readable.
    """
    if fd < 0:
        return True
    if _poll is None:  # pragma: no cover - Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = _poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Connection:
    def __init__(self, reader: _Reader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)
        sock = writer.get_extra_info("socket")
        self.fd: int = sock.fileno() if sock is not None else -1
        self.idle_since = 0.0
        self.pool: deque[_Connection] | None = None  # the idle pool it waits in
        reader.on_idle_loss = self._leave_pool

    async def send(self, events: list[h11.Event], timeout: float | None) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.writer.write(data)
        if timeout is None or not self.writer.transport.get_write_buffer_size():
            await self.writer.drain()  # nothing to wait for: no timer
        else:
            await within(self.writer.drain(), timeout)

    async def next_event(self, timeout: float | None) -> h11.Event:
        reader = self.reader
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            if timeout is None or reader.buffered():
                data = await reader.read(READ_CHUNK)
            else:
                data = await within(reader.read(READ_CHUNK), timeout)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("server disconnected without sending a response")
            self.h11.receive_data(data)

    async def response_head(self, timeout: float | None) -> h11.Response:
        """The final response's head: 1xx informational responses (``100 Continue``,
        ``103 Early Hints``) before it are skipped, as httpcore does."""
        while True:
            event = await self.next_event(timeout)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse) or event.status_code == 101:
                raise httpx.RemoteProtocolError(f"unexpected {_describe(event)} from server")

    def poolable(self) -> bool:
        """Both sides done, keep-alive agreed, and not one byte beyond the response."""
        return (
            self.h11.our_state is h11.DONE
            and self.h11.their_state is h11.DONE
            and not self.h11.trailing_data[0]
            and not self.reader.buffered()
            and not self.writer.is_closing()
        )

    def park(self, now: float, pool: deque[_Connection]) -> None:
        self.h11.start_next_cycle()
        self.idle_since = now
        self.pool = pool
        pool.append(self)
        self.reader.idle = True

    def _leave_pool(self) -> None:
        """The connection was lost while idle (see :class:`_Reader`)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.remove(self)

    def take(self, now: float) -> bool:
        """Leave the pool: True if the connection may carry the next request.

        Not if anything arrived meanwhile - bytes or EOF, whether the event loop already
        read them (``lost``, the reader's buffer, its EOF) or they still wait in the kernel
        (a zero-timeout poll of the socket, like httpcore's ``is_socket_readable``) - nor if
        it idled longer than :data:`KEEPALIVE_EXPIRY`.
        """
        reader = self.reader
        reader.idle = False
        self.pool = None
        return not (
            reader.lost
            or reader.buffered()
            or reader.at_eof()
            or reader.exception() is not None
            or self.writer.is_closing()
            or now - self.idle_since > KEEPALIVE_EXPIRY
            or _socket_readable(self.fd)
        )

    def close(self) -> None:
        self.reader.idle = False
        self.pool = None
        self.writer.close()


def _describe(event: object) -> str:
    if isinstance(event, h11.InformationalResponse):
        return f"{event.status_code} response"
    return type(event).__name__


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
                    raise httpx.RemoteProtocolError(f"unexpected {_describe(event)}")
        except (DeadlineExpired, TimeoutError):
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except h11.RemoteProtocolError as exc:  # e.g. closed before the whole body came
            raise httpx.RemoteProtocolError(str(exc)) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and conn.poolable():
            self._transport._park(self._origin, conn)
        else:
            self._transport._discard(conn)


class H11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive over asyncio streams; see the module docstring."""

    def __init__(
        self, *, verify: ssl.SSLContext | bool = True, max_keepalive: int = MAX_KEEPALIVE
    ) -> None:
        if max_keepalive < 0:
            raise ValueError(f"max_keepalive must be >= 0, got {max_keepalive}")
        #: idle connections per origin, oldest first (reused from the end: the freshest)
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._active: set[_Connection] = set()  # checked out: closed by aclose() too
        self._max_keepalive = max_keepalive
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
        loop = asyncio.get_running_loop()
        reader = _Reader(READ_CHUNK * 4, loop)  # asyncio.open_connection, with our reader
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        connect = loop.create_connection(lambda: protocol, host, port, ssl=tls)
        try:
            transport, _ = await (connect if timeout is None else within(connect, timeout))
        except (DeadlineExpired, TimeoutError):
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc)) from None
        conn = _Connection(reader, asyncio.StreamWriter(transport, protocol, reader, loop))
        self._active.add(conn)
        return conn

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        origin: _Origin = (url.raw_scheme, url.host, port)
        timeouts = request.extensions.get("timeout", {})
        events = await self._events(request)
        conn = self._take_idle(origin) or await self._connect(origin, timeouts.get("connect"))
        return await self._exchange(origin, conn, events, timeouts)

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        """A kept-alive connection on which nothing arrived meanwhile, if any.

        A request is never re-sent on another connection once written: an OCR call that
        reached the platform is billed, so a retry is the caller's decision (CallPool
        counts it).  Idle connections that the server closed, that received stray bytes or
        that expired are weeded out before use instead (see :meth:`_Connection.take`;
        those the event loop already saw closed left the pool then, see :class:`_Reader`).
        """
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = _clock()
        _expire(idle, now)
        while idle:
            conn = idle.pop()
            if conn.take(now):
                self._active.add(conn)
                return conn
            conn.close()
        return None

    def _park(self, origin: _Origin, conn: _Connection) -> None:
        """Back to the pool after a complete answer; the pool's oldest connection is closed
        if the pool is full, and so are those that expired meanwhile."""
        self._active.discard(conn)
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = deque()
        now = _clock()
        _expire(idle, now)
        if len(idle) >= self._max_keepalive:
            if not idle:  # max_keepalive=0: no keep-alive
                conn.close()
                return
            idle.popleft().close()
        conn.park(now, idle)

    def _discard(self, conn: _Connection) -> None:
        self._active.discard(conn)
        conn.close()

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
            try:
                await conn.send(events, timeouts.get("write"))
            except (DeadlineExpired, TimeoutError):
                raise httpx.WriteTimeout("timed out sending the request") from None
            except OSError:
                pass  # the server may have answered early and closed (as httpcore: read on)
            head = await conn.response_head(timeouts.get("read"))
        except BaseException as exc:
            self._discard(conn)
            error = _translate(exc)
            if error is exc:
                raise
            raise error from None
        return httpx.Response(
            status_code=head.status_code,
            headers=[(bytes(k), bytes(v)) for k, v in head.headers],
            stream=_Body(self, origin, conn, timeouts.get("read")),
            extensions={
                "http_version": b"HTTP/" + bytes(head.http_version),
                "reason_phrase": bytes(head.reason),
            },
        )

    async def aclose(self) -> None:
        """Close every connection: idle ones and those of responses still open."""
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        for conn in self._active:
            conn.close()
        self._active.clear()


def _expire(idle: deque[_Connection], now: float) -> None:
    """Close the connections that idled longer than :data:`KEEPALIVE_EXPIRY` (the oldest
    first: the pool is in parking order), wherever they are in the pool."""
    while idle and now - idle[0].idle_since > KEEPALIVE_EXPIRY:
        idle.popleft().close()


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, (DeadlineExpired, TimeoutError, asyncio.TimeoutError)):
        return httpx.ReadTimeout("timed out waiting for the response")
    if isinstance(exc, h11.RemoteProtocolError):
        return httpx.RemoteProtocolError(str(exc))
    if isinstance(exc, h11.LocalProtocolError):
        return httpx.LocalProtocolError(str(exc))
    if isinstance(exc, (ConnectionError, OSError)):
        return httpx.ReadError(str(exc) or type(exc).__name__)
    return exc
