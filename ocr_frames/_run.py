"""One run's machinery: chunks of rows through sources, cache, claims, pool and back.

Rows move through the stages in chunks (``chunk_size`` rows): sources are read and hashed
in threads, the cache is asked for the whole chunk at once, duplicates within the run are
sent once, other processes' in-flight images are waited for (claims), misses go to the
:class:`~ocr_frames.engine.CallPool`, and each answer is committed to the cache before its
call's slot is freed (group commit in a writer thread).  A few chunks are prepared ahead so
the pool never drains at chunk borders; chunks are emitted in input order, so streaming to
Parquet needs bounded memory.

A document input (PDF, multi-page TIFF) becomes one output row per page: a chunk of
input values yields its answers together with each answer's position in the chunk (and
the answer's ``page``), so callers repeat the input value and index per page.  Images
re-encoded by ``shrink`` are keyed by the bytes sent; the ``original → sent`` table
(:mod:`ocr_frames._derived`) lets a rerun find them in the cache without re-encoding,
and only the rare miss (answer not cached) is loaded and encoded again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final, Literal

import pandas as pd
import pyarrow as pa

from ._cachewriter import CacheWriter
from ._claims import Claims
from ._derived import DerivedStore
from ._errors import CACHEABLE_CODES, E_BAD_RESPONSE
from ._progress import Progress
from .cache import NullCache, ResultCache
from .engine import CallPool, Engine, Limiter, RetryPolicy
from .flatten import to_arrow
from .kinds import check_kind
from .sources import Source, load_sources

log = logging.getLogger("ocr_frames")

Answer = dict[str, Any]
CacheLike = ResultCache | NullCache
CacheDir = str | Any | None  # str | PathLike | None | Literal[False]

DEFAULT_CHUNK_SIZE: Final = 256


@dataclass
class RunSummary:
    """What one run did; ``line()`` is the CLI's one-line summary."""

    kind: str
    engine: str
    rows: int = 0
    ok: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    cache_hits: int = 0
    duplicates: int = 0
    billed_calls: int = 0
    retries: int = 0
    not_done: int = 0
    stopped: str | None = None
    elapsed: float = 0.0
    output: str | None = None

    def line(self) -> str:
        errs = ", ".join(f"{code}×{n}" for code, n in sorted(self.errors.items())) or "none"
        text = (
            f"{self.rows} rows: {self.ok} ok, errors {errs}; {self.cache_hits} cache hits, "
            f"{self.duplicates} duplicates, {self.billed_calls} billed calls "
            f"({self.retries} retries) in {self.elapsed:.1f}s"
        )
        if self.stopped:
            text += f"; STOPPED: {self.stopped} ({self.not_done} rows not done)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "engine": self.engine,
            "rows": self.rows,
            "ok": self.ok,
            "errors": {str(k): v for k, v in sorted(self.errors.items())},
            "cache_hits": self.cache_hits,
            "duplicates": self.duplicates,
            "billed_calls": self.billed_calls,
            "retries": self.retries,
            "not_done": self.not_done,
            "stopped": self.stopped,
            "elapsed": round(self.elapsed, 3),
        }


@dataclass(frozen=True)
class Options:
    kind: str
    concurrency: int
    rate_limit: float | Limiter | None
    retry: RetryPolicy | None
    url_mode: Literal["download", "passthrough"]
    max_bytes: int
    chunk_size: int
    progress: bool
    download_timeout: float
    shrink: bool = True
    storage_options: Mapping[str, Any] | None = None


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
    from .engine import WeChatEngine

    return WeChatEngine.from_env()


