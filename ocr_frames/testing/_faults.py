"""Injected failures: random ones with seeded probabilities, and a queue of certain ones."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

__all__ = ["Fault", "FaultPlan"]


@dataclass(frozen=True)
class Fault:
    """How one call fails: dropped, an HTTP status (with a JSON errcode or an HTML page),
    an invalid JSON body, or (the default) an HTTP 200 JSON errcode."""

    errcode: int | None = -1
    http_status: int | None = None
    drop: bool = False
    bad_json: bool = False


class FaultPlan:
    """Decides, call by call, whether to fail; not thread-safe (the emulator's lock guards it)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # reproducible, not for secrets
        self._odds: tuple[tuple[float, Fault], ...] = ()
        self._queue: deque[Fault] = deque()

    def set_odds(
        self, *, system_error: float, http_500: float, drop: float, bad_json: float
    ) -> None:
        """Fail at random with these probabilities from now on."""
        odds = (system_error, http_500, drop, bad_json)
        if any(not 0.0 <= p <= 1.0 for p in odds) or sum(odds) > 1.0:
            raise ValueError("fault probabilities must be in [0, 1] and sum to at most 1")
        faults = (
            Fault(),
            Fault(errcode=None, http_status=500),
            Fault(drop=True),
            Fault(bad_json=True),
        )
        self._odds = tuple(zip(odds, faults, strict=True))

    def queue(self, n: int, fault: Fault) -> None:
        """The next ``n`` calls fail with ``fault`` (after those already queued)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._queue.extend([fault] * n)

    def draw(self) -> Fault | None:
        """The fault for the next call, or None.

        Every call draws one number, queued or not, so the n-th call of a run meets the
        same luck whatever was queued or switched before it.
        """
        luck = self._rng.random()
        if self._queue:
            return self._queue.popleft()
        for odds, fault in self._odds:
            if luck < odds:
                return fault
            luck -= odds
        return None
