"""A progress bar that is a no-op when disabled (no ``if progress:`` at call sites)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from tqdm.auto import tqdm


class _Summary(Protocol):
    cache_hits: int
    duplicates: int
    ok: int
    rows: int

    @property
    def billed_calls(self) -> int: ...


class Progress:
    """tqdm bar showing rows done, cache hits, errors and calls/s (works in notebooks)."""

    def __init__(self, *, total: int | None, enabled: bool, desc: str) -> None:
        self._bar: Any = None
        self._started = time.perf_counter()
        if enabled:
            self._bar = tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True, leave=True)

    def update(self, n: int, summary: Any, calls: int | None = None) -> None:
        if self._bar is None:
            return
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        billed = summary.billed_calls if calls is None else calls
        self._bar.set_postfix(
            hits=summary.cache_hits,
            errors=summary.rows - summary.ok,
            calls_per_s=f"{billed / elapsed:.1f}",
            refresh=False,
        )
        self._bar.update(n)

    def close(self, summary: Any) -> None:
        if self._bar is not None:
            self.update(0, summary)
            self._bar.close()
            self._bar = None