def _chunks(values: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(values)
    while chunk := list(islice(it, size)):
        yield chunk


def _error_answer(src: Source) -> Answer:
    return {"errcode": src.errcode, "errmsg": src.errmsg, "rid": None}


def _expand(sources: Sequence[Source]) -> tuple[list[int], list[Source]]:
    """One row per page: (position of each row's input value, each row's Source)."""
    positions: list[int] = []
    rows: list[Source] = []
    for position, src in enumerate(sources):
        parts = src.pages if src.ok and src.pages else (src,)
        positions.extend([position] * len(parts))
        rows.extend(parts)
    return positions, rows


@dataclass
class Prepared:
    """One chunk on its way: a slot per output row, and the input position of each row."""

    slots: list[Answer | asyncio.Task[Answer]]
    positions: list[int]
    pages: list[int | None]
    size: int  # input values in the chunk

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

    def __init__(self, engine: Engine, cache: CacheLike, opts: Options, summary: RunSummary):
        self.engine, self.cache, self.opts, self.summary = engine, cache, opts, summary
        self.identity = engine.identity
        self.pool = CallPool(
            engine,
            opts.kind,
            concurrency=opts.concurrency,
            rate_limit=opts.rate_limit,
            retry=opts.retry,
        )
        self.claims = Claims(cache.directory) if isinstance(cache, ResultCache) else None
        self.writer = CacheWriter(cache, self.claims)
        self.inflight: dict[str, asyncio.Task[Answer]] = {}
        self.completed: list[str] = []
        self.keep_inflight = isinstance(cache, NullCache)
        directory = cache.directory if isinstance(cache, ResultCache) else None
        self.derived = DerivedStore(directory) if opts.shrink and directory else None

    def key(self, src: Source) -> str | None:
        if src.sha256:
            return ResultCache.key(src.sha256, self.opts.kind, self.identity)
        if src.url:  # passthrough: keyed by the URL text (documented caveat)
            digest = hashlib.sha256(src.url.encode("utf-8", "surrogatepass")).hexdigest()
            return ResultCache.key(digest, self.opts.kind, self.identity, {"img_url": True})
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
                self.completed.append(key)
                self.summary.cache_hits += 1
                return {**found[key], "sha256": src.sha256, "cached": True}
            if key in owned:
                return await self.send(key, src)

    async def send(self, key: str, src: Source) -> Answer:

        async def keep(raw: Answer) -> None:  # durable before the call's slot frees
            answer = _clean(raw)
            cacheable = answer["errcode"] in CACHEABLE_CODES
            if cacheable or self.claims is not None:
                await self.writer.put(key, answer if cacheable else None)
            if cacheable:  # later copies will find it in the cache; others reuse this task
                self.completed.append(key)

        answer = _clean(await self.pool.call(src.data, img_url=src.url, keep=keep))
        return {**answer, "sha256": src.sha256, "cached": False}

    async def _load(self, values: list[Any], client: Any, *, derived: bool) -> list[Source]:
        return await load_sources(
            values,
            url_mode=self.opts.url_mode,
            client=client,
            max_bytes=self.opts.max_bytes,
            download_timeout=self.opts.download_timeout,
            shrink=self.opts.shrink,
            derived=self.derived if derived else None,
            storage_options=self.opts.storage_options,
        )

    async def _reload_deferred(
        self, values: list[Any], sources: list[Source], hits: dict[str, Answer], client: Any
    ) -> list[Source] | None:
        """Re-encode the inputs known only by digest whose answer is not at hand
        (None when there are none)."""
        redo = [
            position
            for position, src in enumerate(sources)
            if any(
                part.deferred
                and (key := self.key(part)) is not None
                and key not in hits
                and key not in self.inflight
                for part in (src.pages or (src,))
            )
        ]
        if not redo:
            return None
        again = await self._load([values[p] for p in redo], client, derived=False)
        sources = list(sources)
        for position, src in zip(redo, again, strict=True):
            sources[position] = src
        return sources

    async def prepare(self, values: list[Any], client: Any) -> Prepared:
        sources = await self._load(values, client, derived=True)
        if not self.keep_inflight:  # answers completed so far are in the cache now
            for done in self.completed:
                self.inflight.pop(done, None)
            self.completed.clear()
        keys = [self.key(s) if s.ok else None for s in _expand(sources)[1]]
        lookup = [k for k in keys if k is not None and k not in self.inflight]
        hits = await asyncio.to_thread(self.cache.get_many, lookup) if lookup else {}
        reloaded = await self._reload_deferred(values, sources, hits, client)
        if reloaded is not None:
            sources = reloaded
            keys = [self.key(s) if s.ok else None for s in _expand(sources)[1]]
            fresh = [k for k in keys if k is not None and k not in hits and k not in self.inflight]
            hits.update(await asyncio.to_thread(self.cache.get_many, fresh) if fresh else {})
            lookup = [k for k in keys if k is not None and k not in self.inflight]
        positions, rows = _expand(sources)
        misses = [k for k in dict.fromkeys(lookup) if k not in hits]
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
            elif key in self.inflight:
                self.summary.duplicates += 1
                slots.append(asyncio.ensure_future(self._duplicate(self.inflight[key])))
            else:
                send = self.send(key, src) if key in owned else self.wait_for_other(key, src)
                task = asyncio.ensure_future(send)
                self.inflight[key] = task
                slots.append(task)
        return Prepared(slots, positions, [s.page for s in rows], len(values))

    @staticmethod
    async def _duplicate(task: asyncio.Task[Answer]) -> Answer:
        # same bytes as an earlier row of this run: that row's call serves this one too
        return {**await asyncio.shield(task), "cached": True}

    async def chunks(self, values: Iterable[Any]) -> AsyncIterator[tuple[list[Answer], Prepared]]:
        """Yield the answers chunk by chunk, in input order (with the chunk's row layout)."""
        import httpx

        lookahead = max(2, -(-4 * self.opts.concurrency // self.opts.chunk_size))
        queue: asyncio.Queue[Prepared | BaseException | None] = asyncio.Queue(lookahead)
        async with httpx.AsyncClient(follow_redirects=False) as client:

            async def produce() -> None:
                try:
                    for chunk in _chunks(values, self.opts.chunk_size):
                        await queue.put(await self.prepare(chunk, client))
                except Exception as exc:  # hand it to the consumer, which would wait forever
                    await queue.put(exc)
                    return
                await queue.put(None)

            producer = asyncio.ensure_future(produce())
            try:
                while (prepared := await queue.get()) is not None:
                    if isinstance(prepared, BaseException):
                        raise prepared
                    answers = [s if isinstance(s, dict) else await s for s in prepared.slots]
                    yield prepared.with_pages(answers), prepared
                await producer
            finally:
                producer.cancel()
                pending = [t for t in self.inflight.values() if not t.done()]
                for t in pending:
                    t.cancel()
                await asyncio.gather(producer, *pending, return_exceptions=True)
                await self.writer.aclose()
                if self.claims is not None:  # claims of calls cancelled mid-flight
                    await asyncio.to_thread(self.claims.release, list(self.inflight))
                    self.claims.close()
                self.summary.billed_calls = self.pool.attempts
                self.summary.retries = self.pool.retries
                if self.derived is not None:
                    self.derived.close()

    def tally(self, answers: Sequence[Answer]) -> None:
        from ._errors import E_NOT_DONE

        for a in answers:
            code = a["errcode"]
            self.summary.rows += 1
            if code == 0:
                self.summary.ok += 1
            else:
                self.summary.errors[code] += 1
            if code == E_NOT_DONE:
                self.summary.not_done += 1
        if self.pool.stopped is not None:
            self.summary.stopped = str(self.pool.stopped)


async def stream_tables(
    values: list[Any],
    engine: Engine,
    cache_dir: CacheDir,
    opts: Options,
    summary: RunSummary,
) -> AsyncIterator[tuple[pa.Table, list[Any], list[int]]]:
    """Yield ``(table, input value of each row, input position of each row)`` per chunk,
    in order; fills ``summary`` as it goes.  Documents have a row per page, so a value
    (and its position) may repeat."""
    cache = _open_cache(cache_dir)
    run = _Run(engine, cache, opts, summary)
    started = time.perf_counter()
    bar = Progress(total=len(values), enabled=opts.progress, desc=f"ocr {opts.kind}")
    offset = 0
    try:
        async for answers, prepared in run.chunks(values):
            run.tally(answers)
            positions = [offset + p for p in prepared.positions]
            offset += prepared.size
            bar.update(prepared.size, summary, calls=run.pool.attempts)
            yield to_arrow(opts.kind, answers), [values[p] for p in positions], positions
    finally:
        summary.elapsed = time.perf_counter() - started
        bar.close(summary)
        await engine.aclose()
        if cache is not cache_dir:
            cache.close()
    if summary.stopped:
        log.warning("run stopped early: %s", summary.line())


def make_options(
    kind: str,
    concurrency: int,
    rate_limit: float | Limiter | None,
    retry: RetryPolicy | None,
    url_mode: Literal["download", "passthrough"],
    max_bytes: int,
    chunk_size: int,
    progress: bool,
    download_timeout: float,
    *,
    shrink: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> Options:
    if url_mode not in ("download", "passthrough"):
        from ._errors import ConfigurationError

        raise ConfigurationError(f"url_mode must be 'download' or 'passthrough', not {url_mode!r}")
    if chunk_size < 1:
        from ._errors import ConfigurationError

        raise ConfigurationError(f"chunk_size must be >= 1, got {chunk_size}")
    return Options(
        kind=check_kind(kind),
        concurrency=concurrency,
        rate_limit=rate_limit,
        retry=retry,
        url_mode=url_mode,
        max_bytes=max_bytes,
        chunk_size=chunk_size,
        progress=progress,
        download_timeout=download_timeout,
        shrink=shrink,
        storage_options=storage_options,
    )
