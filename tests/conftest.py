"""Shared fixtures: a running emulator, an engine pointed at it, distinct sample images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, make_png


@pytest.fixture
def emulator() -> Iterator[WeChatEmulator]:
    with WeChatEmulator() as emu:
        yield emu


@pytest.fixture
def engine(emulator: WeChatEmulator) -> of.WeChatEngine:
    return of.WeChatEngine(appid=emulator.appid, secret=emulator.secret, base_url=emulator.base_url)


@pytest.fixture
def image_files(tmp_path: Path) -> ImageFiles:
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
