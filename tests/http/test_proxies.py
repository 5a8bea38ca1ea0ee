"""Proxies: HTTP(S)_PROXY, ALL_PROXY, NO_PROXY and an explicit ``proxy=`` carry every
request of a run (token, OCR, image download), checked with a recording proxy on loopback.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png
from tests.netservers import ImageServer, RecordingProxy

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)  # urllib ignores HTTP_PROXY in CGI
    return monkeypatch


def _run(emu: WeChatEmulator, images: ImageServer, tmp_path: Path, **engine: str) -> of.RunSummary:
    local = tmp_path / "local.png"
    local.write_bytes(make_png(7))
    eng = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url, **engine)
    summary = of.recognize_to_parquet(
        [f"{images.url}/img/a.png", str(local)],
        "idcard",
        tmp_path / "out.parquet",
        engine=eng,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert summary.ok == 2, summary.line()
    return summary


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_environment_proxy_carries_token_ocr_and_download_requests(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    with RecordingProxy() as proxy, WeChatEmulator() as emu, ImageServer(make_png(1)) as images:
        no_proxy_env.setenv(variable, proxy.url)
        _run(emu, images, tmp_path)
        lines, base_url, image_url = proxy.lines, emu.base_url, images.url
        assert emu.requests == 3 and len(images.lines) == 1
    # every request the servers received came through the proxy, in absolute form
    assert len(lines) == 4, lines
    assert f"POST {base_url}/cgi-bin/stable_token" in lines
    assert sum(line.startswith(f"POST {base_url}/cv/ocr/idcard?") for line in lines) == 2
    assert f"GET {image_url}/img/a.png" in lines


def test_no_proxy_covering_the_host_goes_direct(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with RecordingProxy() as proxy, WeChatEmulator() as emu, ImageServer(make_png(1)) as images:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("NO_PROXY", "localhost,127.0.0.1")
        _run(emu, images, tmp_path)
        assert emu.requests == 3 and len(images.lines) == 1
    assert proxy.lines == []


def test_https_proxy_alone_leaves_http_urls_direct(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with RecordingProxy() as proxy, WeChatEmulator() as emu, ImageServer(make_png(1)) as images:
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        _run(emu, images, tmp_path)
    assert proxy.lines == []


def test_explicit_proxy_without_environment(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with RecordingProxy() as proxy, WeChatEmulator() as emu, ImageServer(make_png(1)) as images:
        secret_proxy = proxy.url.replace("http://", "http://alice:pr0xy-s3cret@")
        no_proxy_env.setenv("NO_PROXY", "*")  # the explicit proxy wins, as in httpx
        _run(emu, images, tmp_path, proxy=secret_proxy)
        lines, headers, image_url = proxy.lines, proxy.headers, images.url
        engine = of.WeChatEngine(access_token="t", base_url=emu.base_url, proxy=secret_proxy)
    assert len(lines) == 4 and f"GET {image_url}/img/a.png" in lines
    credentials = base64.b64encode(b"alice:pr0xy-s3cret").decode()
    assert all(h.get("proxy-authorization") == f"Basic {credentials}" for h in headers)
    # the credentials are sent to the proxy and shown nowhere else
    assert "pr0xy-s3cret" not in repr(engine) and "alice" not in repr(engine)
    assert proxy.url.removeprefix("http://") in repr(engine)
    assert "pr0xy-s3cret" not in caplog.text and credentials not in caplog.text


def test_a_dead_proxy_is_a_row_error_without_its_credentials(
    no_proxy_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with RecordingProxy() as dead:
        url = dead.url.replace("http://", "http://bob:d3ad-s3cret@")
    engine = of.WeChatEngine(access_token="t", base_url="http://127.0.0.1:9", proxy=url)
    df = of.recognize(
        [make_png(3)],
        "idcard",
        engine=engine,
        cache_dir=False,
        progress=False,
        retry=of.RetryPolicy(max_attempts=1),
    )
    assert df["errcode"].tolist() == [900009]
    assert "d3ad-s3cret" not in df["errmsg"][0] and "bob" not in df["errmsg"][0]


def test_bad_proxy_urls_are_configuration_errors_without_credentials() -> None:
    with pytest.raises(of.ConfigurationError) as info:
        of.WeChatEngine(access_token="t", proxy="gopher://eve:s3cret@127.0.0.1:9")
    assert "s3cret" not in str(info.value) and "gopher" in str(info.value)
    with pytest.raises(of.ConfigurationError, match="proxy"):
        of.WeChatEngine(
            access_token="t",
            proxy="http://127.0.0.1:9",
            client_options={"transport": httpx.MockTransport(lambda r: httpx.Response(200))},
        )


def test_from_env_takes_an_explicit_proxy(no_proxy_env: pytest.MonkeyPatch) -> None:
    engine = of.WeChatEngine.from_env({"WECHAT_ACCESS_TOKEN": "t"}, proxy="http://127.0.0.1:9")
    assert engine.proxy == "http://127.0.0.1:9"
    assert of.WeChatEngine.from_env({"WECHAT_ACCESS_TOKEN": "t"}).proxy is None


@pytest.mark.parametrize(
    "environment",
    [
        {"HTTP_PROXY": "http://p:1"},
        {"https_proxy": "p:2", "NO_PROXY": "example.com, .corp,::1,10.0.0.1,localhost"},
        {"ALL_PROXY": "http://u:pw@p:3", "no_proxy": "http://skip.me,*.wild"},
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "a,*"},
        {"NO_PROXY": "only.this"},
        {},
    ],
)
def test_environment_routes_are_httpx_own(
    no_proxy_env: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    """Drift alarm: the routes are those httpx.AsyncClient(trust_env=True) builds."""
    from httpx._utils import get_environment_proxies  # private: used here only as a reference

    from ocr_frames._http.proxies import environment_proxies

    for name, value in environment.items():
        no_proxy_env.setenv(name, value)
    assert environment_proxies() == get_environment_proxies()


def test_cli_run_takes_a_proxy(no_proxy_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.helpers import cli_env

    image = tmp_path / "a.png"
    image.write_bytes(make_png(5))
    with RecordingProxy() as proxy, WeChatEmulator() as emu:
        env = cli_env(emu, tmp_path / "cache")
        for name in PROXY_VARIABLES:
            env.pop(name, None)
            env.pop(name.upper(), None)
        cmd = [sys.executable, "-m", "ocr_frames.cli", "run", str(image), "--kind", "idcard"]
        cmd += ["--out", str(tmp_path / "o.parquet"), "--no-progress", "--proxy", proxy.url]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        lines, base_url = proxy.lines, emu.base_url
    assert len(lines) == 2 and all(line.startswith(f"POST {base_url}/") for line in lines)
