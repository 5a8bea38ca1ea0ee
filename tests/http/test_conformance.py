"""Differential conformance: the lean h11 transport against httpx's own, on bad servers.

Each scenario is a misbehaving HTTP server on 127.0.0.1 (a stray response, 1xx before the
answer, a body shorter or longer than its Content-Length, a close mid-body, ...).  The
same client script runs through ``httpx.AsyncClient`` once with :class:`H11Transport` and
once with ``httpx.AsyncHTTPTransport``; what each request got (status, HTTP version and
body, or the httpx exception class), how many connections the server accepted and how many
requests it read must be the same - and equal to the outcome the scenario pins.

Where httpx itself gets it wrong for us, the scenario says so (``httpx_differs``) and only
our outcome, the safe one, is asserted.

The server runs its own event loop in a thread: a scenario can then block the client's
loop while the server acts, so that the server's bytes (or its FIN) wait in the client's
kernel socket, unread - the moment at which a transport decides whether to reuse a
kept-alive connection.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import pytest

from ocr_frames._http.h11 import H11Transport

#: What one request got: ("ok", status, http_version, body) or ("error", exception class).
Outcome = tuple[str, ...]
STRAY = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"


def ok(path: str, version: str = "HTTP/1.1", status: int = 200) -> Outcome:
    return ("ok", str(status), version, path)


def error(cls: type[httpx.HTTPError]) -> Outcome:
    return ("error", cls.__name__)


def answer(path: bytes, extra_headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(path), extra_headers, path)


# --- the server --------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request as the server read it: ``n`` counts requests over all connections."""

    n: int
    path: bytes
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    server: LoopbackServer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), not a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def until_client_hangs_up(self) -> None:
        while await self.reader.read(65536):
            pass


#: A scenario's server side: answers one request; returns False to close the connection.
Reply = Callable[[Exchange], Awaitable[bool]]


