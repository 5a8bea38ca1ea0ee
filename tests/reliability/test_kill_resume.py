"""Must hold 2: SIGKILL at several points (calls in flight, Parquet being written), rerun,
and the result is complete, valid, identical to an uninterrupted run, never billed twice
beyond the calls in flight at each kill."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env, make_png


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ocr_frames.cli", "run", *args, "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _complete(args: list[str], env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "ocr_frames.cli", "run", *args, "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _table(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas().drop(columns="cached")


@pytest.mark.parametrize("points", [(80,), (40, 120, 200)], ids=["one_kill", "three_kills"])
def test_kills_mid_calls_then_resume(
    points: tuple[int, ...], image_files: ImageFiles, tmp_path: Path
) -> None:
    """``kill -9`` once, or three times, then a rerun: what each kill cost is at most the
    calls then in flight."""
    n, concurrency = 240, 8
    folder = str(Path(image_files(n)[0]).parent)
    out = tmp_path / "out.parquet"
    args = [folder, "--kind", "driving", "--out", str(out), "--concurrency", str(concurrency)]
    with WeChatEmulator(latency=0.02, jitter=0.01) as emu:
        env = cli_env(emu, tmp_path / "cache")
        kills = 0
        for point in points:
            _kill_when(_run(args, env), lambda p=point: emu.total_billed >= p)
            kills += 1
            assert emu.total_billed < n, "the kill must land mid-run"
            assert not out.exists(), "a killed run must never leave a file at the output path"
        _complete(args, env)
        billed = emu.total_billed
        assert billed <= n + concurrency * kills, billed
        assert max(emu.billed.values()) <= 1 + kills
        reference = tmp_path / "reference.parquet"
        clean_env = cli_env(emu, tmp_path / "fresh-cache")
        _complete([folder, "--kind", "driving", "--out", str(reference)], clean_env)
    pd.testing.assert_frame_equal(_table(out), _table(reference))
    assert not list(tmp_path.glob(".out.parquet.tmp-*")), "stale temporary files removed"
    print(
        f"kill/resume: {n} images, {kills} kills, {billed} billed (bound {n + concurrency * kills})"
    )


def test_kill_while_parquet_row_groups_are_written(tmp_path: Path) -> None:
    unique = 40
    folder = tmp_path / "imgs"
    folder.mkdir()
    images = [make_png(i) for i in range(unique)]
    listing = tmp_path / "list.csv"
    rows = []
    for i in range(40_000):  # many rows, few images: the run is mostly writing Parquet
        path = folder / f"{i % unique}.png"
        if i < unique:
            path.write_bytes(images[i])
        rows.append(str(path))
    pd.DataFrame({"path": rows}).to_csv(listing, index=False)
    out = tmp_path / "big.parquet"
    tmp_glob = ".big.parquet.tmp-*"
    args = [str(listing), "--kind", "bankcard", "--out", str(out)]
    with WeChatEmulator() as emu:
        env = cli_env(emu, tmp_path / "cache")
        proc = _run(args, env)

        def writing() -> bool:
            parts = list(tmp_path.glob(tmp_glob))
            return bool(parts) and parts[0].stat().st_size > 4096  # a row group is on disk

        _kill_when(proc, writing)
        assert not out.exists()
        assert list(tmp_path.glob(tmp_glob)), "the kill landed while the temporary file was open"
        _complete(args, env)
        assert emu.total_billed <= unique + 16  # default concurrency, one kill
    table = pq.read_table(out)
    assert table.num_rows == 40_000
    assert table.column("errcode").to_pylist() == [0] * 40_000
    assert not list(tmp_path.glob(tmp_glob))
