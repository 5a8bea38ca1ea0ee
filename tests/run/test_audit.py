"""Checks and masking in the stream: the file written chunk by chunk holds exactly what
``add_checks`` then ``mask_frame`` give on the whole table, duplicates across chunks
included, and the report built from the stream is the whole table's report.  Ctrl-C in
the second pass stops it at once and writes nothing; the chunks it reads wait beside the
output, private and compressed."""

from __future__ import annotations

import os
import re
import signal
import stat
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._run import audit
from ocr_frames._tables.frames import to_pandas
from ocr_frames.checks import add_checks, add_review, report_html
from ocr_frames.checks._stream import StreamChecks
from ocr_frames.mask import mask_frame
from ocr_frames.testing import WeChatEmulator
from tests.helpers import make_png

AS_OF = date(2026, 1, 1)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check 3 rows at a time (4096 by default): chunks of 2 rows, batches of 4, so
    duplicate pairs span both."""
    monkeypatch.setattr(audit, "CHECK_ROWS", 3)


GOOD, BAD = "11010519491231002X", "110105194912310021"


def _images(emulator: WeChatEmulator, tmp_path: Path) -> list[str]:
    """Eleven rows over chunks of 2: the same file in chunks 1 and 5, the same ID number
    on two images in chunks 1 and 4, an error row, a bad check character."""
    numbers = [GOOD, BAD, "440106198001101009", GOOD, "510104199001011234", GOOD]
    paths = []
    for i, number in enumerate(numbers):
        path = tmp_path / f"img{i}.png"
        path.write_bytes(make_png(500 + i))
        emulator.register(
            path.read_bytes(),
            "idcard",
            {"type": "Front", "name": f"王{i}", "gender": "男", "id": number},
        )
        paths.append(str(path))
    missing = str(tmp_path / "missing.png")
    return [paths[0], paths[1], paths[2], paths[3], missing, paths[4], paths[5], paths[0],
            paths[2], paths[1], paths[3]]  # fmt: skip


def _whole(images: list[str], engine: of.WeChatEngine, *, mask: bool) -> pd.DataFrame:
    df = of.recognize(images, "idcard", engine=engine, cache_dir=False, progress=False)
    checked = add_review(add_checks(df, "idcard", as_of=AS_OF))
    return mask_frame(checked, "idcard") if mask else checked


@pytest.mark.parametrize("mask", [False, True])
def test_parquet_stream_equals_the_whole_table(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path, mask: bool
) -> None:
    images = _images(emulator, tmp_path)
    out = tmp_path / "ids.parquet"
    kw = {"engine": engine, "cache_dir": False, "progress": False, "as_of": AS_OF}
    of.recognize_to_parquet(images, "idcard", out, chunk_size=2, checks=True, mask=mask, **kw)
    streamed = of.read_parquet(out)
    expected = _whole(images, engine, mask=mask)
    assert streamed["source"].tolist() == images
    assert list(streamed.columns) == ["source", *expected.columns]
    assert pq.read_metadata(out).num_row_groups == 1  # written once, by the one writer
    pd.testing.assert_frame_equal(
        streamed.drop(columns=["source", "cached"]),
        expected.drop(columns=["cached"]),
        check_dtype=not mask,  # masked columns: text in both, string dtypes may differ
    )
    # the case that needs the second pass: row 0's duplicate only comes in chunk 4
    assert streamed["check_image_unique"].tolist()[:2] == [False, False]
    assert streamed["check_image_group"].iloc[7] == 0
    assert "same image as row 7" in streamed["check_problems"].iloc[0]
    assert streamed["check_number_unique"].iloc[0] == False  # noqa: E712  (row 3's image)


def test_arrow_stream_equals_the_whole_table(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    images = _images(emulator, tmp_path)
    kw = {"engine": engine, "cache_dir": False, "progress": False, "as_of": AS_OF}
    table = of.recognize_arrow(images, "idcard", chunk_size=3, checks=True, **kw)
    expected = _whole(images, engine, mask=False)
    assert table.column_names == list(expected.columns)
    assert table.schema.field("check_id_age").type == pa.int64()
    pd.testing.assert_frame_equal(
        to_pandas(table.replace_schema_metadata(None)).drop(columns=["cached"]),
        expected.drop(columns=["cached"]),
    )


def test_mask_alone_streams_straight_to_the_file(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    images = _images(emulator, tmp_path)
    out = tmp_path / "masked.parquet"
    kw = {"engine": engine, "cache_dir": False, "progress": False}
    of.recognize_to_parquet(images, "idcard", out, chunk_size=2, mask=True, **kw)
    back = of.read_parquet(out)
    assert not any(c.startswith("check_") for c in back.columns)
    assert back["name"].dropna().tolist() == ["王*"] * 10
    assert GOOD not in set(back["id"].dropna())


def test_report_from_the_stream_is_the_whole_tables_report(
    emulator: WeChatEmulator, engine: of.WeChatEngine, tmp_path: Path
) -> None:
    images = _images(emulator, tmp_path)
    out, page = tmp_path / "ids.parquet", tmp_path / "ids.html"
    kw = {"engine": engine, "cache_dir": False, "progress": False, "as_of": AS_OF}
    of.recognize_to_parquet(images, "idcard", out, chunk_size=2, report=page, **kw)
    whole = of.read_parquet(out)  # --report implies checks
    assert "check_passed" in whole.columns
    expected = report_html(whole, "idcard", as_of=AS_OF)

    def undated(text: str) -> str:
        return re.sub(r"generated [^·]*·", "", text)

    assert undated(page.read_text(encoding="utf-8")) == undated(expected)
    assert page.stat().st_mode & 0o777 == 0o600
    assert GOOD not in expected and "王*" in expected


@pytest.mark.parametrize("entry", ["recognize_to_parquet", "recognize_arrow"])
def test_an_interrupt_in_the_second_pass_stops_it_and_writes_nothing(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    entry: str,
) -> None:
    """Ctrl-C as the second pass begins (the run under ``asyncio.run``, as a script or the
    CLI has it): the pass stops at the next chunk, the writer is aborted (no file, no
    report, no temporary), and every answer stays cached."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    images = _images(emulator, tmp_path)
    cache, out, page = tmp_path / "cache", tmp_path / "out" / "ids.parquet", tmp_path / "r.html"
    out.parent.mkdir()
    parts: list[int] = []
    sent: list[float] = []
    second = StreamChecks.second

    def interrupted(self: StreamChecks, part: pa.Table) -> pa.Table:
        if part.num_rows:  # not the output schema's probe
            parts.append(part.num_rows)
        if len(parts) == 1 and not sent:
            sent.append(time.monotonic())
            signal.raise_signal(signal.SIGINT)
        return second(self, part)

    monkeypatch.setattr(StreamChecks, "second", interrupted)
    kw = {"engine": engine, "cache_dir": cache, "progress": False, "as_of": AS_OF}
    with pytest.raises(KeyboardInterrupt):
        if entry == "recognize_arrow":
            of.recognize_arrow(images, "idcard", chunk_size=2, checks=True, **kw)
        else:
            of.recognize_to_parquet(images, "idcard", out, chunk_size=2, report=page, **kw)
    took = time.monotonic() - sent[0]
    assert len(parts) == 1, f"the pass went on over {len(parts)} chunks after the interrupt"
    assert took < 1.0
    assert not out.exists() and not page.exists()
    assert not list(out.parent.iterdir()), "a temporary file was left beside the output"
    billed = emulator.total_billed
    assert billed == 6  # every distinct image was sent before the pass
    monkeypatch.undo()
    of.recognize_to_parquet(images, "idcard", out, chunk_size=2, report=page, **kw)
    assert emulator.total_billed == billed, "answers of the interrupted run were lost"
    assert len(of.read_parquet(out)) == len(images) and page.exists()


