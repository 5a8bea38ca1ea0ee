"""Bounded memory whatever the input: documents (PDF pages rendered lazily, chunks bounded
by bytes) and runs without a cache (in-run duplicates kept off the heap)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

import ocr_frames as of
from ocr_frames._cache.store import NullCache, ResultCache
from ocr_frames._run import run as _run
from ocr_frames._run.chunker import Chunk, Chunker
from ocr_frames._run.options import RunOptions
from ocr_frames._run.summary import RunSummary
from ocr_frames._sources import paths as _paths
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.read import load_local
from ocr_frames._sources.source import Source
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ScriptedEngine, make_png


def noisy_pdf(pages: int, seed: int, size: tuple[int, int] = (300, 200)) -> bytes:
    """A PDF of scanned pages full of noise: every page renders to a big JPEG (~115 KB)."""
    rng = np.random.default_rng(seed)
    images = [
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
        for _ in range(pages)
    ]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


def _counting(sizes: list[int] | None = None) -> ScriptedEngine:
    """An in-process engine answering every image; the size of each image sent is noted in
    ``sizes`` (not the image: holding it would count as memory the run held)."""
    noted = [] if sizes is None else sizes

    def reply(kind: str, image: bytes | None) -> dict[str, Any]:
        noted.append(len(image or b""))
        return {"errcode": 0, "errmsg": "ok", "number": str(len(noted))}

    return ScriptedEngine(reply, identity="counting")


def _pdf_files(folder: Path, count: int, pages: int) -> list[str]:
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"doc{i}.pdf"
        path.write_bytes(noisy_pdf(pages, seed=i))
        paths.append(os.fspath(path))
    return paths


def test_pdf_pages_are_rendered_lazily_within_chunk_bytes(tmp_path: Path) -> None:
    # 6 documents x 12 pages: ~8 MB of page JPEGs and ~2.7 MB of PDFs in all.  With chunks
    # of 512 KB the run holds a few chunks (those prepared ahead) and one document read
    # ahead at a time, never every page of every document.
    paths = _pdf_files(tmp_path / "docs", 6, 12)
    limit = 512 * 1024
    of.recognize_to_parquet(  # warm-up: lazy imports and first-use caches are not measured
        paths[:1], "bankcard", tmp_path / "warm.parquet", engine=_counting(),
        cache_dir=False, progress=False, chunk_bytes=limit,
    )  # fmt: skip
    sizes: list[int] = []
    engine = _counting(sizes)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        summary = of.recognize_to_parquet(
            paths, "bankcard", tmp_path / "out.parquet", engine=engine,
            cache_dir=tmp_path / "cache", progress=False, concurrency=2, chunk_bytes=limit,
        )  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    pages = sum(sizes)
    assert summary.rows == 72 and engine.calls == 72 and pages > 6 * 1024 * 1024
    assert peak < 6 * limit, f"held {peak / 2**20:.1f} MB at once (pages: {pages / 2**20:.1f})"
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("page").to_pylist() == list(range(1, 13)) * 6
    assert table.column("source").to_pylist() == [p for p in paths for _ in range(12)]


def test_every_chunk_holds_at_most_chunk_bytes(tmp_path: Path) -> None:
    # the chunker itself, fed by the real loader: rows in input order, a document's pages
    # spread over chunks, each chunk's bytes (counted here, from its rows) under the limit
    paths = _pdf_files(tmp_path / "docs", 3, 6)
    (tmp_path / "card.png").write_bytes(make_png(1))
    values = [paths[0], os.fspath(tmp_path / "card.png"), paths[1], paths[2]]
    limit = 300 * 1024

    async def load(batch: list[Any], budget: Any, derived: bool) -> list[Source]:
        return await load_sources(batch, shrink=True, lazy_pages=True, budget=budget)

    async def lookup(keys: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    async def main() -> list[Chunk]:
        chunker = Chunker(values, load, lookup, lambda s: s.sha256, rows=5, max_bytes=limit)
        return [chunk async for chunk in chunker.chunks()]

    chunks = asyncio.run(main())
    for chunk in chunks:
        held = sum(len(row.data or b"") for row in chunk.rows)
        assert len(chunk.rows) <= 5 and (held <= limit or len(chunk.rows) == 1), held
    rows = [row for chunk in chunks for row in chunk.rows]
    eager = [load_local(value, shrink=True) for value in values]
    assert [r.sha256 for r in rows] == [p.sha256 for e in eager for p in (e.pages or (e,))]
    assert [p for c in chunks for p in c.positions] == [0] * 6 + [1] + [2] * 6 + [3] * 6
    assert sum(chunk.done for chunk in chunks) == 4 and len(chunks) >= 5


def test_chunk_bytes_do_not_change_the_rows_and_reruns_render_only_missing_pages(
    tmp_path: Path,
) -> None:
    paths = _pdf_files(tmp_path / "docs", 3, 5)
    paths.insert(1, os.fspath(tmp_path / "card.png"))
    (tmp_path / "card.png").write_bytes(make_png(3))
    cache_dir = tmp_path / "cache"

    def run(chunk_bytes: int, engine: ScriptedEngine, cache: Any = cache_dir) -> Any:
        return of.recognize(
            pd.Series(paths), "bankcard", engine=engine, cache_dir=cache, progress=False,
            chunk_bytes=chunk_bytes, chunk_size=4,
        )  # fmt: skip

    first = _counting()
    small = run(200 * 1024, first)
    big = run(64 * 1024 * 1024, _counting(), cache=False)
    assert first.calls == 16 and small.index.tolist() == [0] * 5 + [1] + [2] * 5 + [3] * 5
    for column in ("sha256", "page", "errcode"):
        assert small[column].tolist() == big[column].tolist()
    again = _counting()
    assert run(200 * 1024, again)["cached"].all() and again.calls == 0  # digests known
    lost = [ResultCache.key(s, "bankcard", "counting") for s in small["sha256"].iloc[[2, 8]]]
    with contextlib.closing(sqlite3.connect(cache_dir / "cache.db")) as db, db:
        db.executemany("DELETE FROM Cache WHERE key = ?", [(key,) for key in lost])
    partial = _counting()
    rerun = run(200 * 1024, partial)
    assert partial.calls == 2  # only the pages whose answers were lost
    assert rerun["sha256"].tolist() == small["sha256"].tolist()
    assert rerun["cached"].tolist() == [i not in (2, 8) for i in range(16)]


def test_repeated_and_mapped_documents_give_the_same_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # big PDFs are read into memory of their own (paths._read_document): make every PDF
    # "big"; a document repeated within a read-ahead batch is one object used twice
    monkeypatch.setattr(_paths, "_MAP_MIN_BYTES", 1)
    paths = _pdf_files(tmp_path / "docs", 2, 3)
    engine = _counting()
    df = of.recognize(
        [paths[0], paths[1], paths[0]], "bankcard", engine=engine, cache_dir=False,
        progress=False, chunk_bytes=150 * 1024,
    )  # fmt: skip
    eager = [load_local(path, shrink=True) for path in paths]
    expected = [[p.sha256 for p in src.pages or ()] for src in eager]
    assert df["sha256"].tolist() == expected[0] + expected[1] + expected[0]
    assert df["page"].tolist() == [1, 2, 3] * 3
    assert engine.calls == 6 and df["cached"].tolist() == [False] * 6 + [True] * 3


def test_no_cache_duplicate_map_stays_bounded_and_duplicates_are_billed_once(
    emulator: WeChatEmulator, engine: of.WeChatEngine
) -> None:
    # 40 chunks of 8 distinct images, then every image again: with cache_dir=False the
    # run keeps in-run answers off the heap, yet no duplicate is ever paid for.
    distinct = [make_png(1000 + i) for i in range(320)]
    values = distinct + distinct[::-1]
    opts = RunOptions(concurrency=4, max_bytes=2**21 - 1, chunk_size=8, progress=False)
    summary = RunSummary(kind="bankcard", engine=engine.identity)
    run = _run._Run(engine, NullCache(), "bankcard", opts, summary)
    largest = 0

    async def main() -> int:
        nonlocal largest
        rows = 0
        try:
            async for answers, _ in run.chunks(values):
                rows += len(answers)
                largest = max(largest, len(run.inflight))
        finally:
            await engine.aclose()
        return rows

    assert asyncio.run(main()) == 640
    lookahead = max(2, -(-4 * opts.concurrency // opts.chunk_size))
    assert largest <= opts.chunk_size * (lookahead + 3), largest
    assert emulator.total_billed == 320 and set(emulator.billed.values()) == {1}
    assert summary.duplicates == 320


def _open_files() -> set[str]:
    fds = Path(f"/proc/{os.getpid()}/fd")
    names = set()
    for fd in fds.iterdir():
        try:
            names.add(os.readlink(fd))
        except OSError:
            continue
    return names


def test_no_cache_run_store_is_gone_after_a_failed_run(engine: of.WeChatEngine) -> None:
    before = _open_files()

    def fail_after_20(kind: str, image: bytes | None) -> dict[str, Any]:
        if failing.calls > 20:
            raise of.ConfigurationError("stop here")
        return {"errcode": 0, "errmsg": "ok", "number": str(failing.calls)}

    failing = ScriptedEngine(fail_after_20, identity="counting")

    images = [make_png(2000 + i) for i in range(30)] * 3
    try:
        of.recognize(images, "bankcard", engine=failing, cache_dir=False, progress=False,
                     chunk_size=8, concurrency=1)  # fmt: skip
    except of.ConfigurationError:
        pass
    else:
        raise AssertionError("the engine's error was not raised")
    assert _open_files() - before == set()
