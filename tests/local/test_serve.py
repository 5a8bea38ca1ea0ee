"""``ocr-frames serve``: the WeChat protocol on loopback, answered by an engine.

Protocol tests use a stub engine (fast, exact); one test sends a real sample image through
the real WeChat client to the local engine, one runs the command in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import ocr_frames as of
from ocr_frames._errors import E_ENGINE, ConfigurationError
from ocr_frames.local import LocalServer
from ocr_frames.testing import WeChatEmulator
from ocr_frames.wechat import WeChatClient
from tests.helpers import ScriptedEngine

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


ANSWERS: dict[str, dict[str, Any]] = {
    "bankcard": {"errcode": 0, "errmsg": "ok", "rid": None, "number": "6222021234567890123"},
    "menu": {
        "errcode": 0,
        "errmsg": "ok",
        "rid": None,
        "menu_items": [{"name": "酱鸭", "price": 48.0}],
    },
    "idcard": {"errcode": 101001, "errmsg": "certificate not found", "rid": None},
    "platenum": {"errcode": E_ENGINE, "errmsg": "local engine failed: boom", "rid": None},
}


@pytest.fixture
def seen() -> list[tuple[str, bytes | None]]:
    """What the stub engine was asked, in order."""
    return []


@pytest.fixture
def stub(seen: list[tuple[str, bytes | None]]) -> ScriptedEngine:
    """Answers from ``ANSWERS`` by kind."""

    def reply(kind: str, image: bytes | None) -> dict[str, Any]:
        seen.append((kind, image))
        return ANSWERS[kind]

    return ScriptedEngine(reply, identity="stub")


@pytest.fixture
def server(stub: ScriptedEngine) -> Iterator[LocalServer]:
    with LocalServer(stub) as running:
        yield running


def test_wechat_client_code_works_unchanged(
    server: LocalServer, seen: list[tuple[str, bytes | None]]
) -> None:
    with WeChatClient(appid="wx-any", secret="any-secret", base_url=server.base_url) as client:
        assert client.ocr("bankcard", PNG)["number"] == "6222021234567890123"
        assert client.ocr("menu", PNG)["menu_items"] == [{"name": "酱鸭", "price": 48.0}]
        not_found = client.request("idcard", PNG)
        failed = client.request("platenum", PNG)
    assert (not_found["errcode"], not_found["errmsg"]) == (101001, "certificate not found")
    assert not_found["rid"]  # the platform's "rid: ..." suffix, split off by the client
    assert failed["errcode"] == -1  # an engine failure is the platform's system error
    assert seen[0] == ("bankcard", PNG)


def test_menu_content_is_a_json_string_on_the_wire(server: LocalServer) -> None:
    token = httpx.get(
        f"{server.base_url}/cgi-bin/token",
        params={"grant_type": "client_credential", "appid": "a", "secret": "s"},
    ).json()["access_token"]
    body = httpx.post(
        f"{server.base_url}/cv/ocr/menu", params={"access_token": token}, files={"img": PNG}
    ).json()
    assert json.loads(body["content"]) == {"menu_items": [{"name": "酱鸭", "price": 48.0}]}
    assert "rid" not in body and body["errcode"] == 0


def test_protocol_errors(server: LocalServer) -> None:
    base = server.base_url
    stable = httpx.post(
        f"{base}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "a", "secret": "s"},
    ).json()
    token = stable["access_token"]
    again = httpx.post(
        f"{base}/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "a", "secret": "s"},
    ).json()
    assert again["access_token"] == token and stable["expires_in"] > 7000

    def code(response: httpx.Response) -> int:
        return int(response.json()["errcode"])

    missing = {"grant_type": "client_credential", "secret": "s"}
    assert code(httpx.get(f"{base}/cgi-bin/token", params=missing)) == 41002
    ocr = f"{base}/cv/ocr/bankcard"
    assert code(httpx.get(ocr, params={"access_token": token})) == 43002
    assert code(httpx.post(ocr, files={"img": PNG})) == 41001
    assert code(httpx.post(ocr, params={"access_token": "nope"}, files={"img": PNG})) == 40001
    assert code(httpx.post(ocr, params={"access_token": token})) == 44002
    big = PNG + b"\0" * (2 * 1024 * 1024)
    assert code(httpx.post(ocr, params={"access_token": token}, files={"img": big})) == 101002
    assert httpx.post(f"{base}/cv/ocr/passport", params={"access_token": token}).status_code == 404


def test_only_loopback_addresses_are_served(stub: ScriptedEngine) -> None:
    with pytest.raises(ConfigurationError):
        LocalServer(stub, host="0.0.0.0")


def test_real_image_through_the_wechat_engine_to_the_local_engine(tmp_path: Path) -> None:
    name = "bankcard/bankcard_03.jpg"
    truth = json.loads((SAMPLES / "truth.json").read_text("utf-8"))[name]
    with LocalServer() as server:
        engine = of.WeChatEngine(appid="wx-any", secret="any", base_url=server.base_url)
        df = of.recognize([str(SAMPLES / name)], "bankcard", engine=engine, cache_dir=False)
    assert df.loc[0, "number"] == truth["answer"]["number"]
    assert df.loc[0, "errcode"] == 0


def test_serve_command_until_sigterm() -> None:
    command = [sys.executable, "-m", "ocr_frames.cli", "serve", "--engine", "local", "--port", "0"]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            line = process.stdout.readline()
            assert line.startswith("base_url: http://127.0.0.1:"), line + process.stderr.read()
            base_url = line.split(": ", 1)[1].strip()
            image = (SAMPLES / "platenum/platenum_01.jpg").read_bytes()
            with WeChatClient(appid="wx-any", secret="any", base_url=base_url) as client:
                assert client.ocr("platenum", image)["number"] == "粤B12345"
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
    assert process.returncode == 0


# (method, path, query, body) -> the platform's errcode, from both servers alike
PROTOCOL_ERRORS: list[tuple[str, str, dict[str, str], bytes, int]] = [
    ("GET", "/cgi-bin/stable_token", {}, b"", 43002),
    ("POST", "/cgi-bin/stable_token", {}, b"{not json", 47001),
    ("POST", "/cgi-bin/stable_token", {}, b"[1, 2]", 47001),
    ("GET", "/cgi-bin/token", {"appid": "a", "secret": "s"}, b"", 40002),
    ("GET", "/cgi-bin/token", {"grant_type": "client_credential", "secret": "s"}, b"", 41002),
    ("GET", "/cv/ocr/comm", {}, b"", 43002),
    ("POST", "/cv/ocr/comm", {}, b"", 41001),
    ("POST", "/cv/ocr/comm", {"access_token": "never-issued"}, b"", 40001),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "errcode"), PROTOCOL_ERRORS)
def test_serve_and_the_emulator_speak_one_protocol(
    server: LocalServer, method: str, path: str, query: dict[str, str], body: bytes, errcode: int
) -> None:
    """The same malformed calls get the same errcodes from both (one ProtocolServer)."""
    with WeChatEmulator() as emu:
        for base_url in (server.base_url, emu.base_url):
            answer = httpx.request(method, base_url + path, params=query, content=body)
            assert answer.status_code == 200 and answer.json()["errcode"] == errcode
            assert " rid: " in answer.json()["errmsg"]
        for base_url in (server.base_url, emu.base_url):
            assert httpx.post(f"{base_url}/cv/ocr/passport").status_code == 404
