"""Group commit of answers into the cache, off the event loop.

Each answer is durable in the cache *before* the row counts as done (so a killed run
loses no answer it received), yet under load many answers share one transaction: a single
writer thread takes everything queued since its last commit, writes it with one
``set_many`` and then wakes every waiting task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Iterable
from typing import Any, Protocol

log = logging.getLogger("ocr_frames")


class _Cache(Protocol):
    def set_many(self, items: dict[str, dict[str, Any]]) -> int: ...


class _Claims(Protocol):
    def release(self, keys: Iterable[str]) -> None: ...


_Item = tuple[str, "dict[str, Any] | None", "asyncio.Future[None]", asyncio.AbstractEventLoop]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class CacheWriter:
    """A writer thread committing ``(key, answer)`` pairs in batches.

    With ``claims``, the claim on each key is released right after its answer is
    committed (an answer of None releases the claim and stores nothing).
    """

    def __init__(self, cache: _Cache, claims: _Claims | None = None) -> None:
        self._cache = cache
        self._claims = claims
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0

    async def put(self, key: str, answer: dict[str, Any] | None) -> None:
        """Queue one answer and wait until it is committed (and its claim released)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ocr-frames-cache", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._queue.put((key, answer, fut, loop))
        await fut

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            try:
                self._cache.set_many({k: a for k, a, _, _ in batch if a is not None})
                self.commits += 1
            except Exception as exc:  # the run keeps these answers; only the cache misses them
                log.error("cache write failed (%s); answers kept for this run", type(exc).__name__)
            if self._claims is not None:
                try:
                    self._claims.release(k for k, _, _, _ in batch)
                except Exception as exc:  # a stale claim only delays other processes
                    log.warning("releasing claims failed (%s)", type(exc).__name__)
            for _, _, fut, loop in batch:
                # a cancelled run may have closed its loop meanwhile: keep committing
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_wake, fut)

    async def aclose(self) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
