"""An event loop of one's own in a daemon thread, for blocking wrappers of async objects.

:func:`ocr_frames._base.sync.run_sync` runs one coroutine on a fresh loop and is right for
one-shot work.  An object that keeps loop-bound state between calls (an
``httpx.AsyncClient`` and its kept-alive connections, an ``asyncio.Lock``) needs the
*same* loop for every call instead: :class:`LoopThread` starts it on first use, runs each
submitted coroutine on it (many threads may submit at once; their coroutines run
concurrently there), and stops it in :meth:`LoopThread.stop`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """A private event loop in a daemon thread, started by the first :meth:`run`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (or exception).

        An exception raised in the waiting caller (``KeyboardInterrupt``) cancels the
        coroutine's task before it propagates.  After :meth:`stop`: RuntimeError.
        """
        try:
            loop = self._started()
        except RuntimeError:
            coro.close()
            raise
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # a no-op once the coroutine has ended
            raise

    def stop(self) -> None:
        """Stop the loop (for good) and wait for its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop, self._thread, self._stopped = None, None, True
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not threading.current_thread():
                thread.join()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self._name}: the loop was stopped (the owner is closed)")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_serve, args=(loop,), name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        for task in asyncio.all_tasks(loop):  # stopped with calls in flight: cancel them
            task.cancel()
        loop.run_until_complete(asyncio.gather(*asyncio.all_tasks(loop), return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
