"""The WeChat emulator over real HTTP: protocol, tokens, quotas, faults, quirks, robustness."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import http.server
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ocr_frames.testing as testing
from ocr_frames._errors import ConfigurationError
from ocr_frames.kinds import KINDS, spec
from ocr_frames.testing import MAX_IMAGE_BYTES, WeChatEmulator
from ocr_frames.testing import _emulator as emulator_module
from tests.helpers import QuietHandler, serving

REPO = Path(__file__).resolve().parents[2]
RID = re.compile(r" rid: 6[0-9a-f]{7}-[0-9a-f]{8}-[0-9a-f]{8}$")


def jpeg(seed: int = 0, size: int = 300) -> bytes:
    """Bytes that start like a JPEG (all the platform checks), distinct per seed."""
    return b"\xff\xd8\xff\xe0" + random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(emulator: WeChatEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, trust_env=False, timeout=10) as c:
        yield c


@pytest.fixture
def token(emulator: WeChatEmulator) -> str:
    return emulator.issue_token()


def ocr(
    client: httpx.Client, kind: str, token: str | None, image: bytes | None = None, **params: str
) -> httpx.Response:
    if token is not None:
        params["access_token"] = token
    files = {"img": ("photo.jpg", image, "image/jpeg")} if image is not None else None
    return client.post(f"/cv/ocr/{kind}", params=params, files=files)


def get_token(
    client: httpx.Client, emu: WeChatEmulator, override: dict[str, str] | None = None
) -> dict[str, Any]:
    params = {"grant_type": "client_credential", "appid": emu.appid, "secret": emu.secret}
    response = client.get("/cgi-bin/token", params={**params, **(override or {})})
    assert response.status_code == 200
    return dict(response.json())


def get_stable(
    client: httpx.Client,
    emu: WeChatEmulator,
    override: dict[str, str] | None = None,
    *,
    force: bool = False,
) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": emu.appid, "secret": emu.secret}
    body |= override or {}
    response = client.post("/cgi-bin/stable_token", json={**body, "force_refresh": force})
    assert response.status_code == 200
    return dict(response.json())


def assert_error(response: httpx.Response, errcode: int) -> dict[str, Any]:
    assert response.status_code == 200
    body = dict(response.json())
    assert body["errcode"] == errcode, body
    assert RID.search(body["errmsg"]), body["errmsg"]
    return body


def errcode_of(client: httpx.Client, token: str, image: bytes | None = None) -> int:
    return int(ocr(client, "bankcard", token, jpeg() if image is None else image).json()["errcode"])


# --- tokens ---------------------------------------------------------------------------
def test_token_endpoint_issues_a_new_token_and_retires_the_previous(
    emulator: WeChatEmulator, client: httpx.Client
) -> None:
    first = get_token(client, emulator)
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 64
    assert errcode_of(client, first["access_token"]) == 0
    second = get_token(client, emulator)
    assert second["access_token"] != first["access_token"]
    body = assert_error(ocr(client, "idcard", first["access_token"], jpeg()), 40001)
    assert body["errmsg"].startswith("invalid credential, access_token is invalid or not latest")
    assert errcode_of(client, second["access_token"]) == 0
    assert emulator.token_calls == {"token": 2}


def test_token_grace_keeps_the_previous_token_alive_for_a_while(
    emulator: WeChatEmulator, client: httpx.Client
) -> None:
    emulator.token_grace = 0.3
    first = get_token(client, emulator)["access_token"]
    get_token(client, emulator)
    assert errcode_of(client, first) == 0
    time.sleep(0.35)
    assert errcode_of(client, first) == 40001


def test_stable_token_is_the_same_until_forced_and_isolated_from_token(
    emulator: WeChatEmulator, client: httpx.Client
) -> None:
    first = get_stable(client, emulator)
    assert get_stable(client, emulator)["access_token"] == first["access_token"]
    assert 7190 <= first["expires_in"] <= 7200
    get_token(client, emulator)  # the ordinary endpoint does not retire stable tokens
    assert errcode_of(client, first["access_token"]) == 0
    forced = get_stable(client, emulator, force=True)["access_token"]
    assert forced != first["access_token"]
    assert errcode_of(client, first["access_token"]) == 40001
    assert errcode_of(client, forced) == 0
    assert get_stable(client, emulator)["access_token"] == forced
    assert emulator.token_calls == {"stable_token": 4, "token": 1}


def test_stable_token_requires_post_and_a_json_object(
    emulator: WeChatEmulator, client: httpx.Client
) -> None:
    assert_error(client.get("/cgi-bin/stable_token"), 43002)
    assert_error(client.post("/cgi-bin/stable_token", content=b"{not json"), 47001)
    assert_error(client.post("/cgi-bin/stable_token", json=[1, 2]), 47001)


@pytest.mark.parametrize("endpoint", ["token", "stable_token"])
@pytest.mark.parametrize(
    ("override", "errcode"),
    [
        ({"appid": "wx_wrong"}, 40013),
        ({"secret": "wrong"}, 40125),
        ({"appid": ""}, 41002),
        ({"secret": ""}, 41004),
        ({"grant_type": "password"}, 40002),
    ],
)
def test_bad_credentials(
    emulator: WeChatEmulator,
    client: httpx.Client,
    endpoint: str,
    override: dict[str, str],
    errcode: int,
) -> None:
    fetch = get_token if endpoint == "token" else get_stable
    body = fetch(client, emulator, override)
    assert body["errcode"] == errcode and RID.search(body["errmsg"])
    assert "access_token" not in body


def test_tokens_expire_after_ttl() -> None:
    with (
        WeChatEmulator(token_ttl=0.3) as emu,
        httpx.Client(base_url=emu.base_url, trust_env=False) as client,
    ):
        stable = get_stable(client, emu)
        assert stable["expires_in"] == 1
        assert errcode_of(client, stable["access_token"]) == 0
        time.sleep(0.35)
        body = assert_error(ocr(client, "comm", stable["access_token"], jpeg()), 42001)
        assert body["errmsg"].startswith("access_token expired")
        renewed = get_stable(client, emu)["access_token"]
        assert renewed != stable["access_token"]
        assert errcode_of(client, renewed) == 0


def test_expire_and_invalidate_tokens(emulator: WeChatEmulator, client: httpx.Client) -> None:
    issued = emulator.issue_token()
    assert issued == get_stable(client, emulator)["access_token"]
    assert emulator.token_calls == {"stable_token": 1}  # issue_token is no HTTP call
    emulator.expire_tokens()
    assert errcode_of(client, issued) == 42001
    fresh = emulator.issue_token()
    assert fresh != issued and errcode_of(client, fresh) == 0
    emulator.invalidate_tokens()
    assert errcode_of(client, fresh) == 40001
    assert errcode_of(client, issued) == 40001
    assert errcode_of(client, emulator.issue_token()) == 0


# --- request checks -------------------------------------------------------------------
def test_method_token_and_body_checks(
    emulator: WeChatEmulator, client: httpx.Client, token: str
) -> None:
    assert_error(client.get("/cv/ocr/idcard", params={"access_token": token}), 43002)
    assert_error(ocr(client, "idcard", None, jpeg()), 41001)
    assert_error(ocr(client, "idcard", "", jpeg()), 41001)
    assert_error(ocr(client, "idcard", "not-a-token", jpeg()), 40001)
    assert_error(ocr(client, "idcard", token), 44002)
    assert_error(ocr(client, "idcard", token, b""), 44002)
    other_field = client.post(
        "/cv/ocr/idcard", params={"access_token": token}, files={"image": ("a.jpg", jpeg())}
    )
    assert_error(other_field, 44002)
    assert client.post("/cv/ocr/passport", params={"access_token": token}).status_code == 404
    assert client.get("/").status_code == 404


def test_error_rid_differs_on_every_call(client: httpx.Client) -> None:
    first = assert_error(ocr(client, "idcard", None, jpeg()), 41001)
    second = assert_error(ocr(client, "idcard", None, jpeg()), 41001)
    assert first["errmsg"] != second["errmsg"]


def test_image_size_limit_and_format(
    emulator: WeChatEmulator, client: httpx.Client, token: str
) -> None:
    just_small_enough = jpeg(size=MAX_IMAGE_BYTES - 5)
    assert len(just_small_enough) == MAX_IMAGE_BYTES - 1
    too_big = jpeg(size=MAX_IMAGE_BYTES - 4)
    assert ocr(client, "platenum", token, just_small_enough).json()["errcode"] == 0
    assert_error(ocr(client, "platenum", token, too_big), 101002)
    assert_error(ocr(client, "platenum", token, b"%PDF-1.7 not an image"), 101002)
    for magic in (b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\0", b"RIFF\0\0\0\0WEBPVP8 "):
        assert ocr(client, "platenum", token, magic + b"data").json()["errcode"] == 0
    assert emulator.billed[sha(too_big)] == 1  # refused images still reached the platform


def test_multipart_with_quoted_boundary_and_other_fields(client: httpx.Client, token: str) -> None:
    image = jpeg(7)
    body = (
        b'--"b0und"\r\n'  # not the boundary: the quotes belong to the header syntax
        b'--b0und\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
        b'--b0und\r\nContent-Disposition: form-data; filename="x.jpg"; name="img"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + image + b"\r\n--b0und--\r\n"
    )
    response = client.post(
        "/cv/ocr/bankcard",
        params={"access_token": token},
        content=body,
        headers={"Content-Type": 'multipart/form-data; boundary="b0und"'},
    )
    assert response.json() == WeChatEmulator.fallback_answer("bankcard", sha(image))


@pytest.fixture
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A tiny HTTP server on 127.0.0.1 serving the bytes put in its dict by path."""
    files: dict[str, bytes] = {}

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            data = files.get(self.path)
            self.send_body(data or b"", 200 if data is not None else 404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server, poll_interval=0.05):
        yield f"http://127.0.0.1:{server.server_address[1]}", files


