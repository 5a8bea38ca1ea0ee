"""A bounded wait that never loses a cancel: :func:`within`.

Not ``asyncio.wait_for``: before 3.12 it returns the result of an operation that completes
in the loop turn in which the caller is cancelled, and the cancel is lost (CPython
gh-86296) - a cancelled run would go on making billed calls.  ``asyncio.timeout`` counts
cancel requests (``uncancel``): an outside cancel always wins over the timeout, and is
delivered at the next ``await`` if the operation completed first.

Used by the WeChat client for its whole-call deadline and by the h11 transport for its
connect, write and read timeouts.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["DeadlineExpired", "within"]

_T = TypeVar("_T")


class DeadlineExpired(Exception):
    """The time given to :func:`within` ran out.

    Not a ``TimeoutError``: an OS-level ``ETIMEDOUT`` raised by the operation itself stays
    one, so the caller can tell the two apart.
    """


if sys.version_info >= (3, 11):

    async def within(aw: Awaitable[_T], seconds: float | None) -> _T:
        """``await aw`` for at most ``seconds`` (None: no bound); DeadlineExpired after."""
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await aw
        except TimeoutError:
            if scope.expired():
                raise DeadlineExpired() from None
            raise  # an OS-level ETIMEDOUT

else:  # pragma: no cover - Python 3.10: no asyncio.timeout

    async def within(aw: Awaitable[_T], seconds: float | None) -> _T:
        """``await aw`` for at most ``seconds`` (see the 3.11 version).

        The operation runs in a task of its own and the caller waits on it with
        ``asyncio.wait``, whose timeout does not cancel the caller: a cancel of the caller
        is always its own and is re-raised, never converted into a timeout nor dropped.
        """
        inner = asyncio.ensure_future(aw)
        try:
            done, _ = await asyncio.wait((inner,), timeout=seconds)
        except BaseException:
            inner.cancel()
            inner.add_done_callback(_close_result)
            raise
        if not done:
            inner.cancel()
            inner.add_done_callback(_close_result)
            raise DeadlineExpired()
        return inner.result()

    def _close_result(task: asyncio.Future[Any]) -> None:
        """A connection that was made after all, for a caller that is gone: closed."""
        if task.cancelled() or task.exception() is not None:
            return
        result = task.result()
        if isinstance(result, tuple) and isinstance(result[0], asyncio.BaseTransport):
            result[0].close()
