"""Outputs holding personal data are private by default (issue 12 #7).

The process umask is set to 022 (the usual default, under which a plain open() makes
0644 files) for each test, so every assertion below fails if a file is created the
ordinary way.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import ocr_frames as of
from ocr_frames import checks
from ocr_frames._cache import tools as cachetools
from ocr_frames._cache.store import ResultCache
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env, run_cli


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_parquet_report_and_export_are_0600_by_default(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(3)
    out = tmp_path / "ids.parquet"
    out.write_bytes(b"old")  # an existing, world-readable file is replaced by a private one
    out.chmod(0o644)
    cache_dir = tmp_path / "cache"
    of.recognize_to_parquet(
        paths, "idcard", out, engine=engine, cache_dir=cache_dir, progress=False
    )
    assert _mode(out) == 0o600
    assert not list(tmp_path.glob(".ids.parquet.tmp-*"))

    report = tmp_path / "report.html"
    df = of.recognize(paths, "idcard", engine=engine, cache_dir=cache_dir, progress=False)
    checks.report_html(df, "idcard", path=report)
    assert _mode(report) == 0o600

    written = tmp_path / "written.parquet"
    of.write_parquet(df, written)
    assert _mode(written) == 0o600

    export = tmp_path / "answers.jsonl"
    export.write_text("old")
    export.chmod(0o644)  # O_TRUNC alone would keep this mode
    with ResultCache(cache_dir) as cache:
        assert cachetools.export_cache(cache, export) == 3
    assert _mode(export) == 0o600


def test_file_mode_relaxes_exactly_what_is_asked(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(2)
    out = tmp_path / "shared.parquet"
    of.recognize_to_parquet(
        paths, "idcard", out, engine=engine, cache_dir=False, progress=False, file_mode=0o640
    )
    assert _mode(out) == 0o640
    with pytest.raises(of.ConfigurationError, match="file_mode"):
        of.recognize_to_parquet(paths, "idcard", out, engine=engine, file_mode=0o1777)


def test_cli_outputs_private_unless_file_mode_given(
    emulator: WeChatEmulator, image_files: ImageFiles, tmp_path: Path
) -> None:
    folder = Path(image_files(2)[0]).parent
    env = cli_env(emulator, tmp_path / "cache")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli("run", str(folder), "--kind", "idcard", "--no-progress", *extra, env=env)

    private = tmp_path / "private.parquet"
    report = tmp_path / "r.html"
    proc = run("--out", str(private), "--checks", "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert (_mode(private), _mode(report)) == (0o600, 0o600)

    shared = tmp_path / "shared.parquet"
    proc = run("--out", str(shared), "--file-mode", "0644")
    assert proc.returncode == 0, proc.stderr
    assert _mode(shared) == 0o644

    bad = run("--out", str(tmp_path / "x.parquet"), "--file-mode", "rw-r--r--")
    assert bad.returncode == 2 and "--file-mode" in bad.stderr

    export = tmp_path / "all.jsonl"
    cache_dir = str(tmp_path / "cache")
    proc = run_cli(
        "cache", "export", str(export), "--cache-dir", cache_dir, "--file-mode", "644", env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert _mode(export) == 0o644


def test_an_output_is_replaced_whole_never_truncated_through_a_symlink(
    engine: of.WeChatEngine, image_files: ImageFiles, tmp_path: Path
) -> None:
    paths = image_files(2)
    cache_dir = tmp_path / "cache"
    df = of.recognize(paths, "idcard", engine=engine, cache_dir=cache_dir, progress=False)
    elsewhere = tmp_path / "someone_elses.txt"
    elsewhere.write_text("keep me")
    for name, write in [
        ("report.html", lambda p: checks.report_html(df, "idcard", path=p)),
        ("export.jsonl", lambda p: _export(cache_dir, p)),
    ]:
        link = tmp_path / name
        link.symlink_to(elsewhere)
        write(link)
        assert not link.is_symlink() and _mode(link) == 0o600
        assert elsewhere.read_text() == "keep me"
    assert not list(tmp_path.glob(".*.tmp-*"))


def _export(cache_dir: Path, path: Path) -> int:
    with ResultCache(cache_dir) as cache:
        return cachetools.export_cache(cache, path)