def test_img_url_is_downloaded_from_loopback_only(
    emulator: WeChatEmulator,
    client: httpx.Client,
    token: str,
    image_server: tuple[str, dict[str, bytes]],
) -> None:
    url, files = image_server
    image = jpeg(3)
    files["/id.jpg"] = image
    answer = ocr(client, "idcard", token, img_url=f"{url}/id.jpg").json()
    assert answer == WeChatEmulator.fallback_answer("idcard", sha(image))
    assert emulator.billed[sha(image)] == 1
    assert_error(ocr(client, "idcard", token, img_url=f"{url}/missing.jpg"), 101000)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    assert_error(ocr(client, "idcard", token, img_url=f"http://127.0.0.1:{closed_port}/"), 101000)
    started = time.monotonic()
    # TEST-NET-1 is never routed; the emulator must refuse it without trying
    assert_error(ocr(client, "idcard", token, img_url="http://192.0.2.1/id.jpg"), 101000)
    assert_error(ocr(client, "idcard", token, img_url="file:///etc/passwd"), 101000)
    assert_error(ocr(client, "idcard", token, img_url="http://[::1"), 101000)
    assert time.monotonic() - started < 1.0


# --- answers --------------------------------------------------------------------------
def _allowed_keys(kind: str) -> set[str]:
    s = spec(kind)
    keys = {"errcode", "errmsg", *s.strings, *s.dates, *s.positions}
    keys |= {"img_size"} if s.img_size else set()
    keys |= {"content"} if kind == "menu" else ({s.list_field} if s.list_field else set())
    return keys


