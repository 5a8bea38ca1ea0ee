"""Tests of ocr_frames._sources: classification, sniffing, local files, downloads, batches.

Downloads talk to a real ThreadingHTTPServer on 127.0.0.1 (started by a fixture).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import http.server
import os
import socket
import stat
import struct
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ocr_frames import _errors as E
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.classify import classify
from ocr_frames._sources.download import download
from ocr_frames._sources.limits import MAX_IMAGE_BYTES
from ocr_frames._sources.read import load_local
from ocr_frames._sources.sniff import sniff_image
from ocr_frames._sources.source import Source
from tests.helpers import make_png, serving

# --- tiny valid images, built without Pillow -------------------------------------------

# A hand-built baseline JPEG: 8x8 grey, one DC-only block (DQT, SOF0, two one-code DHTs,
# SOS, one entropy byte, EOI).
JPEG = bytes.fromhex(
    "ffd8ffdb0043000101010101010101010101010101010101010101010101010101010101010101"
    "01010101010101010101010101010101010101010101010101010101ffc0000b080008000801011100"
    "ffc40014000100000000000000000000000000000000ffc40014100100000000000000000000000000"
    "000000ffda0008010100003f003fffd9"
)
GIF = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
)
BMP = (
    b"BM"
    + struct.pack("<IHHI", 58, 0, 0, 54)
    + struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, 4, 2835, 2835, 0, 0)
    + b"\x00\x00\xff\x00"
)
WEBP = b"RIFF" + struct.pack("<I", 26) + b"WEBPVP8L" + struct.pack("<I", 10) + bytes(10)
TIFF = b"II*\x00" + struct.pack("<I", 8) + bytes(16)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    body = tag + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_header(width: int, height: int) -> bytes:
    """PNG signature and IHDR only: enough for the sniffer."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)


def jpeg_of(size: int) -> bytes:
    """A JPEG-looking byte string of exactly ``size`` bytes (SOI ... EOI)."""
    return JPEG[:-2] + bytes(size - len(JPEG)) + b"\xff\xd9"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_printable(message: str) -> None:
    """Messages must print, encode as UTF-8 and never be empty."""
    assert message
    assert message.isprintable(), repr(message)
    message.encode("utf-8")


# --- classify --------------------------------------------------------------------------


class _PathLike:
    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (float("nan"), "null"),
        (np.nan, "null"),
        (np.float32("nan"), "null"),
        (pd.NA, "null"),
        (pd.NaT, "null"),
        (np.datetime64("NaT"), "null"),
        ("http://example.invalid/a.jpg", "url"),
        ("HTTPS://EXAMPLE.INVALID/A.JPG", "url"),
        ("http:/not-a-url.jpg", "path"),
        ("ftp://example.invalid/a.jpg", "fsspec"),  # any other protocol:// is fsspec
        ("images/a.jpg", "path"),
        ("", "path"),
        (Path("a.jpg"), "path"),
        (_PathLike("a.jpg"), "path"),
        (b"\xff\xd8\xff", "bytes"),
        (bytearray(b"abc"), "bytes"),
        (memoryview(b"abc"), "bytes"),
        (7, "invalid"),
        (1.5, "invalid"),
        (True, "invalid"),
        (object(), "invalid"),
        (["a.jpg"], "invalid"),
    ],
)
def test_classify(value: object, expected: str) -> None:
    assert classify(value) == expected


# --- sniffing --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [JPEG, make_png(0), GIF, BMP, WEBP, TIFF, b"MM\x00*" + bytes(8)])
def test_sniff_accepts_supported_formats(data: bytes) -> None:
    assert sniff_image(data) is None


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (JPEG[:-2], "truncated JPEG"),
        (JPEG[:60], "truncated JPEG"),
        (JPEG[:-2] + bytes(100), "truncated JPEG"),
        (png_header(100_000, 100_000), "decompression bomb"),
        (png_header(9460, 9460), "decompression bomb"),  # 89,491,600 px: just over
        (png_header(0, 10), "0 x 10"),
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "damaged PNG"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"hello, this is text\n", "text file"),
        (b"<!DOCTYPE html><html><body>login</body></html>", "HTML page"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00", "AVIF"),
        (b"PK\x03\x04" + bytes(20), "ZIP"),
        (b"BM" + bytes(30), "unrecognised data"),
        (bytes(range(256)), "unrecognised data"),
    ],
)
def test_sniff_rejects(data: bytes, fragment: str) -> None:
    problem = sniff_image(data)
    assert problem is not None
    assert fragment in problem
    assert_printable(problem)


