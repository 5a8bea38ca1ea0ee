"""Run a coroutine to completion from synchronous code, inside or outside a running loop.

Plain scripts get ``asyncio.run`` (Ctrl-C cancels the coroutine, then raises
``KeyboardInterrupt``).  In Jupyter (and any other code already running an event loop in
this thread) ``asyncio.run`` is not allowed, so the coroutine runs on a fresh loop in a
worker thread while the caller waits: no ``nest_asyncio`` patching needed.  When the wait
is interrupted (``KeyboardInterrupt`` from the notebook's stop button, or any other
exception raised in the caller) the coroutine's task is cancelled on the worker's loop,
the caller waits up to :data:`CANCEL_GRACE` seconds for its cleanup (answers committed to
the cache, claims released, temporary files removed) and the exception is re-raised.
A cancel of the caller's own task (Ctrl-C under ``asyncio.run(main())`` cancels the main
task) counts as such an interrupt, noticed within 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Coroutine
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("ocr_frames")

#: Seconds an interrupted caller waits for the cancelled run to clean up before the
#: interrupt is re-raised (the cleanup goes on in the background if it takes longer).
CANCEL_GRACE: Final = 1.0
#: How often a caller inside a running loop looks whether its own task was cancelled.
_POLL: Final = 0.1


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` and return its result, whatever the caller's event-loop situation."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _Worker(coro).run()


class _Worker(Generic[T]):
    """``coro`` on its own loop in a daemon thread; cancelled if the caller is interrupted."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[Any] | None = None
        self._cancelled = False
        self._ended = threading.Event()  # the coroutine returned or raised
        self._outcome: tuple[T] | BaseException | None = None

    def run(self) -> T:
        # the caller's task: under ``asyncio.run`` Ctrl-C only cancels it (asyncio's own
        # SIGINT handler), which a blocking wait would never notice
        # (Python 3.11+; 3.10's asyncio.run installs no such handler)
        cancelling = getattr(asyncio.current_task(), "cancelling", None)
        thread = threading.Thread(target=self._thread, name="ocr-frames-run", daemon=True)
        try:
            thread.start()
            while not self._ended.wait(_POLL):
                if cancelling is not None and cancelling():
                    raise asyncio.CancelledError  # ends the caller's task, as asked
        except BaseException:
            self._cancel()
            if not self._ended.wait(CANCEL_GRACE):
                log.warning("the interrupted run is still cleaning up in the background")
            raise
        thread.join()  # the loop's own shutdown (executor threads): quick once ended
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome[0]

    def _thread(self) -> None:
        try:
            self._outcome = (self._context.run(asyncio.run, self._main()),)
        except BaseException as exc:  # handed to the caller
            self._outcome = exc
        finally:
            self._ended.set()

    async def _main(self) -> T:
        with self._lock:
            if self._cancelled:  # interrupted before the loop started
                self._coro.close()
                raise asyncio.CancelledError
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            return await self._coro
        finally:
            # the caller may stop waiting now: cleanup inside the coroutine is done
            # (what is left is the loop's shutdown, which touches no answer or claim)
            self._ended.set()

    def _cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: the run is over
                loop.call_soon_threadsafe(task.cancel)
