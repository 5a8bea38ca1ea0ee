"""How calls to an engine are made: bounded, rate-limited, retried, stopped on a spent quota.

:class:`CallPool` is the one place that decides how many calls run, how fast, and what
happens on a transient failure (see :mod:`ocr_frames._engine.contract` for what an engine
itself does: one attempt per call).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from aiolimiter import AsyncLimiter

from ocr_frames._engine.contract import Answer, Engine
from ocr_frames._errors import (
    CONFIG_CODES,
    E_BAD_RESPONSE,
    E_NOT_DONE,
    E_TRANSPORT,
    QUOTA_CODES,
    RETRYABLE_CODES,
    ConfigurationError,
    OCRError,
    error_for_code,
)
from ocr_frames.kinds import check_kind

__all__ = ["DEFAULT_CONCURRENCY", "CallPool", "Limiter", "RetryPolicy"]

DEFAULT_CONCURRENCY: Final = 16


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential back-off and full jitter, bounded in count.

    ``-1`` (system error), HTTP 5xx and network failures (900009) are retried after
    ``uniform(0, min(max_delay, base_delay * 2**attempt))`` seconds; ``45011`` (minute
    quota) pauses the whole pool for ``rate_limited_delay`` seconds first.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    rate_limited_delay: float = 60.0
    retry_codes: frozenset[int] = field(default=RETRYABLE_CODES | {E_TRANSPORT})

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class CallPool:
    """Bounded, rate-limited, retrying calls to one engine for one kind.

    ``call`` is awaited by at most ``concurrency`` tasks at once (a semaphore); a global
    ``rate_limit`` (calls per second, shared by all tasks) is applied to every attempt,
    retries included.  A spent quota (45009/101003) sets :attr:`stopped` and makes every
    later call return the quota answer without sending; a configuration errcode raises.
    """

    def __init__(
        self,
        engine: Engine,
        kind: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate_limit: float | Limiter | None = None,
        retry: RetryPolicy | None = None,
        on_attempt: Callable[[Answer], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be >= 1, got {concurrency}")
        if not isinstance(rate_limit, (Limiter, type(None))) and rate_limit <= 0:
            raise ConfigurationError(f"rate_limit must be > 0 calls/s, got {rate_limit}")
        self.engine = engine
        self.kind = check_kind(kind)
        self.retry = retry or RetryPolicy()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiter = _make_limiter(rate_limit)
        self._paused_until = 0.0
        self._on_attempt = on_attempt
        self.stopped: OCRError | None = None
        self.attempts = 0
        self.retries = 0

    async def call(
        self,
        image: bytes | None = None,
        *,
        img_url: str | None = None,
        keep: Callable[[Answer], Awaitable[None]] | None = None,
    ) -> Answer:
        """One image → one answer, with retries; never raises for a per-image problem.

        ``keep`` (e.g. a cache write) is awaited before the call's slot is freed, so at
        most ``concurrency`` answers are ever received-but-not-kept: the bound on what a
        killed process can lose.
        """
        async with self._semaphore:
            answer = await self._attempts(image, img_url)
            if keep is not None:
                await keep(answer)
            return answer

    async def _attempts(self, image: bytes | None, img_url: str | None) -> Answer:
        attempt = 0
        while True:
            if (stopped := self._stop_answer()) is not None:
                return stopped
            await self._wait_turn()
            if (stopped := self._stop_answer()) is not None:  # quota ran out while waiting
                return stopped
            self.attempts += 1
            answer = await self.engine.arecognize(self.kind, image, img_url=img_url)
            if self._on_attempt is not None:
                self._on_attempt(answer)
            try:
                code = int(answer.get("errcode", 0))
            except (TypeError, ValueError):  # paid for, so kept: as a bad-response row
                return {"errcode": E_BAD_RESPONSE, "errmsg": "engine errcode is not an integer"}
            if code in QUOTA_CODES:
                self.stopped = error_for_code(code, str(answer.get("errmsg", "")))
                return answer
            if code in CONFIG_CODES:
                raise error_for_code(code, str(answer.get("errmsg", "")), answer.get("rid"))
            if code not in self.retry.retry_codes or attempt + 1 >= self.retry.max_attempts:
                return answer
            if code == 45011:
                self._paused_until = max(
                    self._paused_until, time.monotonic() + self.retry.rate_limited_delay
                )
            await asyncio.sleep(self.retry.delay(attempt))
            attempt += 1
            self.retries += 1

    def _stop_answer(self) -> Answer | None:
        return None if self.stopped is None else _stopped_answer(self.stopped)

    async def _wait_turn(self) -> None:
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if self._limiter is not None:
            await self._limiter.acquire()


@runtime_checkable
class Limiter(Protocol):
    """A rate limiter shared beyond one pool (e.g. :class:`ocr_frames.dask.GlobalRateLimit`):
    ``acquire`` returns when one more call may be sent."""

    async def acquire(self) -> Any: ...


def _make_limiter(rate_limit: float | Limiter | None) -> Any:
    if rate_limit is None or isinstance(rate_limit, Limiter):
        return rate_limit  # an object with ``async acquire()`` is used as it is
    # capacity 1 per 1/rate seconds: a smooth rate without an initial burst
    return AsyncLimiter(1, 1.0 / rate_limit)


def _stopped_answer(exc: OCRError) -> Answer:
    return {"errcode": E_NOT_DONE, "errmsg": f"not sent: run stopped ({exc.message})", "rid": None}
