"""The lean h11 transport over real sockets: keep-alive, stale connections, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import SupportsIndex

import httpx
import pytest

from ocr_frames._http import h11 as h11transport
from ocr_frames._http.h11 import H11Transport
from ocr_frames.testing import WeChatEmulator

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class _Server:
    """``async with``: on exit, stops listening and lets the handlers see their clients'
    hang-ups and return (rather than being cancelled when the test's loop ends)."""

    def __init__(self, server: asyncio.Server, handlers: set[asyncio.Task[None]]) -> None:
        self._server, self._handlers = server, handlers

    async def __aenter__(self) -> _Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)
        for task in self._handlers:
            task.cancel()
        await self._server.wait_closed()


async def _serve(handler: Handler) -> tuple[_Server, str]:
    handlers: set[asyncio.Task[None]] = set()

    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return _Server(server, handlers), f"http://127.0.0.1:{port}"


def _token_url(emu: WeChatEmulator) -> str:
    return f"/cgi-bin/token?grant_type=client_credential&appid={emu.appid}&secret={emu.secret}"


def test_keep_alive_reuses_one_connection_and_serves_concurrency() -> None:
    with WeChatEmulator(latency=0.02) as emu:

        async def main() -> None:
            transport = H11Transport()
            async with httpx.AsyncClient(transport=transport, base_url=emu.base_url) as client:
                for _ in range(5):
                    assert (await client.get(_token_url(emu))).status_code == 200
                assert [len(v) for v in transport._idle.values()] == [1]
                answers = await asyncio.gather(*(client.get(_token_url(emu)) for _ in range(50)))
                assert all(r.json()["access_token"] for r in answers)
                assert sum(len(v) for v in transport._idle.values()) == 50

        asyncio.run(main())


def test_idle_connection_closed_by_server_is_not_used() -> None:
    accepted = 0

    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()  # keep-alive promised (HTTP/1.1), yet closed: a server's right

    async def main() -> None:
        server, base = await _serve(one_answer_then_close)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            assert (await client.get("/a")).text == "ok"
            await asyncio.sleep(0.1)  # the EOF reaches the idle connection
            assert (await client.get("/b")).text == "ok"  # a fresh connection, no error
        assert accepted == 2

    asyncio.run(main())


def test_a_request_is_never_resent_after_the_connection_drops() -> None:
    seen = 0

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        await reader.readuntil(b"\r\n\r\n")
        seen += 1
        writer.close()

    async def main() -> None:
        server, base = await _serve(drop)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            with pytest.raises(httpx.TransportError):
                await client.post("/cv/ocr/idcard", content=b"x")
        assert seen == 1  # a billed call must not be repeated behind the caller's back

    asyncio.run(main())


def test_timeouts_and_refused_connections_are_httpx_errors() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up

    async def main() -> None:
        server, base = await _serve(hang)
        transport = H11Transport()
        async with server, httpx.AsyncClient(transport=transport, base_url=base) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/", timeout=0.2)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # bound, not listening: connection refused
            async with httpx.AsyncClient(transport=H11Transport()) as client:
                with pytest.raises(httpx.ConnectError):
                    await client.get(f"http://127.0.0.1:{port}/")

    asyncio.run(main())


def test_body_left_unread_closes_the_connection() -> None:
    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000)
            await writer.drain()

    async def main() -> None:
        server, base = await _serve(big)
        transport = H11Transport()
        async with server, httpx.AsyncClient(transport=transport, base_url=base) as client:
            async with client.stream("GET", "/") as response:
                async for _ in response.aiter_raw():
                    break  # stop reading (like a response-size cap)
            assert sum(len(v) for v in transport._idle.values()) == 0

    asyncio.run(main())


def _answer(path: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path)


class _Echo:
    """A handler that answers each request with its path, after ``before`` (1xx heads, say),
    and counts the connections it served."""

    def __init__(self, before: bytes = b"") -> None:
        self.before = before
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(self.before)
            writer.write(_answer(head.split(b" ", 2)[1]))
            await writer.drain()


STRAY = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"