class LoopbackServer:
    """An asyncio HTTP/1.1 server on 127.0.0.1 with its own loop in a thread of its own."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply
        self.connections = 0
        self.requests = 0
        self._ready = threading.Event()
        self.acted = threading.Event()  # set by the server, waited for by the client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._go: asyncio.Event | None = None  # set by the client, waited for by the server
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.base_url = ""

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        assert self._ready.wait(5), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        assert not self._thread.is_alive()

    def go(self) -> None:
        """Client side: let the server take its next step (see :meth:`wait_go`)."""
        assert self._loop is not None and self._go is not None
        self._loop.call_soon_threadsafe(self._go.set)

    async def wait_go(self) -> None:
        assert self._go is not None
        await asyncio.wait_for(self._go.wait(), 5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._go, self._stop = asyncio.Event(), asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                n, self.requests = self.requests, self.requests + 1
                exchange = Exchange(n, head.split(b" ", 2)[1], reader, writer, self)
                if not await self._reply(exchange):
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


# --- the scenarios -----------------------------------------------------------------------


async def normal(ex: Exchange) -> bool:
    await ex.send(answer(ex.path))
    return True


def first_then_normal(first: Reply) -> Reply:
    """``first`` answers the first request of the run; every later one is answered well."""

    async def reply(ex: Exchange) -> bool:
        return await (first if ex.n == 0 else normal)(ex)

    return reply


async def stray_after_the_answer(ex: Exchange) -> bool:
    await ex.send(answer(ex.path))
    await ex.server.wait_go()  # the client read the answer: the connection is idle
    await ex.send(STRAY)
    ex.server.acted.set()
    return True


async def stray_in_the_answers_segment(ex: Exchange) -> bool:
    await ex.send(answer(ex.path) + STRAY)
    return True


async def early_hints(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
    await ex.send(answer(ex.path))
    return True


async def continue_twice(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
    await ex.send(answer(ex.path))
    return True


async def connection_close(ex: Exchange) -> bool:
    await ex.send(answer(ex.path, b"Connection: close\r\n"))
    return False


async def chunked(ex: Exchange) -> bool:
    half = len(ex.path) // 2
    await ex.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for part in (ex.path[:half], ex.path[half:]):
        await ex.send(b"%x\r\n%s\r\n" % (len(part), part))
    await ex.send(b"0\r\n\r\n")
    return True


async def shorter_than_content_length(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
    return False  # and close


async def longer_than_content_length(ex: Exchange) -> bool:
    await ex.send(answer(ex.path) + b"EXTRA")
    return True


async def close_mid_chunk(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    return False


async def reset_mid_body(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
    await ex.reset()
    return False


async def slow_headers(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.1 200 OK\r\n")  # ... and the rest never comes
    await ex.until_client_hangs_up()
    return False


async def http10_until_close(ex: Exchange) -> bool:
    await ex.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + ex.path)
    return False


async def close_when_idle(ex: Exchange) -> bool:
    await ex.send(answer(ex.path))
    await ex.server.wait_go()  # the client read the answer: the connection is idle
    ex.writer.close()
    await ex.writer.wait_closed()  # our FIN is in the client's kernel
    ex.server.acted.set()
    return False


async def close_without_answer(ex: Exchange) -> bool:
    return False


async def reset_without_answer(ex: Exchange) -> bool:
    await ex.reset()
    return False


@dataclass(frozen=True)
class Scenario:
    name: str
    reply: Reply
    expected: list[Outcome]  # one per request, in order
    connections: int
    #: after the first answer: "blocked" = the client signals the server, then waits for
    #: it with its event loop blocked (the server's bytes stay unread in the kernel);
    #: "running" = the same with the loop running (they reach the transport's buffers).
    pause: Literal["", "blocked", "running"] = ""
    read_timeout: float = 5.0  # for the first request
    #: why httpx's own transport gets it wrong for us (only our outcome is asserted then)
    httpx_differs: str = ""
    requests: int = field(default=-1)  # server-side count; -1 = one per expected outcome

    @property
    def requests_seen(self) -> int:
        return len(self.expected) if self.requests < 0 else self.requests


RPE = httpx.RemoteProtocolError


def fails_then_recovers(
    name: str, first: Reply, exc: type[httpx.HTTPError], *, read_timeout: float = 5.0
) -> Scenario:
    """The first request fails with ``exc``; the second gets a new connection and its answer."""
    return Scenario(
        name,
        first_then_normal(first),
        [error(exc), ok("/1")],
        connections=2,
        read_timeout=read_timeout,
    )


def reconnects(
    name: str,
    first: Reply,
    *,
    pause: Literal["", "blocked", "running"] = "",
    httpx_differs: str = "",
) -> Scenario:
    """All three requests get their answer; the connection ``first`` spoils is replaced once."""
    return Scenario(
        name,
        first_then_normal(first),
        [ok("/0"), ok("/1"), ok("/2")],
        connections=2,
        pause=pause,
        httpx_differs=httpx_differs,
    )


SCENARIOS = [
    Scenario("keep_alive", normal, [ok("/0"), ok("/1"), ok("/2")], connections=1),
    reconnects("stray_response_unread", stray_after_the_answer, pause="blocked"),
    reconnects("stray_response_read_by_the_loop", stray_after_the_answer, pause="running"),
    reconnects(
        "stray_response_in_the_answers_segment",
        stray_in_the_answers_segment,
        httpx_differs=(
            "httpcore reads the stray response together with the answer; h11 keeps it as "
            "trailing data and the connection goes back to the pool, so the next request "
            "gets 'stray' and every later one the previous one's answer"
        ),
    ),
    Scenario("early_hints_103", early_hints, [ok("/0"), ok("/1")], connections=1),
    Scenario("continue_100_and_102", continue_twice, [ok("/0"), ok("/1")], connections=1),
    Scenario("connection_close", connection_close, [ok("/0"), ok("/1")], connections=2),
    Scenario("chunked", chunked, [ok("/0"), ok("/1")], connections=1),
    fails_then_recovers("body_shorter_than_content_length", shorter_than_content_length, RPE),
    reconnects(
        "body_longer_than_content_length",
        longer_than_content_length,
        httpx_differs=(
            "httpcore keeps the surplus bytes as h11 trailing data and reuses the "
            "connection: the next request fails with RemoteProtocolError on 'EXTRA...'"
        ),
    ),
    fails_then_recovers("close_mid_body", close_mid_chunk, RPE),
    fails_then_recovers("reset_mid_body", reset_mid_body, httpx.ReadError),
    fails_then_recovers("slow_headers", slow_headers, httpx.ReadTimeout, read_timeout=0.3),
    Scenario(
        "http10_without_content_length",
        http10_until_close,
        [ok("/0", "HTTP/1.0"), ok("/1", "HTTP/1.0")],
        connections=2,
    ),
    reconnects("idle_connection_closed_at_reuse", close_when_idle, pause="blocked"),
    fails_then_recovers("closed_without_answer_is_not_resent", close_without_answer, RPE),
    fails_then_recovers(
        "reset_without_answer_is_not_resent", reset_without_answer, httpx.ReadError
    ),
]


# --- the client --------------------------------------------------------------------------


@dataclass
class Run:
    outcomes: list[Outcome]
    connections: int
    requests: int


async def _client(
    scenario: Scenario, server: LoopbackServer, transport: httpx.AsyncBaseTransport
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    async with httpx.AsyncClient(transport=transport, base_url=server.base_url) as client:
        for i in range(len(scenario.expected)):
            timeout = httpx.Timeout(5.0, read=scenario.read_timeout if i == 0 else 5.0)
            try:
                response = await client.post(f"/{i}", content=b"image %d" % i, timeout=timeout)
            except httpx.HTTPError as exc:
                outcomes.append(("error", type(exc).__name__))
            else:
                outcomes.append(
                    ("ok", str(response.status_code), response.http_version, response.text)
                )
            if i == 0 and scenario.pause:
                server.go()
                if scenario.pause == "blocked":
                    assert server.acted.wait(5)  # blocks this loop on purpose
                else:
                    assert await asyncio.to_thread(server.acted.wait, 5)
    return outcomes


def run(scenario: Scenario, transport: httpx.AsyncBaseTransport) -> Run:
    with LoopbackServer(scenario.reply) as server:
        outcomes = asyncio.run(_client(scenario, server, transport))
    return Run(outcomes, server.connections, server.requests)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_h11_transport_matches_httpx(scenario: Scenario) -> None:
    ours = run(scenario, H11Transport())
    theirs = run(scenario, httpx.AsyncHTTPTransport())
    expected = Run(scenario.expected, scenario.connections, scenario.requests_seen)
    assert ours == expected
    if not scenario.httpx_differs:  # else documented: ours, the safe outcome, is asserted
        assert theirs == ours
