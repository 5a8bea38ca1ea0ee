"""Cache tools (stats, export, prune, clear), through the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames._cache.store import ResultCache
from ocr_frames._cache.tools import parse_age, prune_cache
from tests.helpers import ImageFiles, run_cli


def test_cache_stats_export_prune_clear(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    of.recognize(image_files(3), "bankcard", engine=engine, cache_dir=cache, progress=False)
    env = {**os.environ, "OCR_FRAMES_CACHE_DIR": str(cache)}
    stats = run_cli("cache", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    info = json.loads(stats.stdout)
    assert info["entries"] == 3
    assert info["by_kind_engine"] == {f"bankcard / {engine.identity}": 3}
    out = tmp_path / "answers.jsonl"
    assert run_cli("cache", "export", str(out), env=env).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(r["answer"]["errcode"] == 0 for r in records)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    dry = run_cli("cache", "prune", "--older-than", "1d", "--dry-run", env=env)
    assert "would remove 0" in dry.stdout
    time.sleep(1.1)
    with ResultCache(cache) as store:
        assert prune_cache(store, 1.0, dry_run=True) == 3
        assert len(store) == 3
    assert "removed 3" in run_cli("cache", "prune", "--older-than", "1s", env=env).stdout
    with ResultCache(cache) as store:
        assert len(store) == 0
    assert run_cli("cache", "clear", env=env).returncode == 0
    assert run_cli("cache", "prune", env=env).returncode != 0  # --older-than is required


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2592000), ("12h", 43200), ("90m", 5400), ("2w", 1209600), ("5s", 5)],
)
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


def test_parse_age_rejects_garbage() -> None:
    with pytest.raises(of.ConfigurationError):
        parse_age("thirty days")
