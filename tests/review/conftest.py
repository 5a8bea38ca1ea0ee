"""Fixtures of the review app's end-to-end tests: a real output, a real server, a browser.

- ``review_base`` (session): the real pipeline (``recognize_to_parquet(checks=True)``)
  on copies of the bundled ``sample_data/driving`` images, answered by the bundled WeChat
  emulator from ``sample_data/truth.json``; some answers are spoiled first (a wrong VIN
  with a low confidence and a suggestion, low confidences, swapped dates) so that rows
  :data:`FLAGGED` need review for different reasons, and the others do not.  The sources
  are relative (``images/driving_01.jpg``), so the server must run in that folder.
  Driving answers carry the card quadrilateral: the row view draws boxes.
- ``workspace(name)``: a private copy of that folder (images and output), so each test
  module has its own reviews file.
- ``start_review(ws, *args)``: ``python -m ocr_frames.cli review OUT --no-browser --port
  0 *args`` as a real subprocess in ``ws``; the first stdout line (the URL with the
  token) is parsed, the server is polled until it answers, and it is stopped at the end
  (SIGTERM, wait, then kill).
- ``browser`` (module): Debian's Chromium driven by Playwright (no download).  Skipped
  when Chromium or Playwright is missing, unless ``CI`` is set: then the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd
import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import REPO

if TYPE_CHECKING:
    from playwright.sync_api import Browser

KIND = "driving"
OUTPUT = "driving.parquet"
IMAGES = [f"driving_0{n}.jpg" for n in range(1, 6)]
#: rows the spoiled answers make need review (0-based); the others pass every check
FLAGGED = (1, 2, 3, 4)
#: the first line ``ocr-frames review`` prints (token_urlsafe(32): 43 characters)
FIRST_LINE = re.compile(r"review: http://127\.0\.0\.1:(\d{1,5})/\?token=([A-Za-z0-9_-]{43})")
#: how long a server may take to start answering
START_TIMEOUT = 30.0


def _spoil(name: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer the emulator gives for sample ``name``: truth.json's, spoiled for some."""
    out = dict(answer)
    if name in ("driving_02.jpg", "driving_04.jpg"):
        vin = out["vin"]
        # a wrong last character: the check digit fails, and the masked form shows it
        out["vin"] = vin[:-1] + ("5" if vin[-1] != "5" else "6")
        out["confidence"] = {"vin": 0.31, "owner": 0.97, "plate_num": 0.99}
        out["suggested"] = {"vin": vin}
    elif name == "driving_03.jpg":
        out["confidence"] = {"owner": 0.42, "plate_num": 0.98, "vin": 0.95, "model": 0.7}
    elif name == "driving_05.jpg":
        out["issue_date"], out["register_date"] = out["register_date"], out["issue_date"]
    return out


@dataclass(frozen=True)
class Workspace:
    """A folder the server runs in: ``images/`` and the output ``driving.parquet``."""

    root: Path

    @property
    def output(self) -> Path:
        return self.root / OUTPUT

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def reviews(self) -> Path:
        return self.root / "driving.reviews.parquet"

    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(self.output)


@dataclass(frozen=True)
class ReviewProcess:
    """A running ``ocr-frames review``: its first line, URL parts and process."""

    first_line: str
    port: int
    token: str
    process: subprocess.Popen[str]
    stderr: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in {"token": self.token, **params}.items())
        return f"{self.base}{path}?{query}"

    def errors(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """``contextlib.chdir`` (Python 3.11+): the run records the sources as given."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="session")
def review_base(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The real output with checks, written from relative sources (see module docstring)."""
    ws = Workspace(tmp_path_factory.mktemp("review_base"))
    ws.images.mkdir()
    for name in IMAGES:
        shutil.copyfile(REPO / "sample_data" / KIND / name, ws.images / name)
    truth = json.loads((REPO / "sample_data" / "truth.json").read_text(encoding="utf-8"))
    with WeChatEmulator() as emu, _inside(ws.root):
        for key, entry in truth.items():
            emu.register(entry["sha256"], entry["kind"], _spoil(Path(key).name, entry["answer"]))
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        sources = [f"images/{name}" for name in IMAGES]
        of.recognize_to_parquet(
            sources, KIND, OUTPUT, engine=engine, checks=True, cache_dir=False, progress=False
        )
    frame = ws.frame()
    flagged = tuple(i for i, f in enumerate(frame["needs_review"]) if f)
    assert flagged == FLAGGED, f"the spoiled answers flag rows {flagged}, not {FLAGGED}"
    assert "check_vin_checksum" in list(frame["review_reasons"][3]), frame["review_reasons"][3]
    return ws


@pytest.fixture(scope="session")
def workspace(
    review_base: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Workspace]:
    """``workspace(name)``: a fresh copy of the base folder (images and output)."""

    def copy(name: str) -> Workspace:
        root = tmp_path_factory.mktemp(name)
        shutil.copytree(review_base.images, root / "images")
        shutil.copy2(review_base.output, root / OUTPUT)
        return Workspace(root)

    return copy


def _wait_until_serving(server: ReviewProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise AssertionError(f"the review server exited early: {server.errors()}")
        try:
            if httpx.get(server.url("/api/rows"), timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the review server did not answer: {server.errors()}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def _review(ws: Workspace, *args: str) -> Iterator[ReviewProcess]:
    stderr = ws.root / f"server-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "ocr_frames.cli", "review", OUTPUT, "--no-browser"]
    with stderr.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            [*command, "--port", "0", *args],
            cwd=ws.root,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")},
        )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().rstrip("\n")
        found = FIRST_LINE.fullmatch(first)
        assert found, f"first line {first!r} is not 'review: URL'; stderr: {stderr.read_text()}"
        server = ReviewProcess(first, int(found[1]), found[2], process, stderr)
        _wait_until_serving(server)
        yield server
    finally:
        _stop(process)


StartReview = Callable[..., AbstractContextManager[ReviewProcess]]


@pytest.fixture(scope="session")
def start_review() -> StartReview:
    """``with start_review(ws, *args) as server``: ``ocr-frames review`` running in ``ws``."""
    return _review


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium from the OS packages, headless (skipped without it, unless CI is set)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        why = "Chromium or Playwright missing (apt-get install -y chromium; the dev extra)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: the browser tests must run in CI")
        pytest.skip(why)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
