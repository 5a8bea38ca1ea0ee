"""Group commit of answers into the cache, off the event loop.

Each answer is durable in the cache *before* the row counts as done (so a killed run
loses no answer it received), yet under load many answers share one transaction: a single
writer thread takes everything queued since its last commit, writes it with one
``set_many`` and then wakes every waiting task.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any, Protocol

log = logging.getLogger("ocr_frames")


class _Cache(Protocol):
    def set_many(self, items: dict[str, dict[str, Any]]) -> int: ...


_Item = tuple[str, dict[str, Any], "asyncio.Future[None]", asyncio.AbstractEventLoop]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class CacheWriter:
    """A writer thread committing ``(key, answer)`` pairs in batches."""

    def __init__(self, cache: _Cache) -> None:
        self._cache = cache
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0

    async def put(self, key: str, answer: dict[str, Any]) -> None:
        """Queue one answer and wait until it is committed."""
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
                self._cache.set_many({key: answer for key, answer, _, _ in batch})
                self.commits += 1
            except Exception as exc:  # the run keeps these answers; only the cache misses them
                log.error("cache write failed (%s); answers kept for this run", type(exc).__name__)
            for _, _, fut, loop in batch:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_wake, fut)

    async def aclose(self) -> None:
        """Commit what is queued and stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