def test_png_at_the_pixel_limit_is_accepted() -> None:
    # 89,478,485 = 5 x 17,895,697: exactly the limit is fine
    assert sniff_image(png_header(5, 17_895_697)) is None


# --- local values: the bad-input matrix ------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _symlink_loop(folder: Path) -> Path:
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    return folder / "loop.jpg"


BadCase = Callable[[Path], object]

BAD_INPUTS: list[tuple[str, BadCase, int, str]] = [
    ("missing", lambda d: d / "nope.jpg", E.E_MISSING, "file not found"),
    ("parent is a file", lambda d: _write(d / "f", JPEG) / "x.jpg", E.E_MISSING, "not a directory"),
    ("empty string", lambda d: "", E.E_MISSING, "file not found: (empty path)"),
    ("other scheme", lambda d: "nosuchfs://bucket/a.jpg", E.E_BAD_INPUT, "not an fsspec"),
    ("long path", lambda d: d / ("d" * 200) / ("f" * 200 + ".jpg"), E.E_MISSING, "…" + "f" * 100),
    ("directory", lambda d: d, E.E_NOT_A_FILE, "directory"),
    ("empty file", lambda d: _write(d / "e.jpg", b""), E.E_EMPTY, "empty file"),
    ("truncated jpeg", lambda d: _write(d / "t.jpg", JPEG[:-20]), E.E_NOT_IMAGE, "truncated JPEG"),
    ("text as jpg", lambda d: _write(d / "n.jpg", b"name,age\nli,3\n"), E.E_NOT_IMAGE, "text file"),
    ("pdf", lambda d: _write(d / "d.pdf", b"%PDF-1.4\n" + bytes(99)), E.E_NOT_IMAGE, "PDF"),
    ("png bomb", lambda d: _write(d / "b.png", png_header(50_000, 50_000)), E.E_NOT_IMAGE, "bomb"),
    (
        "exactly 2 MB",
        lambda d: _write(d / "x.jpg", jpeg_of(MAX_IMAGE_BYTES)),
        E.E_TOO_LARGE,
        "2.00 MB",
    ),
    ("NUL in path", lambda d: str(d / "a\x00b.jpg"), E.E_UNREADABLE, "NUL"),
    ("name too long", lambda d: d / ("x" * 300 + ".jpg"), E.E_UNREADABLE, "name too long"),
    ("symlink loop", lambda d: _symlink_loop(d), E.E_UNREADABLE, "symbolic links"),
    ("null", lambda d: None, E.E_NULL, "null"),
    ("nan", lambda d: float("nan"), E.E_NULL, "null"),
    ("pd.NA", lambda d: pd.NA, E.E_NULL, "null"),
    ("pd.NaT", lambda d: pd.NaT, E.E_NULL, "null"),
    ("int", lambda d: 42, E.E_BAD_INPUT, "'int'"),
    ("dict", lambda d: {"path": "a.jpg"}, E.E_BAD_INPUT, "'dict'"),
    ("empty bytes", lambda d: b"", E.E_EMPTY, "empty image data"),
    ("text bytes", lambda d: b"not an image", E.E_NOT_IMAGE, "text file"),
    ("too many bytes", lambda d: JPEG + bytes(MAX_IMAGE_BYTES), E.E_TOO_LARGE, "MB"),
    ("url", lambda d: "https://example.invalid/a.jpg", E.E_BAD_INPUT, "load_sources"),
]


