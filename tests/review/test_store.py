"""The reviews file: format, 0600, atomic and concurrent appends, validation (issue 16)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ocr_frames.review import _store
from ocr_frames.review._store import (
    REVIEWS_SCHEMA,
    Review,
    ReviewLog,
    current_user,
    read_reviews,
    reviews_path,
    reviews_table,
)
from tests.helpers import REPO

SHA = "ab" * 32


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _approve(row: int, note: str) -> Review:
    return Review(row, SHA, None, None, None, None, "approve", note)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("x/OUT.parquet", "x/OUT.reviews.parquet"),
        ("OUT.parquet", "OUT.reviews.parquet"),
        ("x/out.pq", "x/out.pq.reviews.parquet"),
        ("x/a.parquet.bak", "x/a.parquet.bak.reviews.parquet"),
    ],
)
def test_reviews_file_sits_beside_the_output(output: str, expected: str) -> None:
    assert reviews_path(output) == Path(expected)


def test_a_missing_file_reads_as_an_empty_table_with_the_schema(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path / "none.reviews.parquet")
    table = log.read()
    assert table.num_rows == 0 and table.schema.equals(REVIEWS_SCHEMA)
    frame = read_reviews(tmp_path / "none.reviews.parquet")
    assert list(frame.columns) == REVIEWS_SCHEMA.names and len(frame) == 0
    log.append([])  # nothing to write: no file appears
    assert not log.path.exists()


def test_records_round_trip_through_a_private_parquet_file(tmp_path: Path) -> None:
    log = ReviewLog(reviews_path(tmp_path / "OUT.parquet"))
    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    log.append([Review(3, SHA, 2, "name", "张三", "张山", "correct", "typo", "ana", at)])
    log.append([_approve(4, "ok")])
    assert _mode(log.path) == 0o600 and _mode(log.lock_path) == 0o600
    table = pq.read_table(log.path)  # a plain Parquet file anyone can read back
    assert table.schema.names == REVIEWS_SCHEMA.names
    assert table.schema.field("at").type == REVIEWS_SCHEMA.field("at").type
    first, second = table.to_pylist()
    assert first["row"] == 3 and first["page"] == 2 and first["new"] == "张山"
    assert first["at"] == at and first["at"].utcoffset() == timedelta(0)  # stored in UTC
    assert first["reviewer"] == "ana" and second["reviewer"] == current_user()
    assert second["field"] is None and second["decision"] == "approve"
    frame = read_reviews(log.path)
    assert frame["row"].tolist() == [3, 4] and str(frame["at"].dt.tz) == "UTC"
    assert reviews_table(frame).equals(log.read())  # a frame of it converts back


def test_an_append_makes_a_widened_file_private_again(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path / "r.reviews.parquet")
    log.append([_approve(0, "a")])
    log.path.chmod(0o644)
    log.append([_approve(1, "b")])
    assert _mode(log.path) == 0o600 and log.read().num_rows == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, SHA, None, None, None, None, "maybe"), "decision must be one of"),
        ((0, SHA, None, None, None, "x", "correct"), "must name the field"),
        ((0, SHA, None, "name", "x", None, "correct"), "needs the new value"),
        ((-1, SHA, None, None, None, None, "approve"), "row must be"),
        ((True, SHA, None, None, None, None, "approve"), "row must be"),
        ((0, SHA, "2", None, None, None, "approve"), "page must be"),
    ],
)
def test_records_that_make_no_sense_are_refused(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Review(*args)  # type: ignore[arg-type]


def test_a_naive_time_is_refused_and_only_reviews_are_appended(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Review(0, SHA, None, None, None, None, "approve", at=datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="Review records"):
        ReviewLog(tmp_path / "r.parquet").append([{"row": 0}])  # type: ignore[list-item]


def test_a_file_that_is_not_a_reviews_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.reviews.parquet"
    pq.write_table(REVIEWS_SCHEMA.empty_table().drop_columns(["decision"]), path)
    with pytest.raises(ValueError, match="not a table of reviews"):
        ReviewLog(path).append([_approve(0, "a")])


def test_two_threads_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "OUT.reviews.parquet"
    start = threading.Barrier(2)

    def tab(name: str) -> None:
        log = ReviewLog(path)  # one log per tab: the flock must serialise them too
        start.wait()
        for i in range(50):
            log.append([_approve(i, f"{name}-{i}")])

    threads = [threading.Thread(target=tab, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    notes = sorted(ReviewLog(path).read().column("note").to_pylist())
    assert notes == sorted(f"{name}-{i}" for name in "ab" for i in range(50))
    assert _mode(path) == 0o600


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ocr_frames.review._store import Review, ReviewLog
    path, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    log = ReviewLog(path)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    for i in range(40):
        log.append([Review(i, None, None, None, None, None, "reject", f"{name}-{i}")])
    """
)


def test_two_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    path, go = tmp_path / "OUT.reviews.parquet", tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(go)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("p", "q")
    ]
    for writer in writers:  # both imported and waiting: then they start together
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=60) == 0
        assert writer.stdout is not None
        writer.stdout.close()
    notes = sorted(ReviewLog(path).read().column("note").to_pylist())
    assert notes == sorted(f"{name}-{i}" for name in "pq" for i in range(40))
    assert _mode(path) == 0o600
    assert not list(tmp_path.glob(".*.tmp-*"))  # no temporary file left behind


def test_a_symlink_planted_at_the_temporary_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ReviewLog(tmp_path / "OUT.reviews.parquet")
    log.append([_approve(0, "kept")])
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    planted = tmp_path / ".OUT.reviews.parquet.tmp-planted"
    planted.symlink_to(elsewhere)
    monkeypatch.setattr(_store, "temporary_beside", lambda target: planted)
    with pytest.raises(FileExistsError):
        log.append([_approve(1, "new")])
    assert elsewhere.read_text() == "not yours"
    assert log.read().column("note").to_pylist() == ["kept"]


def test_a_crash_while_writing_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = ReviewLog(tmp_path / "OUT.reviews.parquet")
    log.append([_approve(0, "kept")])

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        log.append([_approve(1, "lost")])
    monkeypatch.undo()
    assert log.read().column("note").to_pylist() == ["kept"]
    assert not list(tmp_path.glob(".*.tmp-*"))
    log.append([_approve(1, "next")])  # the lock was released: the next append works
    assert log.read().column("note").to_pylist() == ["kept", "next"]


def test_readers_see_whole_files_while_a_writer_appends(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path / "OUT.reviews.parquet")
    log.append([_approve(0, "first")])
    done = threading.Event()
    sizes: list[int] = []

    def read_all() -> None:
        while not done.is_set():
            sizes.append(ReviewLog(log.path).read().num_rows)
            time.sleep(0.001)

    reader = threading.Thread(target=read_all)
    reader.start()
    for i in range(30):
        log.append([_approve(i, str(i))])
    done.set()
    reader.join()
    assert sizes and sizes == sorted(sizes) and max(sizes) <= 31
    assert os.path.getsize(log.path) > 0
