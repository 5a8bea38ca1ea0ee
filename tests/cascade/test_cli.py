"""``ocr-frames run --engine cascade`` as a real subprocess with the real local engine on
``sample_data/idcard``: the dry run says how many rows would go to WeChat, the same count
the library reports, and sends nothing even with WeChat configured; the paid run then
bills exactly those rows (the local answers come from the dry run's cache).

One module-scoped dry run (the local engine takes ~10 s on the folder) feeds every test.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames.cli._inputs import read_images
from ocr_frames.local import LocalEngine
from ocr_frames.testing import WeChatEmulator
from tests.helpers import REPO, cli_env, run_cli

IDCARD = REPO / "sample_data" / "idcard"
DRY_LINE = re.compile(
    r"dry run \(local engine only\): (\d+) rows, (\d+) would go to wechat \(.*\), "
    r"(\d+) billed calls; at 0\.01 a call: at most (\d+\.\d\d); nothing was sent to wechat"
)


@pytest.fixture(scope="module")
def emu() -> Iterator[WeChatEmulator]:
    with WeChatEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cascade-cli") / "cache"


@pytest.fixture(scope="module")
def dry_run(emu: WeChatEmulator, cache: Path) -> subprocess.CompletedProcess[str]:
    """The dry run, with WeChat credentials set (pointing at the emulator) so that a call
    sent by mistake would be seen."""
    out = cache.parent / "never.parquet"
    done = run_cli(
        "run", str(IDCARD), "--kind", "idcard", "--engine", "cascade", "--dry-run",
        "--price", "0.01", "--cache-dir", str(cache), "--no-progress", "--out", str(out),
        env=cli_env(emu, cache),
    )  # fmt: skip
    assert not out.exists()
    return done


def test_dry_run_sends_nothing_and_prints_the_estimate(
    dry_run: subprocess.CompletedProcess[str], emu: WeChatEmulator
) -> None:
    assert dry_run.returncode == 0, dry_run.stderr
    assert emu.requests == 0
    assert emu.total_billed == 0
    found = DRY_LINE.search(dry_run.stdout)
    assert found, dry_run.stdout
    rows, escalated, calls, cost = int(found[1]), int(found[2]), int(found[3]), found[4]
    assert calls == escalated  # sample_data/idcard: no two escalated images alike
    assert rows == len(read_images(str(IDCARD)))
    assert cost == f"{calls * 0.01:.2f}"


def test_dry_run_count_equals_the_library_count(
    dry_run: subprocess.CompletedProcess[str], cache: Path
) -> None:
    found = DRY_LINE.search(dry_run.stdout)
    assert found, dry_run.stdout
    # seed=1: another cascade identity, so the routing is judged again here, in this
    # process; the local engine's answers come from the CLI's cache (both engines'
    # answers are cached under their own identities), which keeps this test fast
    df = of.recognize(
        read_images(str(IDCARD)), "idcard", engine=of.Cascade(LocalEngine(), None, seed=1),
        cache_dir=cache, progress=False,
    )  # fmt: skip
    info = df.attrs["ocr_frames"]["cascade"]
    escalated = sum(bool(len(r)) for r in df["escalated_because"].dropna())
    assert int(found[2]) == info["escalated"] == escalated > 0
    assert int(found[1]) == len(df)
    # rows no engine saw (an empty file, a text file) are answered by none
    seen = df["errcode"] < 900000
    assert info["answered_by"] == {"local": int(seen.sum())}
    assert df["answered_by"].isna().tolist() == (~seen).tolist()


def test_the_paid_run_bills_the_rows_the_dry_run_counted(
    dry_run: subprocess.CompletedProcess[str], emu: WeChatEmulator, cache: Path
) -> None:
    found = DRY_LINE.search(dry_run.stdout)
    assert found, dry_run.stdout
    escalated = int(found[2])
    out = cache.parent / "out.parquet"
    done = run_cli(
        "run", str(IDCARD), "--kind", "idcard", "--engine", "cascade",
        "--cache-dir", str(cache), "--no-progress", "--out", str(out),
        env=cli_env(emu, cache),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert emu.total_billed == escalated
    table = pq.read_table(out)
    because = table.column("escalated_because").to_pylist()
    assert sum(bool(r) for r in because) == escalated
    assert table.column("answered_by").to_pylist().count("wechat") == escalated
    assert f"({escalated} escalated)" in done.stderr
    assert f"{escalated} billed calls" in done.stderr