@pytest.mark.parametrize(
    ("make", "errcode", "fragment"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_matrix(tmp_path: Path, make: BadCase, errcode: int, fragment: str) -> None:
    source = load_local(make(tmp_path))
    assert source.errcode == errcode, source
    assert errcode in E.LOCAL_CODES
    assert not source.ok
    assert source.data is None
    assert fragment in source.errmsg
    assert_printable(source.errmsg)


def test_rejected_but_read_data_keeps_its_sha256(tmp_path: Path) -> None:
    data = b"just text"
    source = load_local(_write(tmp_path / "a.jpg", data))
    assert source.errcode == E.E_NOT_IMAGE
    assert source.sha256 == sha(data)


def test_huge_sparse_file_is_rejected_without_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as f:
        f.truncate(3 * 1024**3)  # 3 GB, sparse: costs no disk

    def no_read(*args: object) -> bytes:
        raise AssertionError("a too-large file was read")

    monkeypatch.setattr(os, "read", no_read)
    started = time.perf_counter()
    source = load_local(path)
    assert time.perf_counter() - started < 1.0
    assert source.errcode == E.E_TOO_LARGE
    assert "3072.00 MB" in source.errmsg
    assert "2.00 MB" in source.errmsg
    assert source.sha256 is None


def test_size_limit_boundary(tmp_path: Path) -> None:
    below = load_local(_write(tmp_path / "below.jpg", jpeg_of(MAX_IMAGE_BYTES - 1)))
    assert below.ok and below.data is not None and len(below.data) == MAX_IMAGE_BYTES - 1
    at_limit = _write(tmp_path / "at.jpg", jpeg_of(MAX_IMAGE_BYTES))

    def no_read(*args: object) -> bytes:
        raise AssertionError("a file of the limit's size was read")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "read", no_read)
        at = load_local(at_limit)
    assert at.errcode == E.E_TOO_LARGE
    small = load_local(_write(tmp_path / "small.jpg", JPEG), max_bytes=len(JPEG))
    assert small.errcode == E.E_TOO_LARGE


def _fstat_reporting(size: int) -> Callable[[int], os.stat_result]:
    real_fstat = os.fstat

    def fake(fd: int) -> os.stat_result:
        info = list(real_fstat(fd))
        info[stat.ST_SIZE] = size
        return os.stat_result(info)

    return fake


def test_file_changing_size_after_fstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grown = _write(tmp_path / "grown.jpg", jpeg_of(50_000))
    shrunk = _write(tmp_path / "shrunk.jpg", jpeg_of(3_000))
    monkeypatch.setattr(os, "fstat", _fstat_reporting(1_000))
    assert load_local(grown).sha256 == sha(jpeg_of(50_000))  # read to the end, not 1,000
    too_big = load_local(grown, max_bytes=20_000)
    assert too_big.errcode == E.E_TOO_LARGE and too_big.sha256 is None
    monkeypatch.setattr(os, "fstat", _fstat_reporting(9_000))
    assert load_local(shrunk).sha256 == sha(jpeg_of(3_000))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_a_file_and_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    source = load_local(fifo)  # opening a FIFO without a writer must not hang
    assert source.errcode == E.E_NOT_A_FILE
    assert "named pipe" in source.errmsg


def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "secret.jpg", JPEG)
    path.chmod(0)
    try:
        if os.geteuid() != 0:
            source = load_local(path)
            code, message = source.errcode, source.errmsg
        else:  # root reads everything: ask again as an unprivileged user, in a fork
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: drop privileges, answer through the pipe, exit
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    child = load_local(path)
                    os.write(write_end, f"{child.errcode}\n{child.errmsg}".encode())
                finally:
                    os._exit(0)
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                answer = pipe.read().decode()
            os.waitpid(pid, 0)
            code_text, _, message = answer.partition("\n")
            code = int(code_text)
    finally:
        path.chmod(0o600)
    assert code == E.E_UNREADABLE
    assert "permission denied" in message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte paths")
def test_non_utf8_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = os.fsencode(tmp_path)
    good = os.path.join(folder, b"\xff-photo.jpg")
    with open(good, "wb") as f:
        f.write(JPEG)
    source = load_local(os.fsdecode(good))
    assert source.ok and source.sha256 == sha(JPEG) and source.data == JPEG
    assert load_local(Path(os.fsdecode(good))).sha256 == sha(JPEG)

    missing = load_local(os.fsdecode(os.path.join(folder, b"\xfe\nmissing.jpg")))
    assert missing.errcode == E.E_MISSING
    assert "\\xfe\\nmissing.jpg" in missing.errmsg
    assert_printable(missing.errmsg)
    print(missing.errmsg)  # must not raise UnicodeEncodeError
    assert "missing.jpg" in capsys.readouterr().out

    bad = _write(tmp_path / "x.jpg", b"text")
    renamed = os.path.join(folder, b"\xfd.jpg")
    os.rename(bad, renamed)
    rejected = load_local(os.fsdecode(renamed))
    assert rejected.errcode == E.E_NOT_IMAGE and "\\xfd.jpg" in rejected.errmsg

    table = pa.table({"errmsg": [missing.errmsg, rejected.errmsg]})
    pq.write_table(table, tmp_path / "errors.parquet")
    assert pq.read_table(tmp_path / "errors.parquet").column("errmsg").to_pylist() == [
        missing.errmsg,
        rejected.errmsg,
    ]


