"""Where the bytes live: file:// URLs, data: URIs, bare base64, fsspec paths (memory://)."""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import sys
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import fsspec
import pytest
from fsspec import AbstractFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.registry import _registry

import ocr_frames as of
from ocr_frames import _errors as E
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.classify import classify
from ocr_frames._sources.read import load_local
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png, phone_photo, serving

PNG = make_png(7)
B64 = base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("file:///tmp/a.png", "path"),
        ("FILE://localhost/tmp/a.png", "path"),
        ("data:image/png;base64,iVBORw0KGgo=", "data"),
        (B64, "data"),
        (base64.encodebytes(PNG).decode(), "data"),  # with line breaks
        ("/9j/" + "A" * 80, "data"),  # a JPEG's base64 starts with a slash
        ("A" * 100, "path"),  # base64 alphabet, but no image signature
        ("/9j/" + "A" * 80 + ".jpg", "path"),  # file names have dots
        ("scans/" + "a" * 80, "path"),
        ("memory://bucket/a.png", "fsspec"),
        ("s3://bucket/a.png", "fsspec"),
        ("simplecache::s3://bucket/a.png", "fsspec"),
        ("abfs://container/a.png", "fsspec"),
        ("C:\\scans\\a.png", "path"),
        ("C://scans/a.png", "path"),  # one letter: a drive, not a protocol
    ],
)
def test_classify_locations(value: str, expected: str) -> None:
    assert classify(value) == expected


def test_file_urls(tmp_path: Path) -> None:
    path = tmp_path / "a card.png"
    path.write_bytes(PNG)
    url = "file://" + quote(str(path))
    assert load_local(url).sha256 == load_local(str(path)).sha256 is not None
    assert load_local("file://localhost" + quote(str(path))).ok
    assert load_local(url + ".missing").errcode == E.E_MISSING
    assert load_local("file://elsewhere/a.png").errcode == E.E_BAD_INPUT


def test_data_uris_and_base64() -> None:
    expected = load_local(PNG).sha256
    assert load_local(f"data:image/png;base64,{B64}").sha256 == expected
    assert load_local(B64).sha256 == expected
    assert load_local(base64.encodebytes(PNG).decode()).sha256 == expected
    assert load_local(base64.urlsafe_b64encode(PNG).decode().rstrip("=")).sha256 == expected
    assert load_local("data:image/png," + quote(PNG)).sha256 == expected  # percent-encoded
    assert load_local("data:image/png;base64,").errcode == E.E_EMPTY
    assert load_local("data:image/png;base64,***").errcode == E.E_NOT_IMAGE
    assert load_local("data:no-comma").errcode == E.E_BAD_INPUT
    text = load_local("data:text/plain;base64," + base64.b64encode(b"hello").decode())
    assert text.errcode == E.E_NOT_IMAGE and "text" in text.errmsg
    big = "data:image/png;base64," + "A" * (3 * 1024 * 1024)
    assert load_local(big).errcode == E.E_TOO_LARGE  # refused before decoding
    assert B64[:20] not in load_local("data:image/png;base64,***").errmsg


@pytest.fixture
def memfs() -> Iterator[tuple[MemoryFileSystem, str]]:
    fs = MemoryFileSystem()
    root = f"/ocr-{uuid.uuid4().hex}"
    fs.mkdir(root)
    yield fs, root
    fs.rm(root, recursive=True)


def test_memory_paths_against_the_emulator(
    memfs: tuple[MemoryFileSystem, str],
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
) -> None:
    fs, root = memfs
    fs.pipe(f"{root}/a.png", make_png(1))
    fs.pipe(f"{root}/empty.png", b"")
    fs.pipe(f"{root}/big.png", make_png(2) + b"\0" * (2 * 1024 * 1024))
    values = [
        f"memory://{root}/a.png",
        f"memory://{root}/missing.png",
        f"memory://{root}",
        f"memory://{root}/empty.png",
        f"memory://{root}/big.png",
        f"data:image/png;base64,{base64.b64encode(make_png(3)).decode()}",
        base64.b64encode(make_png(4)).decode(),
    ]
    run = {"engine": engine, "cache_dir": tmp_path / "c", "progress": False}
    df = of.recognize(values, "platenum", shrink=False, **run)
    codes = [0, E.E_MISSING, E.E_NOT_A_FILE, E.E_EMPTY, E.E_TOO_LARGE, 0, 0]
    assert df["errcode"].tolist() == codes
    assert emulator.total_billed == 3
    assert of.recognize(values, "platenum", **run)["errcode"].tolist()[4] == 0  # shrink
    again = of.recognize(values, "platenum", **run)
    assert again["cached"].tolist() == [True, False, False, False, True, True, True]
    assert emulator.total_billed == 4


class _RecordingFS(AbstractFileSystem):
    """A filesystem that records its storage options and can hang."""

    protocol = "ocrtest"
    seen: ClassVar[list[dict[str, Any]]] = []
    cachable = False

    def __init__(self, **options: Any) -> None:
        type(self).seen.append(dict(options))
        self.delay = float(options.pop("delay", 0))
        super().__init__()

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        time.sleep(self.delay)
        return {"name": path, "size": len(PNG), "type": "file"}

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(PNG)


@pytest.fixture
def recording_fs() -> Iterator[type[_RecordingFS]]:
    fsspec.register_implementation("ocrtest", _RecordingFS, clobber=True)
    _RecordingFS.seen.clear()
    yield _RecordingFS
    _registry.pop("ocrtest", None)


def test_storage_options_are_passed_and_reads_are_timed_out(
    recording_fs: type[_RecordingFS],
) -> None:
    options = {"key": "k", "secret": "s3cr3t"}
    (src,) = asyncio.run(load_sources(["ocrtest://bucket/a.png"], storage_options=options))
    assert src.ok and src.sha256 == load_local(PNG).sha256
    assert recording_fs.seen[-1] == options
    (slow,) = asyncio.run(
        load_sources(
            ["ocrtest://bucket/slow.png"], storage_options={"delay": 1.5}, download_timeout=0.2
        )
    )
    assert slow.errcode == E.E_DOWNLOAD and "timed out" in slow.errmsg
    assert "s3cr3t" not in slow.errmsg


def test_missing_fsspec_or_backend_is_a_clear_row_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if "s3fs" not in sys.modules:
        try:
            import s3fs  # noqa: F401
        except ImportError:
            src = load_local("s3://bucket/a.png")
            assert src.errcode == E.E_BAD_INPUT and "s3fs" in src.errmsg
    monkeypatch.setitem(sys.modules, "fsspec", None)
    src = load_local("memory://bucket/a.png")
    assert src.errcode == E.E_BAD_INPUT and "ocr-frames[fsspec]" in src.errmsg


def test_oversize_download_from_a_local_http_server_is_shrunk(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(phone_photo(seed=9))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/photo.jpg"
        shrunk, refused = (
            asyncio.run(load_sources([url], shrink=shrink))[0] for shrink in (True, False)
        )
    assert shrunk.ok and shrunk.data is not None and len(shrunk.data) < 2 * 1024 * 1024
    assert (
        shrunk.original_sha256
        == load_local(str(tmp_path / "photo.jpg"), shrink=True).original_sha256
    )
    assert refused.errcode == E.E_TOO_LARGE
