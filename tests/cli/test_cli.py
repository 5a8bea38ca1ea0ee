"""The ``ocr-frames`` command in real subprocesses, against the emulator over real HTTP."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env, make_png, run_cli


def test_help_lists_commands_and_exit_codes() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    assert "run" in top.stdout and "kinds" in top.stdout
    run = run_cli("run", "--help")
    assert run.returncode == 0
    assert "WECHAT_APPID" in run.stdout and "exit codes" in run.stdout


def test_run_folder_writes_parquet_and_summary(
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
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
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
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
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
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
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
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


@pytest.mark.parametrize("command", ["kinds", "codes"])
def test_listing_commands(command: str) -> None:
    proc = run_cli(command)
    assert proc.returncode == 0
    assert ("idcard" in proc.stdout) if command == "kinds" else ("900005" in proc.stdout)


def test_run_with_checks_mask_and_report(
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(2)
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
    with_options = ("run", str(listing), "--kind", "comm", "--out", str(out), "--storage-options")
    bad_opts = run_cli(*with_options, "not json", env=env)
    assert bad_opts.returncode == 2 and "storage-options" in bad_opts.stderr
    ok_opts = run_cli(*with_options, '{"skip_instance_cache": true}', env=env)
    assert ok_opts.returncode == 0, ok_opts.stderr
    assert pd.read_parquet(out)["errcode"].tolist() == [900001]  # a fresh memory:// is empty


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--report", "{tmp}/no-such-dir/audit.html", "no such directory"),
        ("--report", "{tmp}", "report is a directory"),
        ("--out", "{tmp}", "--out is a directory"),
        ("--storage-options", "[1]", "storage_options must be a mapping"),
        ("--storage-options", '{{"anon": true, "1": 2}}', None),
    ],
)
def test_bad_paths_and_options_exit_2_before_any_call(
    flag: str,
    value: str,
    message: str | None,
    emulator: WeChatEmulator,
    image_files: ImageFiles,
    tmp_path: Path,
) -> None:
    folder = str(Path(image_files(2)[0]).parent)
    out = tmp_path / "o.parquet"
    args = {"--out": str(out), flag: value.format(tmp=tmp_path)}
    flags = [text for pair in args.items() for text in pair]
    proc = run_cli(
        "run", folder, "--kind", "idcard", *flags, env=cli_env(emulator, tmp_path / "cache")
    )
    if message is None:  # the good case of the same flag, for contrast
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert emulator.total_billed == 0 and not out.exists()


#: ``ocr-frames`` with Ctrl-C (a real SIGINT to itself) as the second pass of ``--checks``
#: begins, and the number of chunks that pass went on to afterwards printed at exit.
_INTERRUPTED_CLI = textwrap.dedent(
    """
    import atexit, signal, sys
    from ocr_frames.checks._stream import StreamChecks
    from ocr_frames.cli import main

    parts = []
    second = StreamChecks.second

    def interrupted(self, part):
        if part.num_rows:  # not the output schema's probe
            parts.append(part.num_rows)
            if len(parts) == 1:
                signal.raise_signal(signal.SIGINT)
        return second(self, part)

    StreamChecks.second = interrupted
    atexit.register(lambda: print(f"second-pass chunks: {len(parts)}", file=sys.stderr))
    sys.exit(main(sys.argv[1:]))
    """
)


def test_ctrl_c_in_the_checks_second_pass_writes_no_file(
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
) -> None:
    folder = str(Path(image_files(6)[0]).parent)
    out, page = tmp_path / "out" / "ids.parquet", tmp_path / "audit.html"
    args = [
        "run", folder, "--kind", "idcard", "--out", str(out), "--report", str(page),
        "--chunk-size", "2", "--no-progress",
    ]  # fmt: skip
    env = cli_env(emulator, tmp_path / "cache")
    proc = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 130, proc.stderr
    assert "second-pass chunks: 1" in proc.stderr, proc.stderr
    assert not out.exists() and not page.exists()
    assert not list(out.parent.iterdir()), "a temporary file was left beside the output"
    assert emulator.total_billed == 6
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 billed calls" in again.stderr and page.exists()
    assert emulator.total_billed == 6