def test_error_messages_never_contain_file_contents(tmp_path: Path) -> None:
    secret = b"SECRET-CONTENT-1234 " * 10
    source = load_local(_write(tmp_path / "x.jpg", secret))
    assert source.errcode == E.E_NOT_IMAGE
    assert "SECRET" not in source.errmsg


# --- local values: good input ----------------------------------------------------------


@pytest.mark.parametrize("data", [JPEG, make_png(0), GIF, BMP, WEBP, TIFF])
def test_good_files_and_bytes(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path / "img", data)
    for value in (path, str(path), _PathLike(str(path)), data, bytearray(data), memoryview(data)):
        source = load_local(value)
        assert source == Source(data=data, sha256=sha(data)), value
        assert source.ok and source.errmsg == "" and source.url is None
        assert type(source.data) is bytes


def test_source_is_frozen() -> None:
    source = Source(data=JPEG, sha256=sha(JPEG))
    with pytest.raises(AttributeError):
        source.errcode = 1  # type: ignore[misc]


# --- the HTTP server ------------------------------------------------------------------

HUGE_TOTAL = 64 * 1024 * 1024
CHUNK = 64 * 1024


class _Server(http.server.ThreadingHTTPServer):
    """Records what was asked and how much of the huge body went out."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stop = threading.Event()
        self.huge_done = threading.Event()
        self.huge_sent = 0
        self.requests: list[str] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-body are expected here."""


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


GZIP_BOMB = _gzip(bytes(50 * 1024 * 1024))


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence."""

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, Location=location)

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = urlsplit(self.path).path
        if path == "/image.jpg":
            self._send(200, JPEG, Content_Type="image/jpeg")
        elif path == "/image.png":
            self._send(200, make_png(seed=1), Content_Type="image/png")
        elif path == "/page.html":
            self._send(200, b"<html><body>Please log in</body></html>", Content_Type="text/html")
        elif path == "/empty":
            self._send(200)
        elif path == "/gzip-image":
            self._send(200, _gzip(JPEG), Content_Encoding="gzip")
        elif path == "/gzip-bomb":
            self._send(200, GZIP_BOMB, Content_Encoding="gzip")
        elif path == "/gzip-cut":
            self._send(200, _gzip(JPEG)[:-12], Content_Encoding="gzip")
        elif path == "/gzip-garbage":
            self._send(200, b"this is not gzip at all", Content_Encoding="gzip")
        elif path == "/brotli":
            self._send(200, b"????", Content_Encoding="br")
        elif path == "/redirect-image":
            self._redirect("/image.jpg?sig=REDIRECT-TOKEN", 301)
        elif path == "/redirect-huge":
            self._redirect("/huge")
        elif path == "/huge":
            self._huge()
        elif path == "/declared-huge":
            self._send(200, JPEG, Content_Length=str(3 * 1024 * 1024))
        elif path == "/hang":
            self.server.stop.wait(30)
        elif path == "/loop-a":
            self._redirect("/loop-b")
        elif path == "/loop-b":
            self._redirect("/loop-a")
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            self._redirect(f"/chain/{left - 1}") if left else self._send(200, JPEG)
        elif path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/image.jpg")
        elif path == "/to-file":
            self._redirect("file:///etc/passwd")
        elif path == "/server-error":
            self._send(503, b"busy")
        else:
            self._send(404, b"not here")

    def _huge(self) -> None:
        """A body far over the limit, without Content-Length, sent chunk by chunk."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.end_headers()
        chunk = b"\xff\xd8\xff" + bytes(CHUNK - 3)
        try:
            while self.server.huge_sent < HUGE_TOTAL:
                self.wfile.write(chunk)
                self.server.huge_sent += len(chunk)
        except OSError:  # the client hung up: what we want
            pass
        finally:
            self.server.huge_done.set()


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with serving(_Server()) as srv:
        try:
            yield srv
        finally:
            srv.stop.set()  # before the shutdown: it waits for the hanging handlers


