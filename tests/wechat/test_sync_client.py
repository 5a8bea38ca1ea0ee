"""What is particular to the blocking client, which runs the async one on a loop that its
callers drive: many callers, fork, a user's ``httpx.Client``, the default transport,
``close``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ocr_frames as of
from ocr_frames._http.h11 import H11Transport
from ocr_frames.testing import WeChatEmulator
from ocr_frames.wechat import AsyncWeChatClient, WeChatClient
from tests.helpers import QuietHandler, serving
from tests.wechat.test_client import client_for, image

COMM_ANSWER = {"errcode": 0, "errmsg": "ok", "items": [], "img_size": {"w": 1, "h": 1}}


class Recorder(http.server.ThreadingHTTPServer):
    """Answers every POST with a comm answer and keeps what each request carried."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recording)
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Recording(QuietHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append({"target": self.path, "headers": self.headers, "body": body})
        self.send_body(json.dumps(COMM_ANSWER).encode(), content_type="application/json")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with serving(Recorder()) as server:
        yield server


# --- many callers, one loop -------------------------------------------------------------


def test_threads_and_callers_inside_event_loops_share_the_client(
    emulator: WeChatEmulator,
) -> None:
    """16 threads and 2 threads that run event loops of their own (which cannot drive
    the client's loop: a helper does) call at once; every caller gets its own answers."""
    for n in range(18 * 10):
        emulator.register(image(n), "platenum", {"number": f"N{n}"})
    got: dict[int, str] = {}
    errors: list[BaseException] = []

    def calls(first: int) -> None:
        try:
            for n in range(first, first + 10):
                got[n] = client.request("platenum", image(n))["number"]
        except BaseException as exc:
            errors.append(exc)

    async def inside_a_loop(first: int) -> None:
        calls(first)  # blocking, inside a coroutine: allowed, if frowned upon

    with client_for(emulator) as client:
        threads = [threading.Thread(target=calls, args=(10 * t,)) for t in range(16)]
        threads += [
            threading.Thread(target=asyncio.run, args=(inside_a_loop(10 * t),)) for t in (16, 17)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads), "a caller hangs"
    assert errors == []
    assert got == {n: f"N{n}" for n in range(180)}


def test_close_while_other_threads_wait_ends_their_calls() -> None:
    with WeChatEmulator(latency=2.0) as slow:
        client = client_for(slow)
        client.get_token()
        outcomes: list[BaseException | None] = []

        def call() -> None:
            try:
                client.request("comm", image(1))
                outcomes.append(None)
            except BaseException as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        while slow.requests < 5:  # the token call and the four calls
            time.sleep(0.01)
        start = time.monotonic()
        client.close()
        for thread in threads:
            thread.join(5)
        assert time.monotonic() - start < 1.5  # not after the 2 s answers
    assert len(outcomes) == 4
    assert all(isinstance(each, concurrent.futures.CancelledError) for each in outcomes)
    with pytest.raises(RuntimeError):
        client.request("comm", image(2))


# --- fork -----------------------------------------------------------------------------------


def _wait(pid: int, seconds: float) -> int:
    """The exit code of child ``pid``; killed (and a failure) if it takes over ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the forked child did not finish within {seconds} s (hung)")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_uses_the_client_on_its_own_loop(emulator: WeChatEmulator) -> None:
    with client_for(emulator) as client:
        assert client.request("comm", image(1))["errcode"] == 0  # loop and connection exist
        token_calls = sum(emulator.token_calls.values())
        pid = os.fork()
        if pid == 0:  # the child: leaves through os._exit, never back into pytest
            code = 3
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)  # not pytest-timeout's handler
                signal.alarm(20)
                answers = [client.request("comm", image(n))["errcode"] for n in (2, 3)]
                client.close()
                client.close()
                code = 0 if answers == [0, 0] else 4
            finally:
                os._exit(code)
        assert _wait(pid, 30) == 0
        # the parent's loop and kept-alive connection were left alone by the child
        assert client.request("comm", image(4))["errcode"] == 0
    assert emulator.billed.total() == 4
    assert sum(emulator.token_calls.values()) == token_calls  # the child took the token over


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_refuses_a_client_built_on_the_users_transport(
    emulator: WeChatEmulator,
) -> None:
    """The user's transport keeps its connections in the parent's memory: a child using it
    would read answers meant for the parent (seen: 1 in 4 answers crossed)."""
    with WeChatClient(
        appid=emulator.appid,
        secret=emulator.secret,
        base_url=emulator.base_url,
        transport=httpx.HTTPTransport(),
    ) as client:
        assert client.request("comm", image(1))["errcode"] == 0
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.alarm(20)
                try:
                    client.request("comm", image(2))
                    code = 4  # used the parent's connections
                except of.ConfigurationError as exc:
                    code = 0 if "forked child" in str(exc) else 5
            finally:
                os._exit(code)
        assert _wait(pid, 30) == 0
        assert client.request("comm", image(3))["errcode"] == 0  # the parent is unaffected
    assert emulator.billed.total() == 2


# --- a user's httpx.Client --------------------------------------------------------------------


def test_the_users_http_client_sends_its_headers_cookies_params_and_auth(
    recorder: Recorder,
) -> None:
    http = httpx.Client(
        headers={"X-Gateway-Key": "k123", "User-Agent": "mine/1"},
        cookies={"session": "s1"},
        params={"gw": "1"},
        auth=("user", "pass"),
    )
    with http, WeChatClient(access_token="tok-123", base_url=recorder.url, http_client=http) as c:
        assert c.request("comm", image(1)) == {**COMM_ANSWER, "rid": None}
    (seen,) = recorder.seen
    headers = seen["headers"]
    assert headers["X-Gateway-Key"] == "k123"
    assert headers.get_all("User-Agent") == ["mine/1"]
    assert headers["Cookie"] == "session=s1"
    assert headers["Authorization"] == httpx.BasicAuth("user", "pass")._auth_header
    assert httpx.URL(seen["target"]).params == httpx.QueryParams(gw="1", access_token="tok-123")
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(headers["Content-Length"]) == len(seen["body"]) and image(1) in seen["body"]


def test_a_users_async_client_keeps_the_token_next_to_its_params(recorder: Recorder) -> None:
    """httpx replaces a URL's query with the client's ``params``: the token must stay."""

    async def main() -> None:
        async with httpx.AsyncClient(params={"gw": "1"}) as http:
            client = AsyncWeChatClient(
                access_token="tok-123", base_url=recorder.url, http_client=http
            )
            assert (await client.request("comm", image(1)))["errcode"] == 0

    asyncio.run(main())
    target = httpx.URL(recorder.seen[0]["target"])
    assert target.params == httpx.QueryParams(gw="1", access_token="tok-123")


def test_own_client_sends_its_user_agent(recorder: Recorder) -> None:
    with WeChatClient(access_token="tok-123", base_url=recorder.url) as client:
        client.request("comm", image(1))
    assert recorder.seen[0]["headers"]["User-Agent"].startswith("ocr-frames/")


# --- default transport ----------------------------------------------------------------------


def test_own_client_uses_the_engines_lean_transport(emulator: WeChatEmulator) -> None:
    with client_for(emulator) as client:
        assert client.request("comm", image(1))["errcode"] == 0
        assert isinstance(client._client._http._transport, H11Transport)


def test_own_client_honours_the_environments_proxy(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", recorder.url)
    monkeypatch.setenv("http_proxy", recorder.url)
    # nothing listens at the base URL: only the proxy can answer
    with WeChatClient(access_token="tok-123", base_url="http://192.0.2.1:9") as client:
        assert client.request("comm", image(1))["errcode"] == 0
    assert recorder.seen[0]["target"].startswith("http://192.0.2.1:9/cv/ocr/comm?")


# --- close ----------------------------------------------------------------------------------


def test_close_is_idempotent(emulator: WeChatEmulator) -> None:
    client = client_for(emulator)
    client.request("comm", image(1))
    client.close()
    client.close()
    with client_for(emulator) as other:
        other.request("comm", image(2))
    other.close()
    never_used = client_for(emulator)
    never_used.close()
    never_used.close()
    with pytest.raises(RuntimeError):
        client.request("comm", image(3))
