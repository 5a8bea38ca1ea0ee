"""Pure client policy over httpx.MockTransport: tokens, CAS refresh, limits, redaction.

The protocol itself (real HTTP, every kind and code) is tested against the emulator in
``test_wechat_client.py``; here a tiny in-memory platform counts calls exactly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ocr_frames import _errors as E
from ocr_frames.wechat import MAX_IMAGE_BYTES, AsyncWeChatClient, WeChatClient
from ocr_frames.wechat._redact import RedactingFilter, Scrubber, redact
from ocr_frames.wechat._token import TokenCache, parse_token_response

APPID = "wx-test-appid"
SECRET = "s3cr3t-0123456789abcdef"
BASE = "http://platform.test"
IMG = b"\x89PNG\r\n\x1a\nfake image bytes"
OK = {"errcode": 0, "errmsg": "ok", "number": "粤A12345"}


class FakePlatform:
    """Just enough of the platform to count calls: tokens, validity, one OCR answer."""

    def __init__(self, *, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.ocr_requests: list[httpx.Request] = []
        self.current: str | None = None  # what stable_token hands out while valid
        self.valid: set[str] = set()
        self.issued: list[str] = []
        self.token_answer: dict[str, Any] | None = None  # forced token-call answer
        self.ocr_answer: dict[str, Any] | None = None  # forced OCR answer
        self.refusal = 40001  # answer to a token that is not valid
        self.lock = threading.Lock()

    def issue(self) -> str:
        token = f"TOKEN{len(self.issued):04d}" + "abcdefghij" * 8
        self.issued.append(token)
        self.current = token
        self.valid.add(token)
        return token

    def invalidate(self, *, stable_returns_it: bool = False) -> None:
        """All tokens stop working; stable_token may still hand out the dead one."""
        self.valid.clear()
        if not stable_returns_it:
            self.current = None

    @property
    def force_calls(self) -> int:
        return sum(json.loads(r.content).get("force_refresh") is True for r in self.stable_calls)

    @property
    def stable_calls(self) -> list[httpx.Request]:
        return [r for r in self.token_requests if r.url.path == "/cgi-bin/stable_token"]

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            if request.url.path.startswith("/cgi-bin/"):
                return self._token(request)
            self.ocr_requests.append(request)
            if self.ocr_answer is not None:
                return httpx.Response(200, json=self.ocr_answer)
            if request.url.params.get("access_token") in self.valid:
                return httpx.Response(200, json=OK)
            return httpx.Response(
                200, json={"errcode": 40001, "errmsg": "invalid credential rid: 6-x"}
            )

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # let the other requests interleave
        await request.aread()
        return self.handler(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_answer is not None:
            return httpx.Response(200, json=self.token_answer)
        force = request.url.path == "/cgi-bin/token" or json.loads(request.content)["force_refresh"]
        token = self.current if (self.current and not force) else self.issue()
        return httpx.Response(200, json={"access_token": token, "expires_in": self.expires_in})


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


def sync_client(platform: FakePlatform, **kwargs: Any) -> WeChatClient:
    kwargs.setdefault("appid", APPID)
    kwargs.setdefault("secret", SECRET)
    kwargs.setdefault("base_url", BASE)
    return WeChatClient(transport=httpx.MockTransport(platform.handler), **kwargs)


def async_client(platform: FakePlatform, **kwargs: Any) -> AsyncWeChatClient:
    kwargs.setdefault("appid", APPID)
    kwargs.setdefault("secret", SECRET)
    transport = httpx.MockTransport(platform.ahandler)
    return AsyncWeChatClient(base_url=BASE, transport=transport, **kwargs)


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"appid": APPID},
        {"secret": SECRET},
        {"appid": "", "secret": SECRET},
        {"access_token": ""},
        {"appid": APPID, "secret": SECRET, "token_endpoint": "oauth"},
        {"appid": APPID, "secret": SECRET, "base_url": "ftp://x"},
        {"appid": APPID, "secret": SECRET, "base_url": "not a url"},
        {"appid": APPID, "secret": SECRET, "max_response_bytes": 0},
        {"appid": APPID, "secret": SECRET, "refresh_margin": -1},
        {"appid": APPID, "secret": SECRET, "http_client": httpx.Client(), "limits": httpx.Limits()},
    ],
)
def test_bad_configuration(kwargs: dict[str, Any]) -> None:
    with pytest.raises(E.ConfigurationError) as info:
        WeChatClient(**kwargs)
    assert SECRET not in str(info.value)


def test_configuration_error_for_the_async_client_too() -> None:
    with pytest.raises(E.ConfigurationError):
        AsyncWeChatClient(appid=APPID)


def test_repr_shows_appid_and_base_url_only(platform: FakePlatform) -> None:
    client = sync_client(platform, base_url="http://user:pw@proxy.test:8080/")
    client.request("platenum", IMG)
    assert repr(client) == "WeChatClient(appid='wx-test-appid', base_url='http://proxy.test:8080')"
    fixed = AsyncWeChatClient(access_token="FIXEDTOKEN12345")
    assert repr(fixed) == "AsyncWeChatClient(appid=None, base_url='https://api.weixin.qq.com')"
    inner = client._client  # the async client the sync one wraps
    for text in (repr(client), repr(fixed), repr(inner._tokens), repr(inner._scrub)):
        assert SECRET not in text and platform.issued[0] not in text and "FIXEDTOKEN" not in text


# --- request shape --------------------------------------------------------------------------------


def test_stable_token_request_and_ocr_request_shape(platform: FakePlatform) -> None:
    with sync_client(platform) as client:
        assert client.request("idcard", IMG) == {"errcode": 0, "errmsg": "ok", "rid": None, **OK}
    (token_req,) = platform.token_requests
    assert (token_req.method, token_req.url.path) == ("POST", "/cgi-bin/stable_token")
    assert json.loads(token_req.content) == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }
    (ocr_req,) = platform.ocr_requests
    assert ocr_req.method == "POST" and ocr_req.url.path == "/cv/ocr/idcard"
    assert dict(ocr_req.url.params) == {"access_token": platform.issued[0]}
    assert ocr_req.headers["content-type"].startswith("multipart/form-data")
    body = ocr_req.content
    assert b'Content-Disposition: form-data; name="img"; filename="image"' in body
    assert b"Content-Type: application/octet-stream" in body and IMG in body


def test_token_endpoint_uses_get_with_query(platform: FakePlatform) -> None:
    with sync_client(platform, token_endpoint="token") as client:
        client.request("comm", IMG)
    (token_req,) = platform.token_requests
    assert (token_req.method, token_req.url.path) == ("GET", "/cgi-bin/token")
    assert dict(token_req.url.params) == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
    }


def test_img_url_goes_as_query_parameter(platform: FakePlatform) -> None:
    url = "http://images.test/a b.jpg?x=1&y=2"
    with sync_client(platform) as client:
        client.request("bankcard", img_url=url)
    (ocr_req,) = platform.ocr_requests
    assert ocr_req.method == "POST" and ocr_req.url.params["img_url"] == url
    assert b"img_url" in ocr_req.url.query and ocr_req.content == b""


# --- local checks: nothing is sent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("img", "img_url", "errcode"),
    [
        (b"x" * MAX_IMAGE_BYTES, None, E.E_TOO_LARGE),
        (b"x" * (MAX_IMAGE_BYTES + 1), None, E.E_TOO_LARGE),
        (b"", None, E.E_EMPTY),
        (None, None, E.E_NULL),
        (IMG, "http://x/y.jpg", E.E_BAD_INPUT),
        ("not bytes", None, E.E_BAD_INPUT),
        (None, "", E.E_BAD_INPUT),
    ],
)
def test_unusable_input_raises_before_any_call(
    platform: FakePlatform, img: Any, img_url: Any, errcode: int
) -> None:
    with sync_client(platform) as client, pytest.raises(E.ImageError) as info:
        client.request("idcard", img, img_url=img_url)
    assert info.value.errcode == errcode
    assert platform.token_requests == [] and platform.ocr_requests == []


def test_just_under_two_megabytes_is_sent(platform: FakePlatform) -> None:
    with sync_client(platform) as client:
        assert client.request("comm", b"x" * (MAX_IMAGE_BYTES - 1))["errcode"] == 0
    assert len(platform.ocr_requests) == 1


def test_two_megabytes_async_makes_no_request(platform: FakePlatform) -> None:
    async def main() -> None:
        async with async_client(platform) as client:
            with pytest.raises(E.ImageError) as info:
                await client.ocr("idcard", b"\0" * MAX_IMAGE_BYTES)
            assert info.value.errcode == E.E_TOO_LARGE

    asyncio.run(main())
    assert platform.token_requests == [] and platform.ocr_requests == []


def test_unknown_kind_makes_no_request(platform: FakePlatform) -> None:
    with sync_client(platform) as client, pytest.raises(E.ConfigurationError):
        client.request("passport", IMG)
    assert platform.token_requests == [] and platform.ocr_requests == []


def test_bytearray_and_memoryview_accepted(platform: FakePlatform) -> None:
    with sync_client(platform) as client:
        client.request("comm", bytearray(IMG))  # type: ignore[arg-type]
        client.request("comm", memoryview(IMG))  # type: ignore[arg-type]
    assert all(IMG in r.content for r in platform.ocr_requests)


# --- token caching and refresh --------------------------------------------------------------


def test_token_is_cached_across_requests(platform: FakePlatform) -> None:
    with sync_client(platform) as client:
        for _ in range(5):
            client.request("comm", IMG)
        assert client.get_token() == platform.issued[0]
    assert len(platform.token_requests) == 1 and len(platform.ocr_requests) == 5


def test_token_cache_refresh_margin() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    assert cache.fresh() is None
    cache.store("T", 7200)  # long-lived: refresh 300 s early
    now[0] += 6899
    assert cache.fresh() == "T"
    now[0] += 1
    assert cache.fresh() is None
    cache.store("U", 100)  # short-lived: refresh 10% early
    now[0] += 89.9
    assert cache.fresh() == "U"
    now[0] += 0.2
    assert cache.fresh() is None
    cache.store("V", 0)
    assert cache.fresh() is None
    assert "U" not in repr(cache) and "V" not in repr(cache)


def test_expired_token_is_fetched_again_before_use(platform: FakePlatform) -> None:
    platform.expires_in = 0  # the cache never considers it fresh
    with sync_client(platform) as client:
        client.request("comm", IMG)
        client.request("comm", IMG)
    assert len(platform.token_requests) == 2


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_refresh_once_and_retry_once(platform: FakePlatform, errcode: int) -> None:
    platform.refusal = errcode
    with sync_client(platform) as client:
        first = client.get_token()
        platform.invalidate()
        assert client.request("comm", IMG)["errcode"] == 0
    tokens = [r.url.params["access_token"] for r in platform.ocr_requests]
    assert tokens == [first, platform.issued[1]]
    assert len(platform.token_requests) == 2 and platform.force_calls == 0


def test_never_loops_when_the_platform_keeps_refusing(platform: FakePlatform) -> None:
    platform.ocr_answer = {"errcode": 40001, "errmsg": "invalid credential rid: 1-2"}
    with sync_client(platform) as client:
        answer = client.request("comm", IMG)
        assert answer == {"errcode": 40001, "errmsg": "invalid credential", "rid": "1-2"}
        with pytest.raises(E.AuthError) as info:
            client.ocr("comm", IMG)
    assert info.value.errcode == 40001 and info.value.rid == "1-2"
    assert len(platform.ocr_requests) == 4  # two calls, each tried twice


def test_stable_token_force_refresh_only_when_it_returns_the_failing_token(
    platform: FakePlatform,
) -> None:
    with sync_client(platform) as client:
        first = client.get_token()
        platform.invalidate(stable_returns_it=True)
        assert client.request("comm", IMG)["errcode"] == 0
        assert client.get_token() == platform.issued[1] != first
    bodies = [json.loads(r.content) for r in platform.token_requests]
    assert [b["force_refresh"] for b in bodies] == [False, False, True]


def test_token_endpoint_never_force_refreshes(platform: FakePlatform) -> None:
    with sync_client(platform, token_endpoint="token") as client:
        client.get_token()
        platform.invalidate()
        assert client.request("comm", IMG)["errcode"] == 0
    assert [r.url.path for r in platform.token_requests] == ["/cgi-bin/token"] * 2


def test_32_concurrent_async_failures_cause_exactly_one_token_call(platform: FakePlatform) -> None:
    async def main() -> list[dict[str, Any]]:
        async with async_client(platform) as client:
            await client.get_token()
            platform.invalidate()
            return await asyncio.gather(*(client.request("comm", IMG) for _ in range(32)))

    answers = asyncio.run(main())
    assert all(a["errcode"] == 0 for a in answers)
    assert len(platform.token_requests) == 2 and platform.force_calls == 0
    first, second = platform.issued
    tokens = [r.url.params["access_token"] for r in platform.ocr_requests]
    assert tokens.count(first) == 32 and tokens.count(second) == 32


def test_32_concurrent_async_force_refresh_happens_once(platform: FakePlatform) -> None:
    async def main() -> list[dict[str, Any]]:
        async with async_client(platform) as client:
            await client.get_token()
            platform.invalidate(stable_returns_it=True)
            return await asyncio.gather(*(client.request("comm", IMG) for _ in range(32)))

    assert all(a["errcode"] == 0 for a in asyncio.run(main()))
    assert len(platform.token_requests) == 3 and platform.force_calls == 1


def test_32_concurrent_first_requests_share_one_token_call(platform: FakePlatform) -> None:
    async def main() -> None:
        async with async_client(platform) as client:
            await asyncio.gather(*(client.request("comm", IMG) for _ in range(32)))

    asyncio.run(main())
    assert len(platform.token_requests) == 1


def test_16_threads_failing_together_share_one_refresh(platform: FakePlatform) -> None:
    barrier = threading.Barrier(16, timeout=30)
    first_calls = iter(range(16))

    def handler(request: httpx.Request) -> httpx.Response:
        # the first 16 OCR calls are all in flight with the dead token before any answers
        if request.url.path.startswith("/cv/") and next(first_calls, None) is not None:
            barrier.wait()
        return platform.handler(request)

    with WeChatClient(
        appid=APPID, secret=SECRET, base_url=BASE, transport=httpx.MockTransport(handler)
    ) as client:
        client.get_token()
        platform.invalidate()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: client.request("comm", IMG), range(16)))
    assert all(a["errcode"] == 0 for a in answers)
    assert len(platform.token_requests) == 2
    tokens = [r.url.params["access_token"] for r in platform.ocr_requests]
    assert tokens.count(platform.issued[0]) == 16 and tokens.count(platform.issued[1]) == 16


def test_fixed_token_is_never_refreshed(platform: FakePlatform) -> None:
    with sync_client(platform, appid=None, secret=None, access_token="FIXEDTOKEN12345") as client:
        assert client.get_token() == "FIXEDTOKEN12345"
        assert client.request("comm", IMG)["errcode"] == 40001
        with pytest.raises(E.AuthError):
            client.ocr("comm", IMG)
    assert platform.token_requests == [] and len(platform.ocr_requests) == 2


def test_fixed_token_async(platform: FakePlatform) -> None:
    platform.valid.add("FIXEDTOKEN12345")

    async def main() -> dict[str, Any]:
        async with async_client(
            platform, appid=None, secret=None, access_token="FIXEDTOKEN12345"
        ) as client:
            return await client.ocr("platenum", IMG)

    assert asyncio.run(main())["number"] == OK["number"]
    assert platform.token_requests == []


def test_access_token_with_credentials_is_a_seed(platform: FakePlatform) -> None:
    with sync_client(platform, access_token="SEEDTOKEN12345") as client:
        assert client.get_token() == "SEEDTOKEN12345"
        assert client.request("comm", IMG)["errcode"] == 0  # refused, refreshed, retried
        assert client.get_token() == platform.issued[0]
    assert len(platform.token_requests) == 1


# --- token-call errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "errcode"),
    [
        ({"errcode": 40013, "errmsg": "invalid appid rid: 1-a"}, E.ConfigurationError, 40013),
        (
            {"errcode": 40125, "errmsg": "invalid appsecret rid: 1-b"},
            E.ConfigurationError,
            40125,
        ),
        ({"errcode": "40125", "errmsg": "invalid appsecret"}, E.ConfigurationError, 40125),
        ({"errcode": 40164, "errmsg": "invalid ip, not in whitelist"}, E.AuthError, 40164),
        ({"errcode": 45009, "errmsg": "reach max api daily quota limit"}, E.AuthError, 45009),
        ({"errcode": -1, "errmsg": "system error"}, E.AuthError, -1),
        ({"errcode": 0, "expires_in": 7200}, E.TransportError, E.E_BAD_RESPONSE),
        ({"errcode": "none", "errmsg": "?"}, E.TransportError, E.E_BAD_RESPONSE),
        (
            {"access_token": "T" * 20, "expires_in": "²"},
            E.TransportError,
            E.E_BAD_RESPONSE,
        ),
        (
            {"access_token": "T" * 20, "expires_in": "soon"},
            E.TransportError,
            E.E_BAD_RESPONSE,
        ),
    ],
)
def test_token_call_errors(
    platform: FakePlatform, answer: dict[str, Any], error: type[E.OCRError], errcode: int
) -> None:
    platform.token_answer = answer
    with sync_client(platform) as client, pytest.raises(error) as info:
        client.ocr("comm", IMG)
    assert type(info.value) is error and info.value.errcode == errcode
    assert platform.ocr_requests == []


def test_token_call_error_echoing_the_secret_is_scrubbed(platform: FakePlatform) -> None:
    platform.token_answer = {"errcode": 40125, "errmsg": f"invalid appsecret {SECRET} rid: 9-9"}
    with sync_client(platform) as client, pytest.raises(E.ConfigurationError) as info:
        client.get_token()
    assert SECRET not in str(info.value) and info.value.rid == "9-9"


def test_parse_token_response_accepts_string_expires_in() -> None:
    assert parse_token_response(200, b'{"access_token": "abc", "expires_in": "7200"}') == (
        "abc",
        7200,
    )
    assert parse_token_response(200, b'{"access_token": "abc"}') == ("abc", 7200)
    assert parse_token_response(200, b'{"access_token": "abc", "expires_in": 60.0}') == ("abc", 60)
    with pytest.raises(E.TransportError) as info:
        parse_token_response(503, b"")
    assert info.value.errcode == E.E_TRANSPORT
    with pytest.raises(E.TransportError):
        parse_token_response(200, b"<html>")


# --- transport failures and response limits -----------------------------------------------


def failing_client(platform: FakePlatform, exc: Exception) -> WeChatClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/cgi-bin/"):
            return platform.handler(request)
        raise exc

    return WeChatClient(
        appid=APPID, secret=SECRET, base_url=BASE, transport=httpx.MockTransport(handler)
    )


def assert_clean(error: BaseException, *secrets: str) -> None:
    text = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    for secret in secrets:
        assert secret not in text
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize(
    ("exc", "errcode", "words"),
    [
        (
            httpx.ConnectError("boom http://x/?access_token={token}&secret={secret}"),
            E.E_TRANSPORT,
            "ConnectError",
        ),
        (
            httpx.ReadTimeout("read timed out for ?access_token={token}"),
            E.E_TRANSPORT,
            "timed out",
        ),
        (
            httpx.RemoteProtocolError("peer closed ?access_token={token}"),
            E.E_TRANSPORT,
            "RemoteProtocol",
        ),
        (httpx.DecodingError("bad gzip for {token}"), E.E_BAD_RESPONSE, "DecodingError"),
    ],
)
def test_httpx_errors_become_redacted_transport_errors(
    platform: FakePlatform, exc: httpx.HTTPError, errcode: int, words: str
) -> None:
    token = "TOKEN0000" + "abcdefghij" * 8  # what the platform issues first
    exc.args = (str(exc.args[0]).format(token=token, secret=SECRET),)
    with failing_client(platform, exc) as client, pytest.raises(E.TransportError) as info:
        client.request("comm", IMG)
    assert info.value.errcode == errcode and words in str(info.value)
    assert_clean(info.value, token, SECRET)


def test_token_call_transport_error_hides_the_secret(platform: FakePlatform) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    client = WeChatClient(
        appid=APPID,
        secret=SECRET,
        base_url=BASE,
        token_endpoint="token",
        transport=httpx.MockTransport(handler),
    )
    with client, pytest.raises(E.TransportError) as info:
        client.get_token()
    assert info.value.errcode == E.E_TRANSPORT
    assert_clean(info.value, SECRET)
    assert "secret=***" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_is_a_transport_error(platform: FakePlatform, status: int) -> None:
    platform_handler = platform.handler

    def handler(request: httpx.Request) -> httpx.Response:
        response = platform_handler(request)
        return (
            response
            if request.url.path.startswith("/cgi-bin/")
            else httpx.Response(status, text="oops")
        )

    client = WeChatClient(
        appid=APPID, secret=SECRET, base_url=BASE, transport=httpx.MockTransport(handler)
    )
    with client, pytest.raises(E.TransportError) as info:
        client.request("comm", IMG)
    assert info.value.errcode == E.E_TRANSPORT


def body_client(platform: FakePlatform, make: Any, **kwargs: Any) -> WeChatClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/cgi-bin/"):
            return platform.handler(request)
        return make()  # type: ignore[no-any-return]

    return WeChatClient(
        appid=APPID, secret=SECRET, base_url=BASE, transport=httpx.MockTransport(handler), **kwargs
    )


def test_text_plain_answer_is_parsed(platform: FakePlatform) -> None:
    def make() -> httpx.Response:
        return httpx.Response(200, text='{"errcode": "0", "errmsg": "ok", "number": "A1"}')

    with body_client(platform, make) as client:
        assert client.ocr("platenum", IMG)["number"] == "A1"


def test_invalid_body_is_a_bad_response(platform: FakePlatform) -> None:
    make = lambda: httpx.Response(200, text="<html>")  # noqa: E731
    with body_client(platform, make) as client, pytest.raises(E.TransportError) as info:
        client.request("platenum", IMG)
    assert info.value.errcode == E.E_BAD_RESPONSE


def big_answer(size: int) -> bytes:
    return json.dumps({"errcode": 0, "errmsg": "ok", "number": "x" * size}).encode()


def test_response_over_the_limit_declared_length(platform: FakePlatform) -> None:
    make = lambda: httpx.Response(200, content=big_answer(2000))  # noqa: E731
    client = body_client(platform, make, max_response_bytes=1000)
    with client, pytest.raises(E.TransportError) as info:
        client.request("platenum", IMG)
    assert info.value.errcode == E.E_BAD_RESPONSE and "1000 bytes" in str(info.value)


def test_response_over_the_limit_streamed_stops_reading(platform: FakePlatform) -> None:
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(1000):  # 1000 x 1 KB, no Content-Length
            produced.append(i)
            yield b" " * 1024

    with (
        body_client(
            platform, lambda: httpx.Response(200, content=chunks()), max_response_bytes=10_000
        ) as client,
        pytest.raises(E.TransportError) as info,
    ):
        client.request("platenum", IMG)
    assert info.value.errcode == E.E_BAD_RESPONSE
    assert len(produced) < 20


def test_response_at_the_limit_is_read(platform: FakePlatform) -> None:
    body = big_answer(500)
    with body_client(
        platform, lambda: httpx.Response(200, content=body), max_response_bytes=len(body)
    ) as client:
        assert client.request("platenum", IMG)["errcode"] == 0


def test_async_streamed_limit(platform: FakePlatform) -> None:
    async def chunks() -> Any:
        for _ in range(1000):
            yield b" " * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/cgi-bin/"):
            return platform.handler(request)
        return httpx.Response(200, content=chunks())

    async def main() -> None:
        client = AsyncWeChatClient(
            appid=APPID,
            secret=SECRET,
            base_url=BASE,
            transport=httpx.MockTransport(handler),
            max_response_bytes=4096,
        )
        async with client:
            await client.request("comm", IMG)

    with pytest.raises(E.TransportError) as info:
        asyncio.run(main())
    assert info.value.errcode == E.E_BAD_RESPONSE


# --- http_client injection -------------------------------------------------------------------


def test_injected_http_client_is_used_and_not_closed(platform: FakePlatform) -> None:
    http = httpx.Client(transport=httpx.MockTransport(platform.handler))
    with WeChatClient(appid=APPID, secret=SECRET, base_url=BASE, http_client=http) as client:
        client.request("comm", IMG)
    assert not http.is_closed
    http.close()
    owned = sync_client(platform)
    owned.close()
    assert owned._client._http.is_closed


def test_float_timeout_accepted(platform: FakePlatform) -> None:
    with sync_client(platform, timeout=5.0) as client:
        assert client._client._timeout == httpx.Timeout(5.0)


# --- secrets in logs ----------------------------------------------------------------------------


def test_logs_at_debug_never_show_token_or_secret(
    platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with sync_client(platform, token_endpoint="token") as client:
        client.request("comm", IMG)
        platform.invalidate()
        client.request("comm", IMG)
        token = client.get_token()

    async def main() -> None:
        async with async_client(platform) as aclient:
            await aclient.request("comm", IMG)

    asyncio.run(main())
    http_lines = [r for r in caplog.records if r.name == "httpx"]
    assert len(http_lines) >= 6
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for issued in platform.issued:
        assert issued not in text
    assert token not in text and SECRET not in text
    assert "access_token=***" in text and "secret=***" in text


def test_filter_formats_args_then_redacts() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", "http://h/?access_token=abc&x=1"),
        None,
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "HTTP Request: GET http://h/?access_token=***&x=1"
    assert record.args == ()


def test_filter_installed_once_per_logger(platform: FakePlatform) -> None:
    for _ in range(3):
        sync_client(platform).close()
    for name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection"):
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, RedactingFilter) for f in filters) == 1


def test_filter_not_installed_at_import() -> None:
    code = (
        "import logging, ocr_frames.wechat\n"
        "assert not logging.getLogger('httpx').filters, 'installed at import'\n"
        "ocr_frames.wechat.WeChatClient(access_token='T123456').close()\n"
        "assert logging.getLogger('httpx').filters\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_redact_and_scrubber() -> None:
    assert redact("a?access_token=XYZ&secret=abc#f") == "a?access_token=***&secret=***#f"
    assert redact('{"secret": "abc", "appid": "wx"}') == '{"secret": "***", "appid": "wx"}'
    scrub = Scrubber(["SECRETVALUE", None, ""])
    scrub.add("TOKENVALUE")
    assert scrub("x SECRETVALUE y TOKENVALUE") == "x *** y ***"
