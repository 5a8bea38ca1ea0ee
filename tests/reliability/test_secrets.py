"""Must hold 6: the secret and the access token appear in no log line, exception, Parquet
file, cache key or value, progress output or CLI summary; the cache is private."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles

SECRET = "s3cr3t-VALUE-never-shown"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_no_secret_or_token_anywhere(
    image_files: ImageFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = image_files(20)
    cache = tmp_path / "cache"
    with WeChatEmulator(secret=SECRET) as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=SECRET, base_url=emu.base_url)
        caplog.set_level(logging.DEBUG)  # root, httpx, httpcore, ocr_frames: everything
        for name in ("httpx", "httpcore", "ocr_frames"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        of.recognize_to_parquet(
            paths, "idcard", tmp_path / "o.parquet", engine=engine, cache_dir=cache, progress=True
        )
        emu.invalidate_tokens()  # force a refresh: token calls are logged too
        of.recognize(paths[:3], "bankcard", engine=engine, cache_dir=cache, progress=True)
        token = emu.issue_token()
        bad = of.WeChatEngine(appid=emu.appid, secret=SECRET + "-wrong", base_url=emu.base_url)
        with pytest.raises(of.ConfigurationError) as info:
            of.recognize(paths[3:5], "comm", engine=bad, cache_dir=False, progress=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
        env.update(
            WECHAT_APPID=emu.appid,
            WECHAT_SECRET=SECRET,
            WECHAT_BASE_URL=emu.base_url,
            OCR_FRAMES_CACHE_DIR=str(cache),
        )
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "ocr_frames.cli",
                "-vv",
                "run",
                str(Path(paths[0]).parent),
                "--kind",
                "platenum",
                "--out",
                str(tmp_path / "cli.parquet"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert cli.returncode == 0, cli.stderr
    assert "HTTP Request" in caplog.text and "HTTP Request" in cli.stderr  # logs were on
    printed = capsys.readouterr()
    places = {
        "log records": caplog.text,
        "exception": f"{info.value!s} {info.value!r}",
        "progress and stdout": printed.out + printed.err,
        "CLI output": cli.stdout + cli.stderr,
        "parquet": (tmp_path / "o.parquet").read_bytes().decode("latin-1"),
        "cache files": _all_bytes(cache).decode("latin-1"),
    }
    for where, text in places.items():
        assert SECRET not in text, where
        assert token not in text, where
    assert "access_token=***" in caplog.text  # redacted, not just absent


def test_cache_directory_is_private(engine: of.WeChatEngine, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        cache = tmp_path / "deep" / "cache"
        from tests.helpers import make_png

        of.recognize([make_png(1)], "idcard", engine=engine, cache_dir=cache, progress=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files
    ]
