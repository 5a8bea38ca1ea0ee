"""One run's machinery: chunks of rows through sources, cache, claims, pool and back.

Rows move through the stages in chunks of at most ``chunk_size`` rows and ``chunk_bytes``
bytes of image data (:mod:`ocr_frames._run.chunker`): sources are read and hashed in threads,
the cache is asked for the whole chunk at once, duplicates within the run are sent once,
other processes' in-flight images are waited for (claims), misses go to the
:class:`~ocr_frames._engine.policy.CallPool`, and each answer is committed to the cache before its
call's slot is freed (group commit in a writer thread).  A few chunks are prepared ahead so
the pool never drains at chunk borders; chunks are emitted in input order, so streaming to
Parquet needs bounded memory.  A row's image bytes are let go once its call is done.

In-run duplicates: a call's task serves the rows of its image while it runs; once done,
its answer is in the cache or, when the cache does not keep it (``cache_dir=False``, a
failed call), in the run's temporary store on disk (:mod:`ocr_frames._run.runstore`), so a
long run holds no more answers in memory than its chunks in flight.

A document input (PDF, multi-page TIFF) becomes one output row per page, its pages
rendered as their chunk is formed: a chunk yields its answers together with each
answer's input position (and the answer's ``page``), so callers repeat the input value
and index per page.  Images re-encoded by ``shrink`` are keyed by the bytes sent; the
``original → sent`` table (:mod:`ocr_frames._cache.derived`) lets a rerun find them in the
cache without re-encoding, and only the rare miss (answer not cached) is loaded and
encoded again.  With ``quality``, each row's image is also judged while its chunk's calls
are in flight (:mod:`ocr_frames._run.quality`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from ocr_frames._cache.claims import Claims
from ocr_frames._cache.derived import DerivedStore
from ocr_frames._cache.store import NullCache, ResultCache
from ocr_frames._cache.writer import CacheWriter
from ocr_frames._engine.contract import Engine, RunAware
from ocr_frames._engine.policy import CallPool, RetryPolicy
from ocr_frames._errors import CACHEABLE_CODES, E_BAD_RESPONSE, E_NOT_DONE
from ocr_frames._http.urlpolicy import download_client
from ocr_frames._run.chunker import Chunk, Chunker
from ocr_frames._run.options import RunOptions
from ocr_frames._run.progress import Progress
from ocr_frames._run.quality import Assessor, Pending, quality_columns
from ocr_frames._run.runstore import RunStore
from ocr_frames._run.summary import RunSummary
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.source import ByteBudget, Source
from ocr_frames._tables.flatten import to_arrow
from ocr_frames.wechat import WeChatEngine

log = logging.getLogger("ocr_frames")

Answer = dict[str, Any]
CacheLike = ResultCache | NullCache
CacheDir = str | Any | None  # str | PathLike | None | Literal[False]


def column_values(images: Any) -> tuple[list[Any], pd.Index | None]:
    """Any supported column → (list of values, pandas index or None)."""
    if isinstance(images, pd.Series):
        return images.tolist(), images.index
    if isinstance(images, (pa.Array, pa.ChunkedArray)):
        return images.to_pylist(), None
    if type(images).__module__.partition(".")[0] == "polars":  # no import of polars needed
        return list(images.to_list()), None
    if hasattr(images, "tolist") and not isinstance(images, (str, bytes)):
        return list(images.tolist()), None
    if isinstance(images, (str, bytes)):
        raise TypeError("images must be a column (Series, list, array), not a single value")
    return list(images), None


def _open_cache(cache_dir: CacheDir) -> CacheLike:
    if cache_dir is False:
        return NullCache()
    if isinstance(cache_dir, (ResultCache, NullCache)):
        return cache_dir
    return ResultCache(cache_dir)


def default_engine() -> Engine:
    """The engine of a run given none: ``WeChatEngine.from_env()``."""
    return WeChatEngine.from_env()


def _error_answer(src: Source) -> Answer:
    return {"errcode": src.errcode, "errmsg": src.errmsg, "rid": None}


@dataclass
class Prepared:
    """One chunk on its way: a slot per output row, and the input position of each row."""

    slots: list[Answer | asyncio.Task[Answer]]
    positions: list[int]  # in the whole input
    pages: list[int | None]
    size: int  # input values whose last row is in the chunk
    quality: Pending | None = None  # each row's image being judged (``quality``)

    def with_pages(self, answers: list[Answer]) -> list[Answer]:
        """The answers with each row's ``page`` (1-based; None for single images)."""
        if not any(self.pages):
            return answers
        return [{**a, "page": page} for a, page in zip(answers, self.pages, strict=True)]


