"""The lean h11 transport over real sockets: keep-alive, stale connections, timeouts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest

from ocr_frames import _h11transport as h11transport
from ocr_frames._h11transport import H11Transport
from ocr_frames.testing import WeChatEmulator

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


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
    connections = 0

    async def hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 %d Info\r\nLink: </a.css>; rel=preload\r\n\r\n" % status)
            writer.write(_answer(head.split(b" ", 2)[1]))
            await writer.drain()

    async def main() -> None:
        server, base = await _serve(hints)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            for path in ("/a", "/b"):
                response = await client.post(path, content=b"x")
                assert (response.status_code, response.text) == (200, path)
        assert connections == 1

    asyncio.run(main())


def test_an_expired_idle_connection_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like httpx, a connection idle for longer than the keep-alive expiry is closed rather
    than raced against the server's own keep-alive timeout."""
    connections = 0

    async def echo_path(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(_answer(head.split(b" ", 2)[1]))
            await writer.drain()

    async def main() -> None:
        server, base = await _serve(echo_path)
        async with server, httpx.AsyncClient(transport=H11Transport(), base_url=base) as client:
            assert (await client.get("/a")).text == "/a"
            assert (await client.get("/b")).text == "/b"
            assert connections == 1
            monkeypatch.setattr(h11transport, "KEEPALIVE_EXPIRY", 0.0)
            assert (await client.get("/c")).text == "/c"
        assert connections == 2

    asyncio.run(main())
