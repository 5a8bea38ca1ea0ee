"""Cache tools and the dry run, through the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames._cache.store import ResultCache
from ocr_frames._cache.tools import estimate_cost, parse_age, prune_cache
from ocr_frames.testing import WeChatEmulator


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocr_frames.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_dry_run_counts_billable_calls_and_sends_nothing(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    image_files: Callable[..., list[str]],
    tmp_path: Path,
) -> None:
    paths = image_files(6)
    cache = tmp_path / "cache"
    of.recognize(paths[:2], "idcard", engine=engine, cache_dir=cache, progress=False)
    emulator.reset_counters()
    listing = [*paths, paths[4], str(tmp_path / "missing.png")]  # one duplicate, one bad
    estimate = estimate_cost(
        listing, "idcard", engine_identity=engine.identity, cache_dir=cache, price_per_call=0.1
    )
    assert (estimate.rows, estimate.local_errors, estimate.cache_hits) == (8, 1, 2)
    assert (estimate.duplicates, estimate.billable) == (1, 4)
    assert estimate.cost == pytest.approx(0.4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
    env.update(
        WECHAT_APPID=emulator.appid,
        WECHAT_SECRET=emulator.secret,
        WECHAT_BASE_URL=emulator.base_url,
        OCR_FRAMES_CACHE_DIR=str(cache),
    )
    done = _cli(
        "run",
        str(Path(paths[0]).parent),
        "--kind",
        "idcard",
        "--out",
        str(tmp_path / "x.parquet"),
        "--dry-run",
        "--price",
        "0.05",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "4 billable calls" in done.stdout and "0.20" in done.stdout
    assert emulator.requests == 0 and not (tmp_path / "x.parquet").exists()


def test_cache_stats_export_prune_clear(
    engine: of.WeChatEngine, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    of.recognize(image_files(3), "bankcard", engine=engine, cache_dir=cache, progress=False)
    env = {**os.environ, "OCR_FRAMES_CACHE_DIR": str(cache)}
    stats = _cli("cache", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    info = json.loads(stats.stdout)
    assert info["entries"] == 3
    assert info["by_kind_engine"] == {f"bankcard / {engine.identity}": 3}
    out = tmp_path / "answers.jsonl"
    assert _cli("cache", "export", str(out), env=env).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(r["answer"]["errcode"] == 0 for r in records)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    dry = _cli("cache", "prune", "--older-than", "1d", "--dry-run", env=env)
    assert "would remove 0" in dry.stdout
    time.sleep(1.1)
    with ResultCache(cache) as store:
        assert prune_cache(store, 1.0, dry_run=True) == 3
        assert len(store) == 3
    assert "removed 3" in _cli("cache", "prune", "--older-than", "1s", env=env).stdout
    with ResultCache(cache) as store:
        assert len(store) == 0
    assert _cli("cache", "clear", env=env).returncode == 0
    assert _cli("cache", "prune", env=env).returncode != 0  # --older-than is required


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2592000), ("12h", 43200), ("90m", 5400), ("2w", 1209600), ("5s", 5)],
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


def test_parse_age_rejects_garbage() -> None:
    with pytest.raises(of.ConfigurationError):
        parse_age("thirty days")