def test_an_interrupt_while_every_rows_duplicates_are_judged_stops_at_once(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one step of the second pass whose time grows with the whole run: it runs off
    the event loop, so Ctrl-C is not held up by it (here it takes 3 s, as for a run of
    many millions of rows)."""
    images = _images(emulator, tmp_path)
    out = tmp_path / "ids.parquet"
    judge = StreamChecks.judge
    sent: list[float] = []

    def slow(self: StreamChecks) -> None:
        if threading.current_thread() is not threading.main_thread():  # not the probe's
            sent.append(time.monotonic())
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            time.sleep(3)
        judge(self)

    monkeypatch.setattr(StreamChecks, "judge", slow)
    kw = {"engine": engine, "cache_dir": False, "progress": False, "as_of": AS_OF}
    with pytest.raises(KeyboardInterrupt):
        of.recognize_to_parquet(images, "idcard", out, chunk_size=2, checks=True, **kw)
    assert sent, "the duplicates were judged on the event loop's thread"
    assert time.monotonic() - sent[0] < 1.0
    assert not list(tmp_path.glob("*ids.parquet*"))


def test_held_chunks_spill_beside_the_output_private_nameless_and_compressed(
    tmp_path: Path,
) -> None:
    held = audit._Spilled(tmp_path)
    table = pa.table({"name": ["王五 " * 20] * 2000, "n": list(range(2000))})
    held.put(table)
    held.put(table.slice(0, 10))
    assert held._file is not None
    fd = held._file.fileno()
    where = os.readlink(f"/proc/self/fd/{fd}")
    assert where.startswith(f"{tmp_path}/") and where.endswith(" (deleted)"), where
    info = os.fstat(fd)
    assert info.st_nlink == 0 and stat.S_IMODE(info.st_mode) == 0o600
    assert not list(tmp_path.iterdir())  # no name in the directory, even while held
    assert audit.SPILL_COMPRESSION in ("zstd", "lz4")
    assert info.st_size < table.nbytes / 10, (info.st_size, table.nbytes)
    back = pa.concat_tables(held.tables())
    assert back.equals(pa.concat_tables([table, table.slice(0, 10)]))
    held.close()


def test_a_checks_run_needs_no_room_in_the_temporary_directory(
    emulator: WeChatEmulator,
    engine: of.WeChatEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``/tmp`` unusable (here: not a directory at all): the chunks wait beside the output."""
    not_a_dir = tmp_path / "tmp-is-a-file"
    not_a_dir.write_bytes(b"")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_dir))
    images = _images(emulator, tmp_path)
    out = tmp_path / "ids.parquet"
    kw = {"engine": engine, "cache_dir": False, "progress": False, "as_of": AS_OF}
    of.recognize_to_parquet(images, "idcard", out, chunk_size=2, checks=True, **kw)
    assert of.read_parquet(out)["check_image_unique"].tolist()[:2] == [False, False]
