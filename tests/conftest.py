"""Shared fixtures: a running emulator, an engine pointed at it, distinct sample images."""

from __future__ import annotations

import os
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator


def make_png(seed: int, width: int = 16, height: int = 16) -> bytes:
    """A small valid PNG whose bytes differ per seed."""
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


@pytest.fixture
def emulator() -> Iterator[WeChatEmulator]:
    with WeChatEmulator() as emu:
        yield emu


@pytest.fixture
def engine(emulator: WeChatEmulator) -> of.WeChatEngine:
    return of.WeChatEngine(appid=emulator.appid, secret=emulator.secret, base_url=emulator.base_url)


@pytest.fixture
def image_files(tmp_path: Path) -> Callable[[int], list[str]]:
    """Write n distinct PNG files and return their paths."""

    def write(n: int, start: int = 0) -> list[str]:
        folder = tmp_path / "images"
        folder.mkdir(exist_ok=True)
        paths = []
        for i in range(start, start + n):
            path = folder / f"img_{i:05d}.png"
            path.write_bytes(make_png(i))
            paths.append(os.fspath(path))
        return paths

    return write
