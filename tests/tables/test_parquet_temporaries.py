"""Temporary files of the atomic Parquet writer: a dead writer's file goes, a live one's
stays, whatever the process ids say (a restarted container is PID 1 again)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ocr_frames._tables.parquet import AtomicParquetWriter

SCHEMA = pa.schema([pa.field("x", pa.int64())])


def _temporaries(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.tmp-*"))


def test_a_dead_writers_file_is_removed_even_if_its_pid_is_alive(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    # what a killed writer leaves when its pid now belongs to a live process (ours)
    stale = tmp_path / f".out.parquet.tmp-{os.getpid()}"
    stale.write_bytes(b"PAR1 half written")
    with AtomicParquetWriter(target, SCHEMA) as writer:
        writer.write(pa.table({"x": [1, 2]}, schema=SCHEMA))
        assert not stale.exists()
    assert pq.read_table(target)["x"].to_pylist() == [1, 2]
    assert _temporaries(target) == []


def test_a_live_writers_file_survives_and_a_killed_ones_goes(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    child = textwrap.dedent(
        f"""
        import sys, pyarrow as pa
        from ocr_frames._tables.parquet import AtomicParquetWriter
        schema = pa.schema([pa.field("x", pa.int64())])
        w = AtomicParquetWriter({str(target)!r}, schema)
        w.write(pa.table({{"x": [1]}}, schema=schema))
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        _race_a_live_writer(proc, target)


def _race_a_live_writer(proc: subprocess.Popen[str], target: Path) -> None:
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        live = _temporaries(target)
        assert len(live) == 1
        with AtomicParquetWriter(target, SCHEMA) as writer:  # another writer starts
            assert live[0].exists(), "a live writer's temporary file was removed"
            writer.write(pa.table({"x": [7]}, schema=SCHEMA))
        assert live[0].exists()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with AtomicParquetWriter(target, SCHEMA) as writer:
            writer.write(pa.table({"x": [8]}, schema=SCHEMA))
        assert _temporaries(target) == []
        assert pq.read_table(target)["x"].to_pylist() == [8]
    finally:
        proc.kill()
        proc.wait(timeout=30)
