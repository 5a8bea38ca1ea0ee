"""Must hold 4: every bad input is a row with a clear errcode/errmsg - never a crash,
never a billed call."""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import QuietHandler, make_png, serving


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        if self.path == "/hang":
            time.sleep(3)
            return
        if self.path == "/redirect-huge":
            self.send_response(302)
            self.send_header("Location", "/huge")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/huge":  # 50 MB without Content-Length: must be cut while streaming
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(800):
                    self.wfile.write(b"\xff" * 65536)
            except OSError:
                self.server.aborted += 1  # type: ignore[attr-defined]
            return
        self.send_error(404)


@pytest.fixture
def web() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.aborted = 0  # type: ignore[attr-defined]
    server.daemon_threads = True
    with serving(server):
        yield server


def _bomb_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64


def test_bad_input_matrix(
    emulator: WeChatEmulator, engine: of.WeChatEngine, web: ThreadingHTTPServer, tmp_path: Path
) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 200  # no end-of-image marker: truncated
    files = {
        "empty.png": b"",
        "truncated.jpg": jpeg,
        "text.jpg": b"just some text\n",
        "big.png": make_png(1) + b"\0" * (2 * 1024 * 1024),
        "bomb.png": _bomb_png(),
        "doc.pdf": b"%PDF-1.4\n%...",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    non_utf8 = os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff\xfe.png")
    base = f"http://127.0.0.1:{web.server_address[1]}"
    cases = {
        "missing": (str(tmp_path / "missing.png"), 900001),
        "directory": (str(tmp_path), 900002),
        "empty": (str(tmp_path / "empty.png"), 900004),
        "truncated JPEG": (str(tmp_path / "truncated.jpg"), 900006),
        "text named .jpg": (str(tmp_path / "text.jpg"), 900006),
        "over 2 MB": (str(tmp_path / "big.png"), 900005),
        "bomb PNG": (str(tmp_path / "bomb.png"), 900006),
        "PDF": (str(tmp_path / "doc.pdf"), 900006),
        "non-UTF-8 path": (non_utf8, 900001),
        "null": (None, 900000),
        "NaN": (float("nan"), 900000),
        "wrong type": (12345, 900008),
        "URL 404": (f"{base}/nope.png", 900007),
        "URL hangs": (f"{base}/hang", 900007),
        "URL redirect to huge body": (f"{base}/redirect-huge", 900005),
    }
    series = pd.Series([v for v, _ in cases.values()], index=list(cases))
    started = time.monotonic()
    df = of.recognize(
        series,
        "idcard",
        engine=engine,
        cache_dir=tmp_path / "c",
        progress=False,
        download_timeout=1.0,
        shrink=False,  # the 2 MB limit itself (shrink=True re-encodes: tests/test_shrink.py)
    )
    elapsed = time.monotonic() - started
    assert df.index.tolist() == list(cases)
    assert dict(zip(cases, df["errcode"].tolist(), strict=True)) == {
        k: c for k, (_, c) in cases.items()
    }
    for name, msg in df["errmsg"].items():
        assert isinstance(msg, str) and msg.strip(), name
        msg.encode("utf-8")  # printable and storable, even for the non-UTF-8 path
    assert emulator.total_billed == 0 and emulator.requests == 0
    assert elapsed < 10, "the hanging URL is bounded by its timeout"
    of.write_parquet(df, tmp_path / "bad.parquet")  # every message survives Parquet
    assert pd.read_parquet(tmp_path / "bad.parquet")["errcode"].tolist() == df["errcode"].tolist()
