"""A rate limit shared by every process of a Dask cluster (the platform's quota is per
account, not per worker).

How it works: the *scheduler* keeps, per limiter name, the next free send slot on its own
monotonic clock.  A :class:`~distributed.diagnostics.plugin.SchedulerPlugin` adds one RPC
handler, ``ocr_frames_rate_reserve(name, rate, n)``: it reserves the next ``n`` slots,
``1/rate`` seconds apart and never before now, and answers with their *delays from now*.
The scheduler runs its handlers one at a time on its event loop, so a reservation is
atomic without a lock.  :meth:`GlobalRateLimit.acquire` (the ``async acquire()`` of
:class:`ocr_frames._engine.policy.Limiter`, so it plugs into ``rate_limit=``) asks for a slot, then
sleeps until it comes.

Why this design:

* exact and smooth: slots are globally ``1/rate`` apart, no initial burst; at most
  ``rate * W + 1`` slots fall in any window of ``W`` seconds.  A call leaves at most one
  interval (or 20 ms) after its slot, else it takes a new slot, so a window sees at most
  about ``rate * W + 2`` calls whatever the load, give or take the jitter of the
  scheduler → worker latency (sub-millisecond to a few ms on a LAN);
* no clock synchronisation: only *durations* cross the network, never timestamps, so
  skewed worker clocks do not matter;
* one small message per call (or per ``batch`` calls), no lock round trips, no state on
  the workers; a restarted scheduler simply starts a new schedule.

The scheduler must be able to import ``ocr_frames`` (install ``ocr-frames[dask]`` in the
scheduler's environment too) and accept pickled plugins (Dask's default).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from distributed.diagnostics.plugin import SchedulerPlugin

from ocr_frames._errors import ConfigurationError

if TYPE_CHECKING:
    from distributed import Client, Scheduler

__all__ = ["DEFAULT_LIMITER_NAME", "GlobalRateLimit"]

#: Name of the schedule shared by limiters that are not given one.
DEFAULT_LIMITER_NAME: Final = "ocr_frames"
#: A slot is given up when its caller wakes later than this or one interval after it.
MIN_LATENESS: Final = 0.02
_HANDLER: Final = "ocr_frames_rate_reserve"
_PLUGIN_NAME: Final = "ocr-frames-rate-limit"


class _SlotBook(SchedulerPlugin):
    """Scheduler side: the next free slot of every named schedule."""

    idempotent = True  # registering again keeps the running schedule

    def __init__(self) -> None:
        self._next_free: dict[str, float] = {}

    async def start(self, scheduler: Scheduler) -> None:
        scheduler.handlers[_HANDLER] = self.reserve

    def reserve(self, name: str, rate: float, n: int) -> list[float]:
        """Reserve ``n`` consecutive slots of schedule ``name``; their delays from now."""
        now = time.monotonic()
        interval = 1.0 / rate
        first = max(now, self._next_free.get(name, now))
        self._next_free[name] = first + n * interval
        return [first + i * interval - now for i in range(n)]


class GlobalRateLimit:
    """At most ``rate`` calls per second across every worker of a Dask cluster.

    Pass it as ``rate_limit=`` to :func:`ocr_frames.recognize` (or let
    :func:`ocr_frames.dask.recognize` build it from a number).  Limiters with the same
    ``name`` share one schedule, so use one name per account (the quota is per account).
    ``batch`` > 1 reserves that many slots per message: fewer messages, but the slots a
    partition reserved and did not use are lost (the rate achieved drops a little, it
    never rises).  Picklable: only ``rate``, ``name`` and ``batch`` travel.

    Call :meth:`install` once per cluster (``ocr_frames.dask.recognize`` does) before
    the first :meth:`acquire`.
    """

    def __init__(self, rate: float, *, name: str = DEFAULT_LIMITER_NAME, batch: int = 1) -> None:
        if not rate > 0:
            raise ConfigurationError(f"rate must be > 0 calls/s, got {rate}")
        if batch < 1:
            raise ConfigurationError(f"batch must be >= 1, got {batch}")
        self.rate = float(rate)
        self.name = name
        self.batch = batch
        self._slots: list[float] = []  # local monotonic deadlines (a heap)

    def __repr__(self) -> str:
        return f"GlobalRateLimit(rate={self.rate!r}, name={self.name!r}, batch={self.batch!r})"

    def __dask_tokenize__(self) -> object:
        return ("ocr_frames.GlobalRateLimit", self.rate, self.name, self.batch)

    def __getstate__(self) -> dict[str, Any]:
        return {"rate": self.rate, "name": self.name, "batch": self.batch}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.rate, self.name, self.batch = state["rate"], state["name"], state["batch"]
        self._slots = []

    def install(self, client: Client | None = None) -> GlobalRateLimit:
        """Register the slot book on the cluster's scheduler (idempotent); returns self."""
        if client is None:
            from distributed import get_client

            client = get_client()
        client.register_plugin(_SlotBook(), name=_PLUGIN_NAME)
        return self

    async def acquire(self) -> None:
        """Wait for this caller's slot (the :class:`ocr_frames._engine.policy.Limiter` protocol).

        A caller that wakes up too late for its slot (a stalled process: GC, a busy CPU)
        drops it and takes a new one: late calls must not go out in a bunch.
        """
        lateness = max(1.0 / self.rate, MIN_LATENESS)
        while True:
            deadline = await self._next_slot()
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() - deadline <= lateness:
                return

    async def _next_slot(self) -> float:
        while True:
            try:  # pop, not test-then-pop: the object may be shared by threads
                return heapq.heappop(self._slots)
            except IndexError:
                await self._reserve()

    async def _reserve(self) -> None:
        coro, loop = _scheduler_call(name=self.name, rate=self.rate, n=self.batch)
        delays = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))
        if delays is None:  # unknown handler: the scheduler answers None
            raise ConfigurationError(
                "GlobalRateLimit is not installed on this cluster: call "
                "limiter.install(client) first (ocr_frames.dask.recognize does it)"
            )
        received = time.monotonic()
        for delay in delays:
            heapq.heappush(self._slots, received + float(delay))


def _scheduler_call(**kwargs: Any) -> tuple[Coroutine[Any, Any, Any], asyncio.AbstractEventLoop]:
    """The reservation RPC and the event loop it must run on (the worker's or client's)."""
    from distributed import get_client, get_worker

    try:
        node: Any = get_worker()
    except ValueError:  # not in a worker: this process's client
        node = get_client()
    return getattr(node.scheduler, _HANDLER)(**kwargs), node.loop.asyncio_loop
