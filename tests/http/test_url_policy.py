"""The URL policy of image downloads (SSRF): link-local and cloud-metadata addresses are
refused on every hop, before any connection; ``url_private=False`` refuses loopback and
private networks too; ``url_allow_hosts`` lets named hosts through.

Only loopback is ever contacted: a loopback server stands in for an internal host, and the
link-local/metadata literals are refused before a socket is opened (the tests check that
the refusal is immediate).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow.parquet as pq
import pytest
from httpx._transports.default import _load_httpcore_exceptions

import ocr_frames as of
from ocr_frames._errors import E_URL_REFUSED, LOCAL_CODES
from ocr_frames._http.urlpolicy import UrlPolicy, _as_httpx_errors
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.download import download
from ocr_frames._sources.source import Source
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png
from tests.netservers import ImageServer

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
        "http://[64:ff9b:1::a9fe:a9fe]:9/x",  # local-use NAT64
        "http://[64:ff9b:1:a9fe:a9:fe00::]:9/x",  # the same, RFC 6052 /48 layout
        "http://[2002:a9fe:a9fe::1]:9/x",  # 6to4
        "http://[::a9fe:a9fe]:9/x",  # IPv4-compatible
        "http://192.0.0.192:9/opc/v2/instance/",  # Oracle Cloud metadata
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
    from tests.helpers import cli_env

    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu:
        env = cli_env(emu, tmp_path / "cache")
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
    from tests.helpers import cli_env

    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu:
        env = cli_env(emu, tmp_path / "cache")
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


# --- embedded IPv4 forms, proxies, fsspec values, dry runs --------------------------------


# Checked on the policy alone: connecting to these would send packets off this machine.
@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("192.0.0.192", True),  # Oracle Cloud metadata
        ("64:ff9b:1::a9fe:a9fe", True),  # local-use NAT64 (RFC 8215), /96 layout
        ("64:ff9b:1:a9fe:a9:fe00::", True),  # the same, /48 layout (RFC 6052: u-octet skipped)
        ("64:ff9b:1:0:a9:fea9:fe00:0", True),  # /64 layout
        ("2002:a9fe:a9fe::1", True),  # 6to4
        ("::a9fe:a9fe", True),  # IPv4-compatible
        ("::7f00:1", False),
        ("64:ff9b:1::7f00:1", False),
        ("2002:7f00:1::1", False),
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
    ],
)
def test_embedded_ipv4_forms_are_judged_as_their_ipv4(address: str, private: bool) -> None:
    assert UrlPolicy(private=private).refusal(address) is not None
    if not private:  # loopback and private networks are allowed by default
        assert UrlPolicy().refusal(address) is None


@pytest.mark.parametrize("address", ["::1", "::", "2002:808:808::1", "64:ff9b:1::808:808"])
def test_embedded_forms_of_allowed_addresses_stay_allowed(address: str) -> None:
    assert UrlPolicy().refusal(address) is None


class _ConnectTrap:
    """A TCP listener on 127.0.0.1 that counts the connections it receives (and closes each
    at once, so a client fails fast); :meth:`connections` is exact, not timing-dependent."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._peers: list[Any] = []
        self._sentinel: Any = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            conn, peer = self._sock.accept()
            conn.close()
            if peer == self._sentinel:
                self._stopped.set()
                return
            self._peers.append(peer)

    def connections(self) -> int:
        """Connections received before this call (the backlog is first in, first out: a
        sentinel connection accepted last proves none is still waiting)."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._sentinel = probe.getsockname()
            probe.connect(("127.0.0.1", self.port))
            assert self._stopped.wait(10)
        self._thread.join(10)
        self._sock.close()
        return len(self._peers)


def test_fsspec_network_protocols_are_refused_before_connecting() -> None:
    trap = _ConnectTrap()
    target = f"127.0.0.1:{trap.port}"
    values = [f"ftp://{target}/x.png", f"simplecache::ftp://{target}/x.png"]
    values += [f"http::http://{target}/x", f"zip://a.png::ftp://{target}/a.zip"]
    values += [f"blockcache::https://{target}/x.png", f"FTP://{target}/x.png"]
    values += [f"sftp://{target}/x.png", f"hdfs://{target}/x.png", f"webdav://{target}/x"]
    got = load(values, private=False) + load(values)  # refused whatever url_private says
    assert trap.connections() == 0
    assert [s.errcode for s in got] == [E_URL_REFUSED] * len(got), [s.errmsg for s in got]
    assert all(s.errmsg.startswith("URL refused: ") for s in got)
    # the same words for a live target and a dead one (no oracle)
    dead = "ftp://127.0.0.1:9/x.png"
    assert got[0].errmsg.replace(values[0], "V") == load([dead])[0].errmsg.replace(dead, "V")


def test_fsspec_chain_into_the_metadata_service_is_refused_by_default() -> None:
    started = time.monotonic()
    values = ["simplecache::http://169.254.169.254/latest/meta-data/", "reference::memory://r"]
    got = load(values)
    assert [s.errcode for s in got] == [E_URL_REFUSED] * 2
    assert time.monotonic() - started < 0.5


def test_fsspec_network_protocol_to_an_allowed_host_is_read() -> None:
    trap = _ConnectTrap()
    got = load([f"ftp://127.0.0.1:{trap.port}/x.png"], allow_hosts=["127.0.0.1"])
    assert trap.connections() == 1  # the backend connected (and failed on the closed socket)
    assert got[0].errcode != E_URL_REFUSED and not got[0].ok


def test_fsspec_storage_protocols_are_still_read() -> None:
    fsspec = pytest.importorskip("fsspec")
    with fsspec.open("memory://policy/a.png", "wb") as handle:
        handle.write(PNG)
    got = load(["memory://policy/a.png", "simplecache::memory://policy/a.png"], private=False)
    assert [s.data for s in got] == [PNG, PNG]


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name this process resolves; ``*.invalid`` fails here, with no DNS query."""
    names: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        names.append(name)
        if name.rstrip(".").endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_through_a_proxy_the_target_name_is_not_resolved_here(resolved: list[str]) -> None:
    from ocr_frames._http.urlpolicy import download_client

    url = "http://no-such-host.invalid/img/x.png"
    policy = UrlPolicy(private=False)

    async def run(proxy: str, values: list[str]) -> list[Source]:
        async with download_client(policy, proxy=proxy) as client:
            return await load_sources(values, client=client, url_policy=policy)

    with ImageServer(PNG) as proxy:  # answers absolute-form requests itself: a proxy
        [got] = asyncio.run(run(proxy.url, [url]))
        assert got.ok and got.data == PNG
        assert proxy.lines == [f"GET {url}"]
        assert "no-such-host.invalid" not in resolved
        # address literals are still checked, in every spelling a resolver would accept
        literals = ["http://169.254.169.254/x", "http://2130706433:9/x", "http://127.1:9/x"]
        literals += ["http://[::ffff:127.0.0.1]:9/x", "http://localhost:9/x"]
        got_all = asyncio.run(run(proxy.url, literals))
        assert [s.errcode for s in got_all] == [E_URL_REFUSED] * len(literals)
        assert proxy.lines == [f"GET {url}"]