@pytest.mark.parametrize("when", ["with_the_answer", "after_the_answer"])
def test_a_stray_response_never_shifts_the_answers(when: str) -> None:
    """A server (or middlebox) sends one response too many on a keep-alive connection, e.g.
    a late answer to a retry.  Each later request must still get its own answer: the
    connection holding the extra bytes is not reused (issue 12, defect 1)."""
    connections = 0
    answered, stray_sent = asyncio.Event(), asyncio.Event()

    async def echo_path(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if first and when == "with_the_answer":
                writer.write(_answer(path) + STRAY)  # in one segment: the client's h11 has it
            else:
                writer.write(_answer(path))
            await writer.drain()
            if first and when == "after_the_answer":
                await answered.wait()
                writer.write(STRAY)  # in the client's socket, not yet read by its loop
                await writer.drain()
                stray_sent.set()
            first = False

    async def main() -> None:
        server, base = await _serve(echo_path)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            bodies = []
            for i in range(6):
                bodies.append((await client.get(f"/{i}")).text)
                if i == 0 and when == "after_the_answer":
                    answered.set()
                    await stray_sent.wait()
        assert bodies == [f"/{i}" for i in range(6)]
        assert connections == 2

    asyncio.run(main())


def test_a_byte_on_an_idle_connection_closes_it_at_once() -> None:
    """Bytes that arrive while no request is outstanding are a protocol error: that
    connection is closed when they arrive, not kept (and not read as the next answer)."""
    answered, closed = asyncio.Event(), asyncio.Event()

    async def stray_then_watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(_answer(head.split(b" ", 2)[1]))
        await writer.drain()
        await answered.wait()
        writer.write(STRAY)
        await writer.drain()
        if await reader.read() == b"":  # the client hung up
            closed.set()

    async def main() -> None:
        server, base = await _serve(stray_then_watch)
        transport = H11Transport()
        async with server, httpx.AsyncClient(transport=transport, base_url=base) as client:
            assert (await client.get("/a")).text == "/a"
            answered.set()
            await asyncio.wait_for(closed.wait(), 5)
            assert (await client.get("/b")).text == "/b"

    asyncio.run(main())


@pytest.mark.parametrize("status", [100, 102, 103])
def test_informational_responses_are_skipped(status: int) -> None:
    """1xx answers before the final one (103 Early Hints, 100 Continue) are skipped, as
    httpcore does; the connection stays usable."""
    hints = _Echo(b"HTTP/1.1 %d Info\r\nLink: </a.css>; rel=preload\r\n\r\n" % status)

    async def main() -> None:
        server, base = await _serve(hints)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            for path in ("/a", "/b"):
                response = await client.post(path, content=b"x")
                assert (response.status_code, response.text) == (200, path)
        assert hints.connections == 1

    asyncio.run(main())


def test_an_expired_idle_connection_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like httpx, a connection idle for longer than the keep-alive expiry is closed rather
    than raced against the server's own keep-alive timeout."""
    echo_path = _Echo()

    async def main() -> None:
        server, base = await _serve(echo_path)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            assert (await client.get("/a")).text == "/a"
            assert (await client.get("/b")).text == "/b"
            assert echo_path.connections == 1
            monkeypatch.setattr(h11transport, "KEEPALIVE_EXPIRY", 0.0)
            assert (await client.get("/c")).text == "/c"
        assert echo_path.connections == 2

    asyncio.run(main())


@pytest.mark.parametrize("where", ["head", "body"])
def test_a_cancel_that_meets_the_answer_is_not_lost(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel delivered in the loop turn in which a read completes must still cancel the
    caller.  ``asyncio.wait_for`` before 3.12 returns the read's result and drops the cancel
    (CPython gh-86296): the cancelled worker went on making (billed) calls."""
    head_seen = asyncio.Event()
    feeds = 0
    target: list[asyncio.Task[int]] = []
    cancel_on = 1 if where == "head" else 2  # the nth piece of the answer the client gets

    async def answer_in_two_pieces(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(1)  # the body, b"x"
            body = head.split(b" ", 2)[1]
            head_seen.clear()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            await writer.drain()
            await head_seen.wait()  # the client read the head: the body comes apart
            writer.write(body)
            await writer.drain()

    original = h11transport._Reader.feed_data

    def feed_data(self: h11transport._Reader, data: Iterable[SupportsIndex]) -> None:
        nonlocal feeds
        original(self, data)
        feeds += 1
        head_seen.set()
        if feeds == cancel_on and target:  # cancel in this very loop turn
            asyncio.get_running_loop().call_soon(target.pop().cancel)

    monkeypatch.setattr(h11transport._Reader, "feed_data", feed_data)

    async def main() -> None:
        server, base = await _serve(answer_in_two_pieces)
        transport = H11Transport()
        async with server, httpx.AsyncClient(transport=transport, base_url=base) as client:

            async def worker() -> int:
                calls = 0
                for i in range(5):
                    assert (await client.post(f"/{i}", content=b"x")).text == f"/{i}"
                    calls += 1
                return calls

            task = asyncio.create_task(worker())
            target.append(task)
            with pytest.raises(asyncio.CancelledError):
                await task  # (the old transport: 5, the calls made after the cancel)
            assert task.cancelled()
            assert not any(transport._idle.values())  # the interrupted exchange is closed
            assert (await client.post("/after", content=b"x")).text == "/after"

    asyncio.run(main())


class _BurstServer:
    """Echoes the path; the first ``burst`` requests are answered only once all of them
    arrived, so the client opens ``burst`` connections.  Counts the clients' hang-ups."""

    def __init__(self, burst: int) -> None:
        self.burst, self.arrived, self.hung_up = burst, 0, 0
        self.all_arrived = asyncio.Event()
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.last = -1  # the connection that answered last
        self._hang_ups: dict[int, asyncio.Event] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cid = len(self.writers)
        self.writers[cid] = writer
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(1)  # the body, b"x"
                if self.arrived < self.burst:
                    self.arrived += 1
                    if self.arrived == self.burst:
                        self.all_arrived.set()
                    await self.all_arrived.wait()
                writer.write(_answer(head.split(b" ", 2)[1]))
                await writer.drain()
                self.last = cid
        except asyncio.IncompleteReadError:
            self.hung_up += 1
            event = self._hang_ups.get(self.hung_up)
            if event is not None:
                event.set()

    async def hang_ups(self, n: int) -> None:
        """Until ``n`` client connections were closed by the client."""
        if self.hung_up < n:
            event = self._hang_ups.setdefault(n, asyncio.Event())
            await asyncio.wait_for(event.wait(), 5)
        assert self.hung_up == n


def _client_sockets(port: int) -> int:
    """How many sockets this process holds connected to 127.0.0.1:``port`` (the client
    ends: their remote port is ``port``), in any TCP state - CLOSE_WAIT included."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2].endswith(f":{port:04X}"):
            inodes.add(f"socket:[{fields[9]}]")
    held = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # (closed meanwhile)
            held += os.readlink(fd) in inodes
    return held


async def _burst(client: httpx.AsyncClient, n: int) -> None:
    answers = await asyncio.gather(*(client.post(f"/{i}", content=b"x") for i in range(n)))
    assert [r.text for r in answers] == [f"/{i}" for i in range(n)]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts sockets in /proc")
def test_idle_connections_the_server_closed_do_not_linger() -> None:
    """After a burst, a server closes the connections left idle; later calls use only one.
    The closed ones must not stay open on our side (CLOSE_WAIT) for as long as the run."""
    server = _BurstServer(burst=12)

    async def main() -> None:
        listener, base = await _serve(server.handle)
        port = int(base.rsplit(":", 1)[1])
        transport = H11Transport()
        async with listener, httpx.AsyncClient(transport=transport, base_url=base) as client:
            await _burst(client, 12)
            assert (await client.post("/a", content=b"x")).text == "/a"
            for cid, writer in server.writers.items():  # the server's idle timeout
                if cid != server.last:
                    writer.close()
                    await writer.wait_closed()
            for path in ("/b", "/c", "/d"):
                assert (await client.post(path, content=b"x")).text == path
            assert _client_sockets(port) == 1  # (the old transport: 12, 11 in CLOSE_WAIT)
            assert sum(len(v) for v in transport._idle.values()) == 1
            assert len(server.writers) == 12  # no new connection was needed

    asyncio.run(main())


def test_expired_idle_connections_are_closed_not_only_when_on_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A steady trickle reuses the freshest idle connection; the others of an earlier
    burst expire and are closed (by the next call), not kept open until the client closes."""
    now = [1000.0]
    monkeypatch.setattr(h11transport, "_clock", lambda: now[0], raising=False)
    server = _BurstServer(burst=8)

    async def main() -> None:
        listener, base = await _serve(server.handle)
        transport = H11Transport()
        async with listener, httpx.AsyncClient(transport=transport, base_url=base) as client:
            await _burst(client, 8)
            now[0] += 0.6 * h11transport.KEEPALIVE_EXPIRY
            assert (await client.post("/a", content=b"x")).text == "/a"
            now[0] += 0.6 * h11transport.KEEPALIVE_EXPIRY  # the other 7 are now expired
            assert (await client.post("/b", content=b"x")).text == "/b"
            await server.hang_ups(7)
            assert sum(len(v) for v in transport._idle.values()) == 1

    asyncio.run(main())


def test_the_idle_pool_is_capped() -> None:
    """At most ``max_keepalive`` idle connections are kept; the oldest go first."""
    server = _BurstServer(burst=8)

    async def main() -> None:
        listener, base = await _serve(server.handle)
        transport = H11Transport(max_keepalive=3)
        async with listener, httpx.AsyncClient(transport=transport, base_url=base) as client:
            await _burst(client, 8)
            await server.hang_ups(5)
            assert sum(len(v) for v in transport._idle.values()) == 3
            assert (await client.post("/a", content=b"x")).text == "/a"
            assert len(server.writers) == 8  # a kept one served it

    asyncio.run(main())


def test_aclose_closes_the_connections_in_use() -> None:
    """Closing the transport closes the connections of responses still open, too."""
    server = _BurstServer(burst=2)

    async def main() -> None:
        listener, base = await _serve(server.handle)
        transport = H11Transport()
        async with listener, httpx.AsyncClient(transport=transport, base_url=base) as client:
            await _burst(client, 2)  # two idle connections
            async with client.stream("POST", "/b", content=b"x") as response:
                assert response.status_code == 200  # its body unread: one in use
                await transport.aclose()
                await server.hang_ups(2)
            assert not any(transport._idle.values())  # not parked after the close

    asyncio.run(main())
