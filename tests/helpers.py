"""Helpers shared by test modules: sample images, the repo root, a CLI environment.

One definition each; test modules import them from here rather than from each other
(``conftest.py`` builds its fixtures on them too).
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ocr_frames.testing import WeChatEmulator

REPO = Path(__file__).resolve().parents[1]
"""The checkout's root (``pyproject.toml``, ``README.md``, ``docs/``, ``sample_data/``)."""

EXIF_ORIENTATION = 0x0112


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