def _assert_quad(pos: dict[str, Any]) -> None:
    assert set(pos) == {"left_top", "right_top", "right_bottom", "left_bottom"}
    for corner in pos.values():
        assert set(corner) == {"x", "y"} and all(isinstance(v, int) for v in corner.values())


def _id_ok(number: str) -> bool:
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(number[:17]))
    return (
        re.fullmatch(r"\d{17}[\dX]", number) is not None and number[17] == "10X98765432"[total % 11]
    )


def _luhn_ok(number: str) -> bool:
    digits = [int(c) for c in reversed(number)]
    doubled = [d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)]
    return sum(doubled) % 10 == 0


def _uscc_ok(code: str) -> bool:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    return code[17] == chars[-total % 31]


def _vin_ok(vin: str) -> bool:
    values = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", "12345678123457923456789", strict=True))
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    total = sum(int(values.get(c, c)) * w for c, w in zip(vin, weights, strict=True))
    return vin[8] == "0123456789X"[total % 11]


@pytest.mark.parametrize("kind", KINDS)
def test_fallback_answer_over_http_is_deterministic(
    client: httpx.Client, token: str, kind: str
) -> None:
    image = jpeg(11)
    first = ocr(client, kind, token, image).json()
    assert first == ocr(client, kind, token, image).json()
    assert first == WeChatEmulator.fallback_answer(kind, sha(image))
    assert first["errcode"] == 0 and first["errmsg"] == "ok"
    assert set(first) <= _allowed_keys(kind)
    assert first != WeChatEmulator.fallback_answer(kind, sha(jpeg(12)))


