"""The URL policy of image downloads (SSRF): link-local and cloud-metadata addresses are
refused on every hop, before any connection; ``url_private=False`` refuses loopback and
private networks too; ``url_allow_hosts`` lets named hosts through.

Only loopback is ever contacted: a loopback server stands in for an internal host, and the
link-local/metadata literals are refused before a socket is opened (the tests check that
the refusal is immediate).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._errors import E_URL_REFUSED, LOCAL_CODES
from ocr_frames.sources import Source, UrlPolicy, download, load_sources
from ocr_frames.testing import WeChatEmulator

from .conftest import make_png
from .netservers import ImageServer

PNG = make_png(21)


def load(values: list[Any], **policy: Any) -> list[Source]:
    return asyncio.run(load_sources(values, url_policy=UrlPolicy(**policy), download_timeout=3))


@pytest.fixture
def images() -> Any:
    with ImageServer(PNG) as server:
        yield server


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254:9/latest/meta-data/",
        "https://169.254.1.1:9/x",
        "http://100.100.100.200:9/latest/meta-data/",
        "http://[fd00:ec2::254]:9/latest/",
        "http://[fe80::1]:9/x",
        "http://[::ffff:169.254.169.254]:9/x",
        "http://[64:ff9b::a9fe:a9fe]:9/x",
        # other spellings of 169.254.169.254, caught because the resolved address is checked
        "http://2852039166:9/latest/",
        "http://0xa9fea9fe:9/latest/",
        "http://169.254.43518:9/latest/",
    ],
)
def test_link_local_and_metadata_literals_are_refused_before_connecting(url: str) -> None:
    started = time.monotonic()
    [got] = load([url])
    assert time.monotonic() - started < 0.5  # no connection attempt, no timeout waited
    assert got.errcode == E_URL_REFUSED and not got.ok and "refused" in got.errmsg


def test_loopback_is_allowed_by_default_and_refused_with_url_private_false(
    images: ImageServer,
) -> None:
    url = f"{images.url}/img/a.png"
    assert load([url])[0].sha256 is not None
    assert images.paths == ["/img/a.png"]
    for target in (url, f"http://localhost:{images.port}/img/a.png"):
        got = load([target], private=False)[0]
        assert got.errcode == E_URL_REFUSED
    assert images.paths == ["/img/a.png"]  # the refused ones never reached it


def test_a_redirect_from_an_allowed_host_to_a_refused_one_is_refused(images: ImageServer) -> None:
    inner = f"http://localhost:{images.port}/img/b.png"
    url = f"{images.url}/to?u={quote(inner)}"
    got = load([url], private=False, allow_hosts=["127.0.0.1"])[0]
    assert got.errcode == E_URL_REFUSED
    assert images.paths == ["/to"]  # the redirect was asked, its target never
    got = load([url], private=False, allow_hosts=["127.0.0.1", "LOCALHOST."])[0]
    assert got.ok and got.data == PNG
    assert images.paths == ["/to", "/to", "/img/b.png"]


def test_a_redirect_into_the_metadata_service_is_refused_by_default(images: ImageServer) -> None:
    url = f"{images.url}/to?u={quote('http://169.254.169.254:9/latest/meta-data/')}"
    started = time.monotonic()
    got = load([url])[0]
    assert got.errcode == E_URL_REFUSED and time.monotonic() - started < 0.5
    assert "after 1 redirect" in got.errmsg


def test_the_refusal_says_nothing_about_the_target(images: ImageServer) -> None:
    with ImageServer(PNG) as gone:
        closed = gone.port
    live = f"http://127.0.0.1:{images.port}/img/a.png"
    dead = f"http://127.0.0.1:{closed}/img/a.png"
    missing = f"http://127.0.0.1:{images.port}/nothing-here"
    messages = [
        load([url], private=False)[0].errmsg.replace(url, "URL") for url in (live, dead, missing)
    ]
    assert messages[0] == messages[1] == messages[2], messages
    assert images.lines == []


def test_allowed_hosts_are_names_or_addresses() -> None:
    policy = UrlPolicy(allow_hosts=["Example.COM.", "[::1]", "127.0.0.1"])
    assert policy.allow_hosts == frozenset({"example.com", "::1", "127.0.0.1"})
    for bad in ("http://example.com", "example.com/path", "example.com:80", "", "a b"):
        with pytest.raises(of.ConfigurationError):
            UrlPolicy(allow_hosts=[bad])
    with pytest.raises(of.ConfigurationError):
        UrlPolicy(allow_hosts="example.com")  # a string, not a list of hosts


def test_a_client_of_your_own_is_checked_too() -> None:
    async def run() -> Source:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await download(
                "http://169.254.169.254:9/latest/", client=client, timeout=3, url_policy=UrlPolicy()
            )

    started = time.monotonic()
    assert asyncio.run(run()).errcode == E_URL_REFUSED
    assert time.monotonic() - started < 0.5


def test_passthrough_urls_are_left_to_the_platform() -> None:
    url = "http://169.254.169.254/latest/"
    got = asyncio.run(load_sources([url], url_mode="passthrough", url_policy=UrlPolicy()))
    assert got == [Source(data=None, sha256=None, url=url)]


def test_the_code_is_listed() -> None:
    assert "refused" in LOCAL_CODES[E_URL_REFUSED]
    proc = subprocess.run(
        [sys.executable, "-m", "ocr_frames.cli", "codes"], capture_output=True, text=True
    )
    assert f"{E_URL_REFUSED}  local" in proc.stdout


def test_the_options_reach_every_entry_point(images: ImageServer, tmp_path: Path) -> None:
    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        common: dict[str, Any] = {"engine": engine, "cache_dir": False, "progress": False}
        df = of.recognize([url], "idcard", url_private=False, **common)
        assert df["errcode"].tolist() == [E_URL_REFUSED]
        table = of.recognize_arrow([url], "idcard", url_private=False, **common)
        assert table.column("errcode").to_pylist() == [E_URL_REFUSED]
        out = tmp_path / "o.parquet"
        of.recognize_to_parquet([url], "idcard", out, url_private=False, **common)
        assert pq.read_table(out).column("errcode").to_pylist() == [E_URL_REFUSED]
        assert emu.total_billed == 0 and images.lines == []
        df = of.recognize(
            [url], "idcard", url_private=False, url_allow_hosts=["127.0.0.1"], **common
        )
        assert df["errcode"].tolist() == [0] and emu.total_billed == 1


def test_dask_passes_the_options(images: ImageServer) -> None:
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    import ocr_frames.dask

    url = f"{images.url}/img/a.png"
    ddf = dd.from_pandas(pd.DataFrame({"path": [url, url]}), npartitions=1)
    with WeChatEmulator() as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        out = ocr_frames.dask.recognize(
            ddf, "path", "idcard", engine=engine, cache_dir=False, url_private=False
        ).compute(scheduler="sync")
        assert out["errcode"].tolist() == [E_URL_REFUSED] * 2
        out = ocr_frames.dask.recognize(
            ddf,
            "path",
            "idcard",
            engine=engine,
            cache_dir=False,
            url_private=False,
            url_allow_hosts=["127.0.0.1"],
        ).compute(scheduler="sync")
        assert out["errcode"].tolist() == [0, 0]


def test_cli_flags(images: ImageServer, tmp_path: Path) -> None:
    from .test_cli import _env

    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu:
        env = _env(emu, tmp_path)
        base = [sys.executable, "-m", "ocr_frames.cli", "run", "-", "--kind", "idcard"]
        base += ["--out", str(tmp_path / "o.parquet"), "--no-progress", "--no-cache"]

        def run(*flags: str) -> list[int]:
            proc = subprocess.run(
                [*base, *flags], env=env, input=url + "\n", capture_output=True, text=True
            )
            assert proc.returncode == 0, proc.stderr
            return [int(c) for c in pq.read_table(tmp_path / "o.parquet")["errcode"].to_pylist()]

        assert run("--no-url-private") == [E_URL_REFUSED]
        assert run("--no-url-private", "--url-allow-host", "127.0.0.1") == [0]
        assert run() == [0]


def test_dry_run_applies_the_policy_too(images: ImageServer, tmp_path: Path) -> None:
    from .test_cli import _env

    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu:
        env = _env(emu, tmp_path)
        base = [sys.executable, "-m", "ocr_frames.cli", "run", "-", "--kind", "idcard"]
        base += ["--out", str(tmp_path / "o.parquet"), "--dry-run"]

        def dry(*flags: str) -> str:
            proc = subprocess.run(
                [*base, *flags], env=env, input=url + "\n", capture_output=True, text=True
            )
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        assert "1 unreadable or invalid (never sent), 0 cached" in dry("--no-url-private")
        assert images.paths == []  # refused before any connection
        assert "0 unreadable or invalid (never sent), 0 cached" in dry()
        assert images.paths == ["/img/a.png"]
