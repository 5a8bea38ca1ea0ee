"""Helpers shared by test modules: sample images and answers, the repo root, a CLI
environment, a scripted engine, a threaded HTTP server.

One definition each; test modules import them from here rather than from each other
(``conftest.py`` builds its fixtures on them too).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from ocr_frames import BaseEngine
from ocr_frames.kinds import CORNERS
from ocr_frames.testing import WeChatEmulator

REPO = Path(__file__).resolve().parents[1]
"""The checkout's root (``pyproject.toml``, ``README.md``, ``docs/``, ``sample_data/``)."""

EXIF_ORIENTATION = 0x0112

#: The ``image_files`` fixture (``conftest.py``): ``image_files(n, start=0)`` writes ``n``
#: distinct PNG files and returns their paths.
ImageFiles = Callable[..., list[str]]

#: The fields of the platform documentation's sample answer for an ID card's front.
IDCARD_FRONT: dict[str, str] = {
    "type": "Front",
    "name": "张三",
    "id": "123456789012345678",
    "addr": "广东省广州市XXX",
    "gender": "男",
    "nationality": "汉",
}


def corners(*points: tuple[int, int]) -> dict[str, dict[str, int]]:
    """A ``pos`` mapping: left_top, right_top, right_bottom and left_bottom at ``points``."""
    return {name: {"x": x, "y": y} for name, (x, y) in zip(CORNERS, points, strict=True)}


def make_png(seed: int, width: int = 16, height: int = 16) -> bytes:
    """A small valid RGB PNG whose bytes differ per seed."""
    rnd = random.Random(seed)
    raw = b"".join(b"\x00" + rnd.randbytes(width * 3) for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def phone_photo(
    width: int = 2900, height: int = 1950, orientation: int = 6, seed: int = 0
) -> bytes:
    """A noisy (hard to compress) JPEG stored sideways, with a red block in its stored
    top-left corner and an EXIF orientation tag."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height // 2, width // 2, 3), dtype=np.uint8)
    img = Image.fromarray(pixels).resize((width, height), Image.Resampling.NEAREST)
    img.paste((255, 0, 0), (0, 0, 300, 300))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def cli_env(emu: WeChatEmulator, cache: Path) -> dict[str, str]:
    """The environment for an ``ocr-frames`` subprocess that talks to ``emu`` and keeps
    its cache in ``cache``: this process's variables minus any ``WECHAT_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
    env.update(
        WECHAT_APPID=emu.appid,
        WECHAT_SECRET=emu.secret,
        WECHAT_BASE_URL=emu.base_url,
        OCR_FRAMES_CACHE_DIR=str(cache),
    )
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m ocr_frames.cli *args`` in a subprocess, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "ocr_frames.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=timeout,
    )


class ScriptedEngine(BaseEngine):
    """An in-process engine: ``reply(kind, image)`` answers each call; ``calls`` counts
    them.  A test that wants to see what was sent notes it in its ``reply``."""

    def __init__(
        self, reply: Callable[[str, bytes | None], dict[str, Any]], identity: str = "scripted"
    ) -> None:
        self.reply = reply
        self.calls = 0
        self._identity = identity

    @property
    def identity(self) -> str:
        return self._identity

    async def arecognize(
        self, kind: str, image: bytes | None = None, *, img_url: str | None = None
    ) -> dict[str, Any]:
        self.calls += 1
        return self.reply(kind, image)


_Server = TypeVar("_Server", bound=HTTPServer)


@contextlib.contextmanager
def serving(server: _Server, poll_interval: float = 0.5) -> Iterator[_Server]:
    """Run ``server`` in a daemon thread for the ``with`` block; then shut it down, close
    its socket and join the thread."""
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with one call for a whole answer."""

    def send_body(self, body: bytes, status: int = 200, content_type: str = "") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