def test_fallback_answers_have_the_platform_shapes() -> None:
    answers = {
        kind: [WeChatEmulator.fallback_answer(kind, sha(jpeg(i))) for i in range(40)]
        for kind in KINDS
    }
    sides = {a["type"] for a in answers["idcard"]}
    assert sides == {"Front", "Back"}
    for a in answers["idcard"]:
        if a["type"] == "Front":
            assert set(a) == {"errcode", "errmsg", "type", "name", "id", "addr", "gender"} | {
                "nationality"
            }
            assert _id_ok(a["id"]) and a["gender"] == ("男" if int(a["id"][16]) % 2 else "女")
        else:
            assert re.fullmatch(r"\d{8}-(\d{8}|长期)", a["valid_date"])
    assert any(a.get("valid_date", "").endswith("长期") for a in answers["idcard"])
    assert all(_luhn_ok(a["number"]) for a in answers["bankcard"])
    for a in answers["driving"]:
        assert {"plate_num", "vehicle_type", "vin", "card_position_front", "img_size"} <= set(a)
        _assert_quad(a["card_position_front"]["pos"])
        assert len(a["vin"]) == 17 and _vin_ok(a["vin"])
        dt.date.fromisoformat(a["register_date"])
        dt.date.fromisoformat(a["issue_date"])
    assert any("card_position_back" in a for a in answers["driving"])
    for a in answers["drivinglicense"]:
        assert _id_ok(a["id_num"])
        assert dt.date.fromisoformat(a["valid_to"]) > dt.date.fromisoformat(a["valid_from"])
    for a in answers["bizlicense"]:
        assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", a["registered_date"])
        assert re.fullmatch(r"9[12]\d{6}[0-9A-Z]{10}", a["reg_num"]) and _uscc_ok(a["reg_num"])
        _assert_quad(a["cert_position"]["pos"])
        assert set(a["img_size"]) == {"w", "h"}
    assert any("serial" not in a for a in answers["bizlicense"])  # absent fields are omitted
    for a in answers["comm"]:
        assert a["items"] and all(isinstance(item["text"], str) for item in a["items"])
        for item in a["items"]:
            _assert_quad(item["pos"])
    for a in answers["menu"]:
        assert isinstance(a["content"], str)  # a JSON string inside the JSON answer
        items = json.loads(a["content"])["menu_items"]
        assert items and all(
            isinstance(i["name"], str) and isinstance(i["price"], float) for i in items
        )
    assert all(
        re.fullmatch(r"[\u4e00-\u9fff][A-Z][0-9A-Z]{5,6}", a["number"]) for a in answers["platenum"]
    )


