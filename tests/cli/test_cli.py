"""The ``ocr-frames`` command in real subprocesses, against the emulator over real HTTP."""

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
from tests.helpers import cli_env, run_cli


def test_help_lists_commands_and_exit_codes() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    assert "run" in top.stdout and "kinds" in top.stdout
    run = run_cli("run", "--help")
    assert run.returncode == 0
    assert "WECHAT_APPID" in run.stdout and "exit codes" in run.stdout


def test_run_folder_writes_parquet_and_summary(
    emulator: WeChatEmulator, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    paths = image_files(6)
    out = tmp_path / "ids.parquet"
    env = cli_env(emulator, tmp_path / "cache")
    args = ["run", str(Path(paths[0]).parent), "--kind", "idcard", "--out", str(out)]
    proc = run_cli(*args, "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "6 rows: 6 ok" in proc.stderr and "6 billed calls" in proc.stderr
    df = pd.read_parquet(out)
    assert df["source"].tolist() == sorted(paths)
    assert emulator.secret not in proc.stderr + proc.stdout
    again = run_cli(*args, "--no-progress", env=env)
    assert again.returncode == 0
    assert "6 cache hits" in again.stderr and "0 billed calls" in again.stderr
    assert emulator.total_billed == 6


def test_run_csv_column_and_stdin(
    emulator: WeChatEmulator, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    paths = image_files(3)
    csv = tmp_path / "list.csv"
    pd.DataFrame({"id": [1, 2, 3], "path": paths}).to_csv(csv, index=False)
    env = cli_env(emulator, tmp_path / "cache")
    proc = run_cli(
        "run",
        str(csv),
        "--column",
        "path",
        "--kind",
        "bankcard",
        "--out",
        str(tmp_path / "a.parquet"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert pd.read_parquet(tmp_path / "a.parquet")["source"].tolist() == paths
    proc = run_cli(
        "run",
        "-",
        "--kind",
        "bankcard",
        "--out",
        str(tmp_path / "b.parquet"),
        env=env,
        stdin="\n".join(paths) + "\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(tmp_path / "b.parquet")) == 3


def test_usage_and_configuration_errors_exit_2(
    emulator: WeChatEmulator, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    env = cli_env(emulator, tmp_path / "cache")
    assert run_cli("run", "x", "--kind", "passport", "--out", "o.parquet", env=env).returncode == 2
    missing = run_cli(
        "run",
        str(tmp_path / "nope.csv"),
        "--kind",
        "idcard",
        "--out",
        str(tmp_path / "o.parquet"),
        env=env,
    )
    assert missing.returncode == 2 and "input not found" in missing.stderr
    no_creds = {k: v for k, v in env.items() if not k.startswith("WECHAT_")}
    folder = str(Path(image_files(1)[0]).parent)
    proc = run_cli(
        "run", folder, "--kind", "idcard", "--out", str(tmp_path / "o.parquet"), env=no_creds
    )
    assert proc.returncode == 2 and "WECHAT_APPID" in proc.stderr
    bad_secret = {**env, "WECHAT_SECRET": "definitely-wrong"}
    proc = run_cli(
        "run", folder, "--kind", "idcard", "--out", str(tmp_path / "o.parquet"), env=bad_secret
    )
    assert proc.returncode == 2 and "definitely-wrong" not in proc.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_quota_exit_3_then_rerun_completes(
    emulator: WeChatEmulator, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    folder = str(Path(image_files(8)[0]).parent)
    out = tmp_path / "q.parquet"
    env = cli_env(emulator, tmp_path / "cache")
    emulator.daily_quota = 3
    proc = run_cli(
        "run", folder, "--kind", "comm", "--out", str(out), "--concurrency", "1", env=env
    )
    assert proc.returncode == 3, proc.stderr
    assert "stopped by quota" in proc.stderr
    partial = pd.read_parquet(out)
    assert len(partial) == 8 and (partial["errcode"] == 0).sum() == 3
    emulator.reset_day()
    emulator.daily_quota = None
    proc = run_cli("run", folder, "--kind", "comm", "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (pd.read_parquet(out)["errcode"] == 0).all()
    assert emulator.total_billed == 8


def test_kill_9_then_rerun_bills_at_most_in_flight_calls(
    image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    n, concurrency = 150, 8
    folder = str(Path(image_files(n)[0]).parent)
    out = tmp_path / "k.parquet"
    with WeChatEmulator(latency=0.03) as emu:
        env = cli_env(emu, tmp_path / "cache")
        args = [
            sys.executable,
            "-m",
            "ocr_frames.cli",
            "run",
            folder,
            "--kind",
            "idcard",
            "--out",
            str(out),
            "--concurrency",
            str(concurrency),
            "--no-progress",
        ]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while emu.total_billed < n // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert 0 < emu.total_billed < n, "the kill must land mid-run"
        assert not out.exists(), "a killed run must not leave a file at the output path"
        rerun = run_cli(
            "run", folder, "--kind", "idcard", "--out", str(out), "--no-progress", env=env
        )
        assert rerun.returncode == 0, rerun.stderr
        assert emu.total_billed <= n + concurrency
        assert max(emu.billed.values()) <= 2
        assert not list(tmp_path.glob(".k.parquet.tmp-*"))
        resumed = pq.read_table(out).to_pandas()
        clean_env = {**env, "OCR_FRAMES_CACHE_DIR": str(tmp_path / "fresh-cache")}
        clean = run_cli(
            "run",
            folder,
            "--kind",
            "idcard",
            "--out",
            str(tmp_path / "clean.parquet"),
            "--no-progress",
            env=clean_env,
        )
        assert clean.returncode == 0
    expected = pd.read_parquet(tmp_path / "clean.parquet")
    pd.testing.assert_frame_equal(resumed.drop(columns="cached"), expected.drop(columns="cached"))


@pytest.mark.parametrize("command", ["kinds", "codes"])
def test_listing_commands(command: str) -> None:
    proc = run_cli(command)
    assert proc.returncode == 0
    assert ("idcard" in proc.stdout) if command == "kinds" else ("900005" in proc.stdout)


def test_run_with_checks_mask_and_report(
    emulator: WeChatEmulator, image_files: Callable[..., list[str]], tmp_path: Path
) -> None:
    paths = image_files(2)
    import hashlib

    for path, number in zip(paths, ["11010519491231002X", "110105194912310021"], strict=True):
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        emulator.register(sha, "idcard", {"type": "Front", "name": "王五", "id": number})
    out, report = tmp_path / "ids.parquet", tmp_path / "audit.html"
    proc = run_cli(
        "run",
        str(Path(paths[0]).parent),
        "--kind",
        "idcard",
        "--out",
        str(out),
        "--checks",
        "--mask",
        "--report",
        str(report),
        "--as-of",
        "2026-01-01",
        "--chunk-size",
        "1",
        env=cli_env(emulator, tmp_path / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    df = pd.read_parquet(out)
    assert df["check_id_checksum"].tolist() == [True, False]
    assert df["name"].tolist() == ["王*", "王*"]
    html = report.read_text(encoding="utf-8")
    assert "check_id_checksum" in html and "110105194912310021" not in html
    assert all("*" in v for v in df["id"]) and all("*" in v for v in df["name"])


def test_no_shrink_and_storage_options_flags(emulator: WeChatEmulator, tmp_path: Path) -> None:
    from tests.helpers import make_png

    big = tmp_path / "imgs" / "big.png"
    big.parent.mkdir()
    big.write_bytes(make_png(3, 1100, 1100))  # noise PNG of ~3.6 MB
    assert big.stat().st_size > 2 * 1024 * 1024
    env = cli_env(emulator, tmp_path / "cache")
    out = tmp_path / "o.parquet"
    refused = run_cli(
        "run", str(big.parent), "--kind", "comm", "--out", str(out), "--no-shrink", env=env
    )
    assert refused.returncode == 0 and pd.read_parquet(out)["errcode"].tolist() == [900005]
    shrunk = run_cli("run", str(big.parent), "--kind", "comm", "--out", str(out), env=env)
    assert shrunk.returncode == 0 and pd.read_parquet(out)["errcode"].tolist() == [0]
    listing = tmp_path / "list.csv"
    pd.DataFrame({"path": ["memory://nowhere/x.png"]}).to_csv(listing, index=False)
    bad_opts = run_cli(
        "run",
        str(listing),
        "--kind",
        "comm",
        "--out",
        str(out),
        "--storage-options",
        "not json",
        env=env,
    )
    assert bad_opts.returncode == 2 and "storage-options" in bad_opts.stderr
    ok_opts = run_cli(
        "run",
        str(listing),
        "--kind",
        "comm",
        "--out",
        str(out),
        "--storage-options",
        '{"skip_instance_cache": true}',
        env=env,
    )
    assert ok_opts.returncode == 0, ok_opts.stderr
    assert pd.read_parquet(out)["errcode"].tolist() == [900001]  # a fresh memory:// is empty