def _clean(answer: Mapping[str, Any]) -> Answer:
    """Make sure the pipeline-level keys exist and have the right types."""
    out = dict(answer)
    try:
        out["errcode"] = int(out.get("errcode", 0))
    except (TypeError, ValueError):
        out = {"errcode": E_BAD_RESPONSE, "errmsg": "engine returned a non-integer errcode"}
    out["errmsg"] = str(out.get("errmsg") or ("ok" if out["errcode"] == 0 else ""))
    out.setdefault("rid", None)
    return out


class _Run:
    """One run's state: the stages wired together (see the module docstring)."""

    def __init__(
        self, engine: Engine, cache: CacheLike, kind: str, opts: RunOptions, summary: RunSummary
    ):
        self.engine, self.cache, self.opts, self.summary = engine, cache, opts, summary
        self.identity, self.kind = engine.identity, kind
        # an engine of engines (``Cascade``) applies the run's policy to each of its own
        # engines' calls, and keeps their answers in the run's cache
        composite = isinstance(engine, RunAware)
        if isinstance(engine, RunAware):
            engine.bind_run(
                kind,
                cache,
                concurrency=opts.concurrency,
                rate_limit=opts.rate_limit,
                retry=opts.retry or RetryPolicy(),
            )
        self.pool = CallPool(
            engine,
            kind,
            concurrency=opts.concurrency,
            rate_limit=None if composite else opts.rate_limit,
            retry=RetryPolicy(max_attempts=1) if composite else opts.retry,
        )
        self.claims = Claims(cache.directory) if isinstance(cache, ResultCache) else None
        self.writer = CacheWriter(cache, self.claims)
        self.inflight: dict[str, asyncio.Task[Answer]] = {}
        # calls done since the last chunk: (key, answer the cache does not keep, or None)
        self.completed: list[tuple[str, Answer | None]] = []
        self.store: RunStore | None = None  # created when the first such answer comes
        directory = cache.directory if isinstance(cache, ResultCache) else None
        # not with ``quality``: rows known by digest alone hold no bytes to judge
        derive = opts.shrink and not opts.quality
        self.derived = DerivedStore(directory) if derive and directory else None
        self.assessor = Assessor() if opts.quality else None

    def key(self, src: Source) -> str | None:
        if src.sha256:
            return ResultCache.key(src.sha256, self.kind, self.identity)
        if src.url:  # passthrough: keyed by the URL text (documented caveat)
            digest = hashlib.sha256(src.url.encode("utf-8", "surrogatepass")).hexdigest()
            return ResultCache.key(digest, self.kind, self.identity, {"img_url": True})
        return None

    def _claim(self, keys: list[str]) -> tuple[set[str], dict[str, Answer]]:
        """Claim ``keys`` for sending; return (claimed, answers found in the cache).

        The cache is read *after* claiming: an answer committed by another process just
        before we claimed would otherwise be paid for twice.  (Worker thread.)
        """
        assert self.claims is not None
        owned = self.claims.acquire(keys)
        found = self.cache.get_many([k for k in keys if k in owned]) if owned else {}
        if found:
            self.claims.release(found)
        return owned - found.keys(), found

    async def wait_for_other(self, key: str, src: Source) -> Answer:
        """Another process claimed this image: take its answer from the cache when it
        lands, or send it ourselves if that process gives up (claim released or stale)."""
        assert self.claims is not None
        delay = 0.05
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            owned, found = await asyncio.to_thread(self._claim, [key])
            if key in found:
                self.completed.append((key, None))
                self.summary.cache_hits += 1
                return {**found[key], "sha256": src.sha256, "cached": True}
            if key in owned:
                return await self.send(key, src)

    async def send(self, key: str, src: Source) -> Answer:

        async def keep(raw: Answer) -> None:  # durable before the call's slot frees
            answer = _clean(raw)
            cached = answer["errcode"] in CACHEABLE_CODES and isinstance(self.cache, ResultCache)
            if cached or self.claims is not None:
                await self.writer.put(key, answer if cached else None)
            # later rows of these bytes: the cache has the answer, or the run store will
            self.completed.append((key, None if cached else answer))

        answer = _clean(await self.pool.call(src.data, img_url=src.url, keep=keep))
        return {**answer, "sha256": src.sha256, "cached": False}

    async def _load(
        self, values: list[Any], client: Any, budget: ByteBudget | None, derived: bool
    ) -> list[Source]:
        return await load_sources(
            values,
            url_mode=self.opts.url_mode,
            client=client,
            max_bytes=self.opts.max_bytes,
            download_timeout=self.opts.download_timeout,
            shrink=self.opts.shrink,
            derived=self.derived if derived else None,
            storage_options=self.opts.storage_options,
            url_policy=self.opts.url_policy,
            lazy_pages=True,
            budget=budget,
        )

    async def _retire(self) -> None:
        """Calls done since the last look: their rows' tasks leave the in-flight map; the
        answers the cache does not keep go to the run's store (on disk, not in memory)."""
        if not self.completed:
            return
        done, self.completed = self.completed, []
        kept = {key: answer for key, answer in done if answer is not None}
        if kept:
            if self.store is None:
                self.store = RunStore()
            await asyncio.to_thread(self.store.put_many, kept)
        for key, _ in done:
            self.inflight.pop(key, None)

    async def answers(self, keys: list[str]) -> tuple[dict[str, Answer], dict[str, Answer]]:
        """(answers in the cache, answers of earlier rows of this run) for the ``keys``
        not in flight."""
        await self._retire()
        ask = [k for k in dict.fromkeys(keys) if k not in self.inflight]
        cached = ask and not isinstance(self.cache, NullCache)
        hits = await asyncio.to_thread(self.cache.get_many, ask) if cached else {}
        rest = [k for k in ask if k not in hits]
        store = self.store
        known = await asyncio.to_thread(store.get_many, rest) if rest and store else {}
        return hits, known

    async def prepare(self, chunk: Chunk) -> Prepared:
        rows, chunk.rows = chunk.rows, []  # the tasks hold each row's bytes until sent
        keys = [self.key(s) if s.ok else None for s in rows]
        hits, known = dict(chunk.hits), dict(chunk.known)
        fresh = [k for k in keys if k is not None and k not in hits and k not in known]
        found, earlier = await self.answers(fresh)
        hits.update(found)
        known.update(earlier)
        answered = hits.keys() | known.keys() | self.inflight.keys()
        misses = [k for k in dict.fromkeys(fresh) if k not in answered]
        owned = set(misses)
        if self.claims is not None and misses:  # another process may be sending some
            owned, late = await asyncio.to_thread(self._claim, misses)
            hits.update(late)
        slots: list[Answer | asyncio.Task[Answer]] = []
        for src, key in zip(rows, keys, strict=True):
            if key is None:
                slots.append({**_error_answer(src), "sha256": src.sha256, "cached": False})
            elif key in hits:
                self.summary.cache_hits += 1
                slots.append({**hits[key], "sha256": src.sha256, "cached": True})
            elif key in known:  # an earlier row of this run got it
                self.summary.duplicates += 1
                slots.append({**known[key], "sha256": src.sha256, "cached": True})
            elif key in self.inflight:
                self.summary.duplicates += 1
                slots.append(asyncio.ensure_future(self._duplicate(self.inflight[key])))
            else:
                send = self.send(key, src) if key in owned else self.wait_for_other(key, src)
                task = asyncio.ensure_future(send)
                self.inflight[key] = task
                slots.append(task)
        quality = self.assessor.submit(rows) if self.assessor is not None else None
        return Prepared(slots, chunk.positions, [s.page for s in rows], chunk.done, quality)

    @staticmethod
    async def _duplicate(task: asyncio.Task[Answer]) -> Answer:
        # same bytes as an earlier row of this run: that row's call serves this one too
        return {**await asyncio.shield(task), "cached": True}

    async def chunks(
        self, values: Sequence[Any]
    ) -> AsyncGenerator[tuple[list[Answer], Prepared], None]:
        """Yield the answers chunk by chunk, in input order (with the chunk's row layout)."""
        lookahead = max(2, -(-4 * self.opts.concurrency // self.opts.chunk_size))
        queue: asyncio.Queue[Prepared | BaseException | None] = asyncio.Queue(lookahead)
        # an engine given an explicit proxy= lends it to the run's image downloads
        proxy = getattr(self.engine, "proxy", None)
        async with download_client(self.opts.url_policy, proxy=proxy) as client:

            async def load(batch: list[Any], budget: ByteBudget | None, derived: bool) -> Any:
                return await self._load(batch, client, budget, derived)

            chunker = Chunker(
                values,
                load,
                self.answers,
                self.key,
                rows=self.opts.chunk_size,
                max_bytes=self.opts.chunk_bytes,
            )

            async def produce() -> None:
                try:
                    async with contextlib.aclosing(chunker.chunks()) as chunks:
                        async for chunk in chunks:
                            await queue.put(await self.prepare(chunk))
                except Exception as exc:  # hand it to the consumer, which would wait forever
                    await queue.put(exc)
                    return
                await queue.put(None)

            producer = asyncio.ensure_future(produce())
            try:
                while (prepared := await queue.get()) is not None:
                    if isinstance(prepared, BaseException):
                        raise prepared
                    # shield: a cancel of this run must reach us even if a call lost it
                    # (asyncio.wait_for before 3.12 drops a cancel that meets a result)
                    answers = [
                        s if isinstance(s, dict) else await asyncio.shield(s)
                        for s in prepared.slots
                    ]
                    yield prepared.with_pages(answers), prepared
                await producer
            finally:
                producer.cancel()
                for t in self.inflight.values():
                    t.cancel()  # a no-op for calls already done
                # all of them: calls that failed after the one raised are retrieved too
                await asyncio.gather(producer, *self.inflight.values(), return_exceptions=True)
                await self.writer.aclose()
                if self.claims is not None:  # calls cancelled mid-flight, claiming threads
                    try:
                        await asyncio.to_thread(self.claims.release_all)
                    finally:
                        self.claims.close()  # later claims of still-running threads: refused
                if isinstance(self.engine, RunAware):
                    self.summary.paid = self.engine.billed
                    self.summary.billed_calls = self.engine.billed_calls
                    self.summary.retries = self.engine.retries
                    self.engine.unbind_run()
                else:
                    self.summary.billed_calls = self.pool.attempts
                    self.summary.retries = self.pool.retries
                if self.derived is not None:
                    self.derived.close()
                if self.assessor is not None:
                    self.assessor.close()
                if self.store is not None:
                    self.store.close()

    def tally(self, answers: Sequence[Answer]) -> None:
        for a in answers:
            code = a["errcode"]
            self.summary.rows += 1
            if code == 0:
                self.summary.ok += 1
            else:
                self.summary.errors[code] += 1
            if code == E_NOT_DONE:
                self.summary.not_done += 1
            self.summary.note_route(a)
        if self.pool.stopped is not None:
            self.summary.stopped = str(self.pool.stopped)


async def stream_tables(
    values: list[Any],
    engine: Engine,
    cache_dir: CacheDir,
    kind: str,
    opts: RunOptions,
    summary: RunSummary,
) -> AsyncGenerator[tuple[pa.Table, list[Any], list[int]], None]:
    """Yield ``(table, input value of each row, input position of each row)`` per chunk,
    in order; fills ``summary`` as it goes.  Documents have a row per page, so a value
    (and its position) may repeat."""
    cache = _open_cache(cache_dir)
    try:
        run = _Run(engine, cache, kind, opts, summary)
    except BaseException:  # e.g. a Cascade already serving another run
        if cache is not cache_dir:
            cache.close()
        raise
    started = time.perf_counter()
    bar = Progress(total=len(values), enabled=opts.progress, desc=f"ocr {kind}")
    try:
        # aclosing: on an error or a cancel here the run's cleanup happens now, not when
        # the loop shuts its async generators down
        async with contextlib.aclosing(run.chunks(values)) as chunks:
            async for answers, prepared in chunks:
                run.tally(answers)
                positions = prepared.positions
                bar.update(prepared.size, summary, calls=run.pool.attempts)
                table = to_arrow(kind, answers)
                if prepared.quality is not None:
                    assessed = await Assessor.results(prepared.quality)
                    table = quality_columns(table, kind, assessed)
                yield table, [values[p] for p in positions], positions
    finally:
        if run.claims is not None:  # never started: the generator's cleanup did not run
            run.claims.close()
        summary.elapsed = time.perf_counter() - started
        bar.close(summary)
        if isinstance(engine, RunAware):  # also when the run never started its chunks
            engine.unbind_run()
        await engine.aclose()
        if cache is not cache_dir:
            cache.close()
    if summary.stopped:
        log.warning("run stopped early: %s", summary.line())
