"""One deadline for both clients: ``deadline`` seconds for the whole call, against a real
loopback server that stalls (says nothing) or trickles (one byte every 50 ms, so no read
timeout ever fires).  The sync client is a wrapper around the async one, so they share the
``asyncio.timeout``; the blocking-transport case checks that a worker thread stuck in a
blocking read does not hold the caller either."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ocr_frames._errors import E_TRANSPORT, TransportError
from ocr_frames.wechat import AsyncWeChatClient, WeChatClient

DEADLINE = 0.6
#: generous: the call must end at the deadline, not at httpx's 10 s read timeout
SLACK = 2.0
TOKEN = "FIXEDTOKEN-deadline"
IMG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class StallingServer:
    """127.0.0.1: reads one request per connection, then stalls or trickles until stopped."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.hangups = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> StallingServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._sock.close()

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            if self.mode == "trickle":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
            conn.settimeout(0.05)
            while not self._stop.is_set():
                try:
                    if self.mode == "trickle":
                        conn.sendall(b" ")
                    if conn.recv(1) == b"":
                        self.hangups += 1  # the client closed the connection
                        return
                except TimeoutError:
                    continue
                except OSError:
                    self.hangups += 1
                    return


@pytest.fixture(params=["silent", "trickle"])
def stalling(request: pytest.FixtureRequest) -> Iterator[StallingServer]:
    with StallingServer(request.param) as server:
        yield server


def options(server: StallingServer) -> dict[str, Any]:
    timeout = httpx.Timeout(10.0)
    return {"access_token": TOKEN, "base_url": server.url, "timeout": timeout, "deadline": DEADLINE}


def assert_deadline_error(error: TransportError, elapsed: float) -> None:
    assert error.errcode == E_TRANSPORT
    assert f"no complete response within {DEADLINE:g} s" in str(error)
    assert TOKEN not in str(error)
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + SLACK


def test_async_client_gives_up_at_the_deadline(stalling: StallingServer) -> None:
    async def main() -> float:
        async with AsyncWeChatClient(**options(stalling)) as client:
            start = time.monotonic()
            with pytest.raises(TransportError) as info:
                await client.request("comm", IMG)
            assert_deadline_error(info.value, time.monotonic() - start)
            return time.monotonic() - start

    asyncio.run(main())
    assert stalling.requests == 1


@pytest.mark.parametrize("transport", ["default", "blocking"])
def test_sync_client_gives_up_at_the_same_deadline(
    stalling: StallingServer, transport: str
) -> None:
    extra: dict[str, Any] = {}
    if transport == "blocking":  # a blocking httpx transport, driven from worker threads
        extra["transport"] = httpx.HTTPTransport()
    with WeChatClient(**options(stalling), **extra) as client:
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            client.request("comm", IMG)
        assert_deadline_error(info.value, time.monotonic() - start)
    assert stalling.requests == 1


def test_a_cancel_wins_over_the_deadline(stalling: StallingServer) -> None:
    """A cancelled call raises CancelledError at once: never a TransportError, never lost."""

    async def main() -> None:
        async with AsyncWeChatClient(**options(stalling)) as client:
            task = asyncio.create_task(client.request("comm", IMG))
            await asyncio.sleep(DEADLINE / 3)
            start = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - start < DEADLINE / 2

    asyncio.run(main())


def test_an_answer_in_time_is_not_cut(stalling: StallingServer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(DEADLINE / 3)  # a blocking handler: runs in a worker thread
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "items": []})

    transport = httpx.MockTransport(handler)
    with WeChatClient(access_token=TOKEN, transport=transport, deadline=DEADLINE) as client:
        assert client.request("comm", IMG)["errcode"] == 0


def test_sync_client_loop_runs_in_its_callers_and_ends_with_close() -> None:
    before = threading.active_count()
    client = WeChatClient(access_token=TOKEN, base_url="http://127.0.0.1:9", deadline=DEADLINE)
    with pytest.raises(TransportError):  # nothing listens there: connection refused
        client.request("comm", IMG)
    assert threading.active_count() == before  # no thread of its own
    loop = client._loop._loop
    assert loop is not None and not loop.is_running() and not loop.is_closed()
    client.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError):
        client.request("comm", IMG)


def test_ctrl_c_in_a_sync_call_cancels_it() -> None:
    """KeyboardInterrupt while the caller waits: the call is cancelled on the client's loop
    (its connection closed, nothing left running), then the interrupt propagates."""
    with (
        StallingServer("silent") as server,
        WeChatClient(**{**options(server), "deadline": 30.0}) as client,
    ):
        ctrl_c = lambda: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
        timer = threading.Timer(DEADLINE / 2, ctrl_c)
        timer.start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.request("comm", IMG)
        assert time.monotonic() - start < SLACK
        stop_by = time.monotonic() + 5  # the client is still open: only the cancel hangs up
        while server.hangups == 0 and time.monotonic() < stop_by:
            time.sleep(0.02)
        assert (server.requests, server.hangups) == (1, 1)


def test_ctrl_c_while_another_thread_drives_cancels_only_the_interrupted_call() -> None:
    """The main thread waits while a worker thread drives the shared loop: Ctrl-C cancels
    the main thread's call (its connection closed), the worker's goes on to its deadline."""
    with (
        StallingServer("silent") as server,
        WeChatClient(**{**options(server), "deadline": 3.0}) as client,
    ):
        outcome: list[BaseException] = []

        def worker() -> None:
            try:
                client.request("comm", IMG)
            except BaseException as exc:
                outcome.append(exc)

        driver = threading.Thread(target=worker)
        driver.start()
        while server.requests == 0:  # the worker's call is on the loop, driven by it
            time.sleep(0.01)
        threading.Timer(DEADLINE / 2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.request("comm", IMG)
        assert time.monotonic() - start < SLACK
        stop_by = time.monotonic() + 1
        while server.hangups == 0 and time.monotonic() < stop_by:
            time.sleep(0.02)
        assert (server.requests, server.hangups) == (2, 1)  # only the main thread's call
        driver.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], TransportError)
        assert "no complete response within 3 s" in str(outcome[0])