def test_dry_run_downloads_through_the_proxy(images: ImageServer, tmp_path: Path) -> None:
    from tests.helpers import cli_env
    from tests.netservers import RecordingProxy

    url = f"{images.url}/img/a.png"
    with WeChatEmulator() as emu, RecordingProxy() as proxy:
        env = cli_env(emu, tmp_path / "cache")
        for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            env.pop(name, None)
            env.pop(name.upper(), None)
        command = [sys.executable, "-m", "ocr_frames.cli", "run", "-", "--kind", "idcard"]
        command += ["--out", str(tmp_path / "o.parquet"), "--dry-run", "--proxy", proxy.url]
        proc = subprocess.run(command, env=env, input=url + "\n", capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "0 unreadable or invalid" in proc.stdout
        assert proxy.lines == [f"GET {url}"]
        assert emu.requests == 0


def test_pinned_transport_maps_httpcore_errors_as_httpx_does() -> None:
    """Our copy of httpx's exception table (no public hook to reuse it) agrees with it."""
    theirs = _load_httpcore_exceptions()
    assert len(theirs) >= 14
    for core_error, httpx_error in theirs.items():
        with pytest.raises(httpx.HTTPError) as info, _as_httpx_errors():
            raise core_error("boom")
        assert type(info.value) is httpx_error and isinstance(info.value.__cause__, core_error)
    with pytest.raises(ValueError), _as_httpx_errors():
        raise ValueError("not httpcore's: passes through")