def test_registered_answer_wins_and_other_kinds_find_no_certificate(
    emulator: WeChatEmulator, client: httpx.Client, token: str
) -> None:
    image = jpeg(21)
    answer = {"type": "Back", "valid_date": "20200101-长期"}
    assert emulator.register(image, "idcard", answer) == sha(image)
    answer["valid_date"] = "changed after registering"
    assert ocr(client, "idcard", token, image).json() == {
        "errcode": 0,
        "errmsg": "ok",
        "type": "Back",
        "valid_date": "20200101-长期",
    }
    body = assert_error(ocr(client, "bankcard", token, image), 101001)
    assert body["errmsg"].startswith("certificate not found")
    emulator.register(sha(image).upper(), "comm", {"errcode": 101002, "errmsg": "as-is"})
    assert ocr(client, "comm", token, image).json() == {"errcode": 101002, "errmsg": "as-is"}
    with pytest.raises(ValueError, match="sha256"):
        emulator.register("abc", "idcard", answer)
    with pytest.raises(ConfigurationError):
        emulator.register(image, "passport", answer)


def test_quirks(emulator: WeChatEmulator, client: httpx.Client, token: str) -> None:
    image = jpeg(5)
    emulator.quirks |= {"string_errcode", "text_plain"}
    response = ocr(client, "platenum", token, image)
    assert response.headers["content-type"] == "text/plain"
    assert response.json()["errcode"] == "0"
    assert_error(ocr(client, "platenum", None, image), 41001)  # error codes stay ints
    emulator.quirks = {"vhicle_type", "bankcard_id"}
    driving = ocr(client, "driving", token, image).json()
    assert "vhicle_type" in driving and "vehicle_type" not in driving
    assert driving["errcode"] == 0
    bankcard = ocr(client, "bankcard", token, image).json()
    assert "id" in bankcard and "number" not in bankcard
    emulator.quirks = set()
    assert ocr(client, "bankcard", token, image).json() == WeChatEmulator.fallback_answer(
        "bankcard", sha(image)
    )
    with pytest.raises(ValueError, match="unknown quirks"):
        emulator.quirks = {"vehicle_typo"}


