"""The dry run: the calls a run would bill, counted without sending anything."""

from __future__ import annotations

from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames._run.estimate import estimate_cost
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env, run_cli


def test_dry_run_counts_billable_calls_and_sends_nothing(
    emulator: WeChatEmulator, engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
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
    folder, out = str(Path(paths[0]).parent), str(tmp_path / "x.parquet")
    dry_run = ("run", folder, "--kind", "idcard", "--out", out, "--dry-run", "--price", "0.05")
    done = run_cli(*dry_run, env=cli_env(emulator, cache))
    assert done.returncode == 0, done.stderr
    assert "4 billable calls" in done.stdout and "0.20" in done.stdout
    assert emulator.requests == 0 and not (tmp_path / "x.parquet").exists()
