"""The WeChat clients over real HTTP against the loopback emulator (ocr_frames.testing)."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ocr_frames import _errors as E
from ocr_frames.kinds import KINDS
from ocr_frames.testing import WeChatEmulator
from ocr_frames.wechat import MAX_IMAGE_BYTES, AsyncWeChatClient, WeChatClient, parse_response
from tests.helpers import IDCARD_FRONT, QuietHandler, corners, serving

POS = corners((119, 2925), (1435, 2887), (1435, 3793), (119, 3831))
MENU = [
    {"name": "酱鸭", "price": 48.0},
    {"name": "龙虾", "price": 80.0},
    {"name": "八宝", "price": 10},
]


def image(n: int) -> bytes:
    """Distinct bytes the emulator takes for a PNG (it checks the signature only)."""
    return b"\x89PNG\r\n\x1a\n" + hashlib.sha256(str(n).encode()).digest() * 4


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def emu() -> Iterator[WeChatEmulator]:
    with WeChatEmulator() as emulator:
        yield emulator


def client_for(emu: WeChatEmulator, **kwargs: Any) -> WeChatClient:
    kwargs.setdefault("appid", emu.appid)
    kwargs.setdefault("secret", emu.secret)
    return WeChatClient(base_url=emu.base_url, timeout=10.0, **kwargs)


def async_client_for(emu: WeChatEmulator, **kwargs: Any) -> AsyncWeChatClient:
    kwargs.setdefault("appid", emu.appid)
    kwargs.setdefault("secret", emu.secret)
    return AsyncWeChatClient(base_url=emu.base_url, timeout=10.0, **kwargs)


def refused_calls(emu: WeChatEmulator) -> int:
    """OCR calls the platform refused before billing (40001/42001): requests minus the rest."""
    return emu.requests - sum(emu.token_calls.values()) - emu.total_billed


# --- every kind, exact values --------------------------------------------------------------

HAPPY: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("idcard", IDCARD_FRONT, {}),
    ("bankcard", {"number": "6222021234567890123"}, {}),
    (
        "driving",
        {
            "plate_num": "粤A12345",
            "vehicle_type": "小型普通客车",
            "owner": "东莞市xxxxx机械厂",
            "register_date": "2018-07-06",
            "issue_date": "2018-07-01",
            "card_position_front": {"pos": POS},
            "img_size": {"w": 3120, "h": 4208},
        },
        {},
    ),
    (
        "drivinglicense",
        {
            "id_num": "660601xxxxxxxx1234",
            "name": "张三",
            "sex": "男",
            "birth_date": "1990-12-21",
            "car_class": "C1",
            "valid_from": "2018-07-06",
            "valid_to": "2020-07-01",
        },
        {},
    ),
    (
        "bizlicense",
        {
            "reg_num": "123123",
            "legal_representative": "张三",
            "enterprise_name": "XX饮食店",
            "registered_date": "2018年1月1日",
            "cert_position": {"pos": POS},
            "img_size": {"w": 966, "h": 728},
        },
        {},
    ),
    (
        "comm",
        {
            "items": [{"text": "腾讯", "pos": POS}, {"text": "微信团队", "pos": POS}],
            "img_size": {"w": 1280, "h": 720},
        },
        {},
    ),
    ("platenum", {"number": "粤A123456"}, {}),
    (
        "menu",
        {"content": json.dumps({"menu_items": MENU}, ensure_ascii=False)},
        {
            "menu_items": [
                {"name": "酱鸭", "price": 48.0},
                {"name": "龙虾", "price": 80.0},
                {"name": "八宝", "price": 10.0},
            ]
        },
    ),
]


def expected(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in raw.items() if k != "content"} if overrides else raw
    return {"errcode": 0, "errmsg": "ok", "rid": None, **fields, **overrides}


@pytest.mark.parametrize(("kind", "raw", "overrides"), HAPPY, ids=[k for k, _, _ in HAPPY])
def test_every_kind_sync(
    emu: WeChatEmulator, kind: str, raw: dict[str, Any], overrides: dict[str, Any]
) -> None:
    img = image(KINDS.index(kind))
    emu.register(img, kind, raw)
    with client_for(emu) as client:
        assert client.ocr(kind, img) == expected(raw, overrides)
    assert emu.billed == {sha(img): 1} and emu.token_calls == {"stable_token": 1}


def test_every_kind_async(emu: WeChatEmulator) -> None:
    for n, (kind, raw, _) in enumerate(HAPPY):
        emu.register(image(n), kind, raw)

    async def main() -> list[dict[str, Any]]:
        async with async_client_for(emu) as client:
            return await asyncio.gather(
                *(client.ocr(kind, image(n)) for n, (kind, _, _) in enumerate(HAPPY))
            )

    answers = asyncio.run(main())
    assert answers == [expected(raw, overrides) for _, raw, overrides in HAPPY]
    assert emu.total_billed == len(HAPPY) and emu.token_calls == {"stable_token": 1}


@pytest.mark.parametrize("kind", KINDS)
def test_fallback_answers_parse_like_parse_response(emu: WeChatEmulator, kind: str) -> None:
    img = image(100 + KINDS.index(kind))
    raw = WeChatEmulator.fallback_answer(kind, sha(img))
    with client_for(emu) as client:
        answer = client.request(kind, img)
    assert answer == parse_response(kind, 200, json.dumps(raw).encode())
    assert answer["errcode"] == 0 and "content" not in answer


def test_bizlicense_absent_fields_stay_absent(emu: WeChatEmulator) -> None:
    img = image(7)
    emu.register(img, "bizlicense", {"reg_num": "9144"})
    with client_for(emu) as client:
        assert client.ocr("bizlicense", img) == {
            "errcode": 0,
            "errmsg": "ok",
            "rid": None,
            "reg_num": "9144",
        }


def test_two_megabytes_never_reach_the_platform(emu: WeChatEmulator) -> None:
    big = image(0) + b"\0" * MAX_IMAGE_BYTES
    with client_for(emu) as client, pytest.raises(E.ImageError) as info:
        client.request("idcard", big)
    assert info.value.errcode == E.E_TOO_LARGE
    assert emu.requests == 0 and emu.total_billed == 0


# --- error codes ----------------------------------------------------------------------------

ERRORS: list[tuple[int, type[E.OCRError]]] = [
    (-1, E.RecognitionError),
    (45009, E.QuotaExceeded),
    (45011, E.RateLimited),
    (101001, E.RecognitionError),
    (101002, E.RecognitionError),
    (101003, E.QuotaExceeded),
    (48001, E.ConfigurationError),
    (61007, E.ConfigurationError),
    (101000, E.RecognitionError),
]


@pytest.mark.parametrize(("errcode", "error"), ERRORS)
def test_error_codes_are_answers_from_request(
    emu: WeChatEmulator, errcode: int, error: type[E.OCRError]
) -> None:
    emu.fail_next(1, errcode=errcode)
    with client_for(emu) as client:
        answer = client.request("idcard", image(1))
        assert client.request("idcard", image(1))["errcode"] == 0  # only the next call failed
    assert set(answer) == {"errcode", "errmsg", "rid"}
    assert answer["errcode"] == errcode
    assert "rid" not in answer["errmsg"] and answer["errmsg"]
    assert isinstance(answer["rid"], str) and answer["rid"].startswith("6")


@pytest.mark.parametrize(("errcode", "error"), ERRORS)
def test_error_codes_raise_from_ocr(
    emu: WeChatEmulator, errcode: int, error: type[E.OCRError]
) -> None:
    emu.fail_next(1, errcode=errcode)

    async def main() -> None:
        async with async_client_for(emu) as client:
            await client.ocr("comm", image(2))

    with pytest.raises(error) as info:
        asyncio.run(main())
    assert type(info.value) is error
    assert info.value.errcode == errcode and info.value.rid and info.value.rid in str(info.value)


def test_real_quotas_map_to_their_exceptions(emu: WeChatEmulator) -> None:
    with client_for(emu) as client:
        emu.minute_quota = 1
        client.ocr("comm", image(1))
        with pytest.raises(E.RateLimited):
            client.ocr("comm", image(2))
        emu.minute_quota = None
        emu.daily_quota = 1
        with pytest.raises(E.QuotaExceeded) as daily:
            client.ocr("comm", image(3))
        emu.daily_quota, emu.market_quota = None, 1
        with pytest.raises(E.QuotaExceeded) as market:
            client.ocr("comm", image(4))
    assert (daily.value.errcode, market.value.errcode) == (45009, 101003)
    assert emu.total_billed == 1


def test_certificate_not_found_and_invalid_image(emu: WeChatEmulator) -> None:
    emu.register(image(1), "idcard", {"type": "Back", "valid_date": "20171025-长期"})
    with client_for(emu) as client:
        assert client.request("bankcard", image(1))["errcode"] == 101001  # other kind only
        assert client.request("bankcard", b"GIF8 not an image")["errcode"] == 101002
        with pytest.raises(E.RecognitionError):
            client.ocr("bankcard", image(1))
    assert emu.total_billed == 3  # they reached the platform: billed


def test_http_500_page_is_a_transport_error(emu: WeChatEmulator) -> None:
    emu.fail_next(1, http_status=500)
    with client_for(emu) as client, pytest.raises(E.TransportError) as info:
        client.request("comm", image(1))
    assert info.value.errcode == E.E_TRANSPORT and "500" in str(info.value)


def test_http_502_with_json_errcode_is_still_a_transport_error(emu: WeChatEmulator) -> None:
    emu.fail_next(1, http_status=502, errcode=-1)
    with client_for(emu) as client, pytest.raises(E.TransportError) as info:
        client.ocr("comm", image(1))
    assert info.value.errcode == E.E_TRANSPORT


def test_dropped_connection_is_a_transport_error(emu: WeChatEmulator) -> None:
    emu.fail_next(1, drop=True)
    with client_for(emu) as client:
        with pytest.raises(E.TransportError) as info:
            client.request("comm", image(1))
        assert info.value.errcode == E.E_TRANSPORT
        assert client.request("comm", image(1))["errcode"] == 0  # the client recovers


def test_truncated_json_is_a_bad_response(emu: WeChatEmulator) -> None:
    emu.set_faults(bad_json=1.0)
    with client_for(emu) as client, pytest.raises(E.TransportError) as info:
        client.request("comm", image(1))
    assert info.value.errcode == E.E_BAD_RESPONSE


def test_connection_refused_is_a_transport_error() -> None:
    with WeChatEmulator() as stopped:
        base_url = stopped.base_url
    client = WeChatClient(access_token="SOMEFIXEDTOKEN", base_url=base_url, timeout=5.0)
    with client, pytest.raises(E.TransportError) as info:
        client.request("comm", image(1))
    assert info.value.errcode == E.E_TRANSPORT and "SOMEFIXEDTOKEN" not in repr(info.value)


def test_timeout_is_a_transport_error(emu: WeChatEmulator) -> None:
    token = emu.issue_token()
    emu.latency = 2.0
    client = WeChatClient(access_token=token, base_url=emu.base_url, timeout=0.2)
    with client, pytest.raises(E.TransportError) as info:
        client.request("comm", image(1))
    assert info.value.errcode == E.E_TRANSPORT and "timed out" in str(info.value)
    assert token not in str(info.value)


@pytest.mark.parametrize("endpoint", ["stable_token", "token"])
def test_wrong_secret_or_appid_is_a_configuration_error(emu: WeChatEmulator, endpoint: str) -> None:
    for kwargs, errcode in (
        ({"secret": "wrong-secret-123"}, 40125),
        ({"appid": "wx-wrong"}, 40013),
    ):
        client = client_for(emu, token_endpoint=endpoint, **kwargs)
        with client, pytest.raises(E.ConfigurationError) as info:
            client.request("comm", image(1))
        assert info.value.errcode == errcode
        assert "wrong-secret-123" not in str(info.value) and emu.secret not in str(info.value)
    assert emu.total_billed == 0


def test_the_client_only_ever_posts_so_43002_is_unreachable(
    emu: WeChatEmulator, image_server: str
) -> None:
    methods: list[tuple[str, str]] = []
    http = httpx.Client(event_hooks={"request": [lambda r: methods.append((r.method, r.url.path))]})
    with WeChatClient(
        appid=emu.appid, secret=emu.secret, base_url=emu.base_url, http_client=http
    ) as client:
        for kind in KINDS:
            assert client.request(kind, image(3))["errcode"] != 43002
        assert client.request("comm", img_url=f"{image_server}/1.png")["errcode"] != 43002
    http.close()
    assert {m for m, path in methods if path.startswith("/cv/ocr/")} == {"POST"}


# --- tokens -------------------------------------------------------------------------------------


def test_32_concurrent_requests_after_invalidation_one_extra_token_call(
    emu: WeChatEmulator,
) -> None:
    async def main() -> list[dict[str, Any]]:
        async with async_client_for(emu) as client:
            await client.ocr("comm", image(0))
            emu.invalidate_tokens()
            return await asyncio.gather(*(client.ocr("comm", image(i)) for i in range(1, 33)))

    emu.latency = 0.02  # all 32 are in flight with the dead token together
    answers = asyncio.run(main())
    assert len(answers) == 32 and all(a["errcode"] == 0 for a in answers)
    assert emu.token_calls == {"stable_token": 2}
    assert refused_calls(emu) == 32  # each refused once, then retried with the new token
    assert emu.total_billed == 33 and set(emu.billed.values()) == {1}


def test_expired_token_refreshed_once(emu: WeChatEmulator) -> None:
    with client_for(emu) as client:
        first = client.get_token()
        emu.expire_tokens()
        assert client.ocr("platenum", image(1))["errcode"] == 0
        assert client.get_token() != first
    assert emu.token_calls == {"stable_token": 2} and refused_calls(emu) == 1


def test_fixed_token_is_not_refreshed(emu: WeChatEmulator) -> None:
    token = emu.issue_token()
    with WeChatClient(access_token=token, base_url=emu.base_url) as client:
        assert client.ocr("comm", image(1))["errcode"] == 0
        emu.invalidate_tokens()
        answer = client.request("comm", image(1))
        assert answer["errcode"] == 40001 and answer["rid"]
        with pytest.raises(E.AuthError):
            client.ocr("comm", image(1))
    assert sum(emu.token_calls.values()) == 0


def test_token_endpoint_clients_knock_each_other_out(emu: WeChatEmulator) -> None:
    with client_for(emu, token_endpoint="token") as a, client_for(emu, token_endpoint="token") as b:
        for i in range(4):
            assert a.ocr("comm", image(i))["errcode"] == 0
            assert b.ocr("comm", image(i))["errcode"] == 0
    # each client's token is retired by the other's next token call: 40001 on every call
    # after the first round, each answered by one refresh and one retry
    assert refused_calls(emu) == 6
    assert emu.token_calls == {"token": 8} and emu.total_billed == 8


def test_stable_token_clients_share_one_token(emu: WeChatEmulator) -> None:
    with client_for(emu) as a, client_for(emu) as b:
        for i in range(4):
            assert a.ocr("comm", image(i))["errcode"] == 0
            assert b.ocr("comm", image(i))["errcode"] == 0
        assert a.get_token() == b.get_token()
    assert refused_calls(emu) == 0
    assert emu.token_calls == {"stable_token": 2} and emu.total_billed == 8


def test_token_grace_lets_old_tokens_work_a_while(emu: WeChatEmulator) -> None:
    emu.token_grace = 60.0
    with client_for(emu, token_endpoint="token") as a, client_for(emu, token_endpoint="token") as b:
        for i in range(3):
            a.ocr("comm", image(i))
            b.ocr("comm", image(i))
    assert refused_calls(emu) == 0 and emu.token_calls == {"token": 2}


# --- quirks -----------------------------------------------------------------------------------


def test_quirks_are_normalised(emu: WeChatEmulator) -> None:
    emu.quirks = {"string_errcode", "text_plain", "vhicle_type", "bankcard_id"}
    emu.register(image(1), "driving", {"plate_num": "粤A1", "vehicle_type": "小型轿车"})
    emu.register(image(2), "bankcard", {"number": "6222021234567890123"})
    with client_for(emu) as client:
        driving = client.ocr("driving", image(1))
        bankcard = client.ocr("bankcard", image(2))
    assert driving == {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "plate_num": "粤A1",
        "vehicle_type": "小型轿车",
    }
    assert bankcard == {"errcode": 0, "errmsg": "ok", "rid": None, "number": "6222021234567890123"}


@pytest.mark.parametrize("quirk", ["string_errcode", "text_plain"])
def test_each_quirk_alone(emu: WeChatEmulator, quirk: str) -> None:
    emu.quirks = {quirk}
    emu.fail_next(1, errcode=45011)
    with client_for(emu) as client:
        assert client.request("platenum", image(1))["errcode"] == 45011
        answer = client.ocr("platenum", image(1))
    assert answer["errcode"] == 0 and type(answer["errcode"]) is int and answer["number"]


# --- img_url ----------------------------------------------------------------------------------


@pytest.fixture
def image_server() -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 serving image(n) at /<n>.png."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            name = self.path.split("?")[0].strip("/").removesuffix(".png")
            if not name.isdigit():
                self.send_error(404)
                return
            self.send_body(image(int(name)), content_type="image/png")

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_img_url_is_downloaded_by_the_platform(emu: WeChatEmulator, image_server: str) -> None:
    emu.register(image(5), "platenum", {"number": "粤B12345"})
    with client_for(emu) as client:
        answer = client.ocr("platenum", img_url=f"{image_server}/5.png?size=big&x=1")
    assert answer == {"errcode": 0, "errmsg": "ok", "rid": None, "number": "粤B12345"}
    assert emu.billed == {sha(image(5)): 1}


def test_img_url_async_and_unreachable_url(emu: WeChatEmulator, image_server: str) -> None:
    emu.register(image(6), "comm", {"items": [], "img_size": {"w": 1, "h": 2}})

    async def main() -> tuple[dict[str, Any], dict[str, Any]]:
        async with async_client_for(emu) as client:
            good = await client.request("comm", img_url=f"{image_server}/6.png")
            bad = await client.request("comm", img_url=f"{image_server}/missing.png")
            return good, bad

    good, bad = asyncio.run(main())
    assert good == {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "items": [],
        "img_size": {"w": 1, "h": 2},
    }
    assert bad["errcode"] == 101000 and bad["errmsg"] == "invalid image url"


# --- secrets -----------------------------------------------------------------------------------


def test_debug_logs_never_show_token_or_secret(
    emu: WeChatEmulator, image_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens: list[str] = []
    with client_for(emu, token_endpoint="token") as client:
        client.ocr("comm", image(1))
        tokens.append(client.get_token())
        emu.invalidate_tokens()
        client.ocr("comm", img_url=f"{image_server}/2.png")
        tokens.append(client.get_token())
        emu.fail_next(1, drop=True)
        with pytest.raises(E.TransportError) as dropped:
            client.ocr("comm", image(3))

    async def main() -> None:
        async with async_client_for(emu) as aclient:
            await aclient.ocr("menu", image(4))
            tokens.append(await aclient.get_token())

    asyncio.run(main())
    assert {r.name for r in caplog.records} >= {"httpx", "httpcore.http11", "httpcore.connection"}
    text = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + str(dropped.value)
    assert len(set(tokens)) == 3
    for secret in [*tokens, emu.secret]:
        assert secret not in text
    assert "access_token=***" in text and "secret=***" in text
    assert f"appid={emu.appid}" in text  # only the secret parts are hidden


def test_reprs_and_errors_never_show_token_or_secret(emu: WeChatEmulator) -> None:
    emu.fail_next(2, errcode=40001)  # refused even after the refresh: E.AuthError, no loop
    with client_for(emu) as client:
        with pytest.raises(E.AuthError) as info:
            client.ocr("comm", image(1))
        token = client.get_token()
        shown = repr(client) + repr(client._client._tokens) + repr(info.value) + str(info.value)
    assert token not in shown and emu.secret not in shown
    assert repr(client) == f"WeChatClient(appid={emu.appid!r}, base_url={emu.base_url!r})"
    assert emu.token_calls == {"stable_token": 3}  # first, CAS refresh, force_refresh


def test_40001_with_a_token_stable_token_still_returns_forces_a_refresh(
    emu: WeChatEmulator,
) -> None:
    emu.fail_next(1, errcode=40001)
    with client_for(emu) as client:
        first = client.get_token()
        assert client.ocr("comm", image(1))["errcode"] == 0
        assert client.get_token() != first  # stable_token handed back `first`: forced
        assert client.ocr("comm", image(2))["errcode"] == 0
    assert emu.token_calls == {"stable_token": 3} and emu.total_billed == 3