# --- faults ---------------------------------------------------------------------------
def test_fail_next(emulator: WeChatEmulator, client: httpx.Client, token: str) -> None:
    image = jpeg(9)
    emulator.fail_next(2)
    emulator.fail_next(1, errcode=45011)
    assert [errcode_of(client, token, image) for _ in range(4)] == [-1, -1, 45011, 0]
    emulator.fail_next(1, http_status=500)
    response = ocr(client, "idcard", token, image)
    assert response.status_code == 500 and "text/html" in response.headers["content-type"]
    emulator.fail_next(1, http_status=503, errcode=-1)
    response = ocr(client, "idcard", token, image)
    assert response.status_code == 503 and response.json()["errcode"] == -1
    emulator.fail_next(1, drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        ocr(client, "idcard", token, image)
    assert errcode_of(client, token, image) == 0
    assert emulator.billed[sha(image)] == 8  # failed calls are billed too
    with pytest.raises(ValueError):
        emulator.fail_next(-1)


def test_set_faults_kinds(emulator: WeChatEmulator, client: httpx.Client, token: str) -> None:
    emulator.set_faults(system_error=1.0)
    assert_error(ocr(client, "comm", token, jpeg()), -1)
    assert_error(ocr(client, "comm", "bad-token", jpeg()), 40001)  # token checks come first
    emulator.set_faults(http_500=1.0)
    assert ocr(client, "comm", token, jpeg()).status_code == 500
    emulator.set_faults(drop=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        ocr(client, "comm", token, jpeg())
    emulator.set_faults(bad_json=1.0)
    response = ocr(client, "comm", token, jpeg())
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    emulator.set_faults()
    assert errcode_of(client, token) == 0
    with pytest.raises(ValueError):
        emulator.set_faults(system_error=0.7, drop=0.7)


def _fault_sequence(seed: int) -> list[int]:
    with (
        WeChatEmulator(seed=seed) as emu,
        httpx.Client(base_url=emu.base_url, trust_env=False) as client,
    ):
        emu.set_faults(system_error=0.5)
        token = emu.issue_token()
        return [errcode_of(client, token) for _ in range(24)]


def test_fault_probabilities_follow_the_seed() -> None:
    first = _fault_sequence(7)
    assert first == _fault_sequence(7)
    assert set(first) == {0, -1}
    assert first != _fault_sequence(8)


# --- quotas and counters --------------------------------------------------------------
def test_minute_quota(emulator: WeChatEmulator, client: httpx.Client, token: str) -> None:
    emulator.minute_quota = 2
    assert [errcode_of(client, token) for _ in range(3)] == [0, 0, 45011]
    emulator.reset_minute()
    assert errcode_of(client, token) == 0
    assert emulator.total_billed == 3  # refused calls never reached the platform


def test_minute_window_rolls_over(
    emulator: WeChatEmulator, client: httpx.Client, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator_module, "MINUTE_WINDOW", 0.3)
    emulator.minute_quota = 1
    assert [errcode_of(client, token) for _ in range(2)] == [0, 45011]
    time.sleep(0.35)
    assert errcode_of(client, token) == 0


def test_daily_and_market_quota(emulator: WeChatEmulator, client: httpx.Client, token: str) -> None:
    emulator.daily_quota = 2
    assert [errcode_of(client, token) for _ in range(3)] == [0, 0, 45009]
    emulator.reset_day()
    assert errcode_of(client, token) == 0
    emulator.daily_quota = None
    emulator.market_quota = 1  # one call already made today
    assert errcode_of(client, token) == 101003
    emulator.reset_day()
    assert [errcode_of(client, token) for _ in range(2)] == [0, 101003]
    emulator.minute_quota = 0  # the minute quota is checked before the daily ones
    assert errcode_of(client, token) == 45011


def test_billed_and_request_counters(
    emulator: WeChatEmulator, client: httpx.Client, token: str
) -> None:
    a, b = jpeg(1), jpeg(2)
    for image in (a, a, b):
        assert errcode_of(client, token, image) == 0
    ocr(client, "idcard", "bad-token", a)
    ocr(client, "idcard", token)  # no image: billed under ""
    get_token(client, emulator)
    assert emulator.billed == {sha(a): 2, sha(b): 1, "": 1}
    assert emulator.total_billed == 4
    assert emulator.requests == 6
    assert emulator.token_calls == {"token": 1}
    emulator.reset_counters()
    assert (emulator.total_billed, emulator.requests, emulator.token_calls) == (0, 0, {})


# --- concurrency, robustness, life cycle ----------------------------------------------
def test_latency_is_waited_in_parallel() -> None:
    async def run(emu: WeChatEmulator) -> list[int]:
        token = emu.issue_token()
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=emu.base_url, limits=limits, trust_env=False) as c:

            async def one(i: int) -> int:
                files = {"img": ("a.jpg", jpeg(i), "image/jpeg")}
                response = await c.post("/cv/ocr/comm", params={"access_token": token}, files=files)
                return int(response.json()["errcode"])

            return await asyncio.gather(*(one(i) for i in range(64)))

    with WeChatEmulator(latency=0.2) as emu:
        started = time.monotonic()
        codes = asyncio.run(run(emu))
        elapsed = time.monotonic() - started
    assert codes == [0] * 64
    assert 0.2 <= elapsed < 2.0  # serially this would take 64 * 0.2 = 12.8 s


def _exchange(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while read and (chunk := sock.recv(65536)):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"\x00\x01\x02 garbage \xff\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"400"),
        (b"POST /cv/ocr/comm HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", b"400"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET http://[::1/ HTTP/1.1\r\n\r\n", b"400"),
        (b"GET * HTTP/1.1\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\nHost: x", b"400"),  # head cut short
    ],
)
def test_malformed_requests_are_refused(
    emulator: WeChatEmulator, request_bytes: bytes, status: bytes
) -> None:
    assert _exchange(emulator.port, request_bytes).startswith(b"HTTP/1.1 " + status)


def test_garbage_never_kills_the_server(
    emulator: WeChatEmulator, client: httpx.Client, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(0)
    valid = b"POST /cv/ocr/comm?access_token=x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd"
    for i in range(150):
        if i % 2:
            blob = rng.randbytes(rng.randint(1, 3000))
        else:  # a valid request with a few bytes flipped
            flipped = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            blob = bytes(flipped)
        _exchange(emulator.port, blob)
    _exchange(emulator.port, b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort", read=False)
    assert errcode_of(client, token) == 0
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        rest += sock.recv(65536)
    buffer[:] = rest[length:]
    return head, rest[:length]


def test_keep_alive_pipelining_and_expect_continue(emulator: WeChatEmulator) -> None:
    request = b"GET /cv/ocr/idcard HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        buffer = bytearray()
        sock.sendall(request + request)  # two requests in one segment
        for _ in range(2):
            head, body = _read_response(sock, buffer)
            assert b"Connection: keep-alive" in head and json.loads(body)["errcode"] == 43002
        sock.sendall(b"POST /cgi-bin/stable_token HTTP/1.1\r\nExpect: 100-continue\r\n")
        sock.sendall(b"Content-Length: 2\r\n\r\n")
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        assert bytes(buffer).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        del buffer[: len(b"HTTP/1.1 100 Continue\r\n\r\n")]
        sock.sendall(b"{}")
        _, body = _read_response(sock, buffer)
        assert json.loads(body)["errcode"] == 40002
    closing = _exchange(emulator.port, b"GET / HTTP/1.0\r\n\r\n")  # 1.0: closed after answering
    assert closing.startswith(b"HTTP/1.1 404") and b"Connection: close" in closing
    assert emulator.requests == 4


def test_stop_with_requests_in_flight_is_clean(caplog: pytest.LogCaptureFixture) -> None:
    emu = WeChatEmulator(latency=5.0).start()
    token = emu.issue_token()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=emu.base_url, trust_env=False) as client:
                ocr(client, "comm", token, jpeg())
        except httpx.HTTPError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    while emu.requests < 4:
        time.sleep(0.01)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2.0
    for t in threads:
        t.join(5)
    assert len(errors) == 4
    gc.collect()  # an unclosed socket or transport would now raise ResourceWarning
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    emu.stop()  # stopping twice is harmless


def test_life_cycle() -> None:
    emu = WeChatEmulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url
    assert repr(emu) == "<WeChatEmulator stopped>"
    with emu:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.base_url)
        assert emu.base_url in repr(emu)
        with pytest.raises(RuntimeError, match="already running"):
            emu.start()
    with emu, httpx.Client(base_url=emu.base_url, trust_env=False) as client:  # restartable
        assert errcode_of(client, emu.issue_token()) == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            WeChatEmulator(port=taken.getsockname()[1]).start()


def test_serve_command_runs_until_sigterm() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "ocr_frames.testing", "serve", "--appid", "wx_cli"]
    with subprocess.Popen(
        [*command, "--secret", "cli-secret", "--latency", "0.01"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base_url = lines[0].removeprefix("base_url: ").strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url), lines
        assert lines[1] == "appid: wx_cli\n"
        assert lines[2].startswith("secret: cli-secret") and "fake" in lines[2]
        params = {"grant_type": "client_credential", "appid": "wx_cli", "secret": "cli-secret"}
        body = httpx.get(f"{base_url}/cgi-bin/token", params=params, trust_env=False).json()
        assert len(body["access_token"]) >= 64
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_public_names() -> None:
    assert testing.__all__ == sorted(testing.__all__)
    for name in testing.__all__:
        assert getattr(testing, name) is not None
    assert {"string_errcode", "text_plain", "vhicle_type", "bankcard_id"} == testing.QUIRKS
    make: Callable[..., WeChatEmulator] = WeChatEmulator
    with pytest.raises(TypeError):
        make("wx", "secret")  # configuration is keyword-only
