"""Run a coroutine to completion from synchronous code, inside or outside a running loop.

Plain scripts get ``asyncio.run``.  In Jupyter (and any other code already running an
event loop in this thread) ``asyncio.run`` is not allowed, so the coroutine runs on a fresh
loop in a worker thread while the caller waits: no ``nest_asyncio`` patching needed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` and return its result, whatever the caller's event-loop situation."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ocr-frames") as pool:
        return pool.submit(ctx.run, asyncio.run, coro).result()