def url(server: _Server, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{path}"


class CountingTransport(httpx.AsyncBaseTransport):
    """A real transport that counts body bytes handed to the client."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(trust_env=False)
        self.received = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        inner_stream: httpx.AsyncByteStream = stream
        counter = self

        class Counted(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                async for chunk in inner_stream:
                    counter.received += len(chunk)
                    yield chunk

            async def aclose(self) -> None:
                await inner_stream.aclose()

        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=Counted(),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def fetch(target: str, **options: Any) -> Source:
    async def run() -> Source:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await download(target, client=client, **options)

    return asyncio.run(run())


# --- downloads -------------------------------------------------------------------------


def test_download_image(server: _Server) -> None:
    source = fetch(url(server, "/image.jpg"))
    assert source == Source(data=JPEG, sha256=sha(JPEG))


def test_download_follows_redirects(server: _Server) -> None:
    assert fetch(url(server, "/redirect-image")).sha256 == sha(JPEG)
    assert fetch(url(server, "/chain/5")).ok
    too_many = fetch(url(server, "/chain/6"))
    assert too_many.errcode == E.E_DOWNLOAD and "too many redirects" in too_many.errmsg
    assert fetch(url(server, "/chain/2"), max_redirects=2).ok
    assert fetch(url(server, "/chain/2"), max_redirects=1).errcode == E.E_DOWNLOAD


def test_download_redirect_loop(server: _Server) -> None:
    source = fetch(url(server, "/loop-a"))
    assert source.errcode == E.E_DOWNLOAD
    assert "redirect loop" in source.errmsg


@pytest.mark.parametrize("path", ["/to-ftp", "/to-file"])
def test_download_refuses_other_schemes(server: _Server, path: str) -> None:
    source = fetch(url(server, path))
    assert source.errcode == E.E_DOWNLOAD
    assert "unsupported URL scheme" in source.errmsg


def test_download_refuses_non_http_url() -> None:
    source = fetch("ftp://127.0.0.1/a.jpg")
    assert source.errcode == E.E_DOWNLOAD and "'ftp'" in source.errmsg


def test_download_http_errors_hide_query_and_user_info(server: _Server) -> None:
    host, port = server.server_address[:2]
    source = fetch(f"http://user:PASSWORD@{host!s}:{port}/missing.jpg?token=SECRET#frag")
    assert source.errcode == E.E_DOWNLOAD
    assert source.errmsg == f"HTTP 404: http://{host!s}:{port}/missing.jpg"
    assert "SECRET" not in source.errmsg and "PASSWORD" not in source.errmsg
    assert fetch(url(server, "/server-error")).errmsg.startswith("HTTP 503")


def test_download_huge_body_is_cut_off_while_streaming(server: _Server) -> None:
    transport = CountingTransport()

    async def run() -> Source:
        async with httpx.AsyncClient(transport=transport) as client:
            return await download(url(server, "/redirect-huge"), client=client)

    source = asyncio.run(run())
    assert source.errcode == E.E_TOO_LARGE
    assert "stopped reading" in source.errmsg
    assert transport.received <= MAX_IMAGE_BYTES + CHUNK
    assert server.huge_done.wait(10)
    assert server.huge_sent < HUGE_TOTAL // 2  # the server was not made to send it all


def test_download_declared_too_large(server: _Server) -> None:
    source = fetch(url(server, "/declared-huge"))
    assert source.errcode == E.E_TOO_LARGE
    assert "Content-Length" in source.errmsg and "3.00 MB" in source.errmsg


def test_download_timeout(server: _Server) -> None:
    started = time.perf_counter()
    source = fetch(url(server, "/hang"), timeout=0.3)
    assert time.perf_counter() - started < 5
    assert source.errcode == E.E_DOWNLOAD
    assert source.errmsg.startswith("download timed out after 0.3 s")


def test_download_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = fetch(f"http://127.0.0.1:{port}/a.jpg?key=SECRET")
    assert source.errcode == E.E_DOWNLOAD
    assert "download failed" in source.errmsg and "SECRET" not in source.errmsg
    assert_printable(source.errmsg)


def test_download_content_checks(server: _Server) -> None:
    html = fetch(url(server, "/page.html"))
    assert html.errcode == E.E_NOT_IMAGE and "HTML" in html.errmsg
    assert html.sha256 is not None
    assert fetch(url(server, "/empty")).errcode == E.E_EMPTY
    assert fetch(url(server, "/image.jpg"), max_bytes=len(JPEG)).errcode == E.E_TOO_LARGE


def test_download_gzip(server: _Server) -> None:
    assert fetch(url(server, "/gzip-image")).sha256 == sha(JPEG)
    tracemalloc.start()
    try:
        bomb = fetch(url(server, "/gzip-bomb"))  # 50 KB on the wire, 50 MB inflated
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bomb.errcode == E.E_TOO_LARGE
    assert peak < 4 * MAX_IMAGE_BYTES  # inflated with a bound, not a 64 KB chunk at a time
    cut = fetch(url(server, "/gzip-cut"))
    assert cut.errcode == E.E_DOWNLOAD and "incomplete gzip" in cut.errmsg
    garbage = fetch(url(server, "/gzip-garbage"))
    assert garbage.errcode == E.E_DOWNLOAD and "corrupt gzip" in garbage.errmsg
    brotli = fetch(url(server, "/brotli"))
    assert brotli.errcode == E.E_DOWNLOAD and "Content-Encoding" in brotli.errmsg


# --- load_sources ----------------------------------------------------------------------


def test_load_sources_mixed_order(server: _Server, tmp_path: Path) -> None:
    png = make_png(seed=7)
    good = _write(tmp_path / "good.png", png)
    values: list[object] = [
        str(good),
        None,
        url(server, "/image.jpg"),
        JPEG,
        str(tmp_path / "missing.jpg"),
        url(server, "/nope"),
        7,
        good,
        str(good),
        url(server, "/image.jpg"),
        float("nan"),
    ]

    async def run() -> list[Source]:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await load_sources(values, client=client)

    before = len(server.requests)
    got = asyncio.run(run())
    assert [s.errcode for s in got] == [
        0, E.E_NULL, 0, 0, E.E_MISSING, E.E_DOWNLOAD, E.E_BAD_INPUT, 0, 0, 0, E.E_NULL,
    ]  # fmt: skip
    assert [s.sha256 for s in got if s.ok] == [sha(png), sha(JPEG), sha(JPEG)] + [sha(png)] * 2 + [
        sha(JPEG)
    ]
    assert len(server.requests) - before == 2  # the repeated URL is fetched once


def test_load_sources_reads_a_repeated_path_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "a.jpg", JPEG)
    opened: list[object] = []
    real_open = os.open

    def counting_open(target: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(target)
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    got = asyncio.run(load_sources([str(path), None, str(path), path, path]))
    assert [s.sha256 for s in got] == [sha(JPEG), None, sha(JPEG), sha(JPEG), sha(JPEG)]
    assert len(opened) == 2  # once for the str, once for the Path


def test_load_sources_many_files_keep_order(tmp_path: Path) -> None:
    images = [make_png(seed=i % 250, width=3 + i // 250) for i in range(600)]
    values: list[object] = []
    for i, data in enumerate(images):
        values.append(str(_write(tmp_path / f"{i:04d}.png", data)))
        if i % 7 == 0:
            values.append(None)
    got = asyncio.run(load_sources(values))
    assert len(got) == len(values)
    expected = [None if v is None else sha(Path(str(v)).read_bytes()) for v in values]
    assert [s.sha256 for s in got] == expected


def test_load_sources_reads_files_on_the_executor(tmp_path: Path) -> None:
    class Recording(ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            Recording.submitted += 1
            return super().submit(fn, *args, **kwargs)

    paths = [str(_write(tmp_path / f"{i}.jpg", JPEG)) for i in range(40)]
    with Recording(2) as executor:
        got = asyncio.run(load_sources(paths, executor=executor))
    assert Recording.submitted >= 2
    assert all(s.sha256 == sha(JPEG) for s in got)


def test_load_sources_passthrough_makes_no_request(server: _Server, tmp_path: Path) -> None:
    target = url(server, "/image.jpg?sig=abc")
    before = len(server.requests)
    got = asyncio.run(load_sources([target, JPEG], url_mode="passthrough"))
    assert got[0] == Source(data=None, sha256=None, url=target)
    assert got[0].ok
    assert got[1].sha256 == sha(JPEG)
    assert len(server.requests) == before


def test_load_sources_own_client(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    got = asyncio.run(
        load_sources([url(server, "/image.png"), url(server, "/hang")], download_timeout=0.3)
    )
    assert got[0].sha256 == sha(make_png(seed=1))
    assert got[1].errcode == E.E_DOWNLOAD and "timed out" in got[1].errmsg


def test_load_sources_concurrency_is_bounded(server: _Server) -> None:
    active = 0
    peak = 0

    async def slow(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return await original(self, request, **kwargs)

    original = httpx.AsyncClient.send
    targets = [url(server, f"/image.jpg?n={i}") for i in range(12)]

    async def run() -> list[Source]:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await load_sources(targets, client=client, download_concurrency=3)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpx.AsyncClient, "send", slow)
        got = asyncio.run(run())
    assert all(s.ok for s in got)
    assert peak == 3


def test_load_sources_rejects_bad_options() -> None:
    from ocr_frames._errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        asyncio.run(load_sources([], url_mode="fetch"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        asyncio.run(load_sources([], download_concurrency=0))
