"""The dry run: what a run would bill, found by reading and hashing its inputs and asking
the cache, without sending anything."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from ocr_frames._base.sync import run_sync
from ocr_frames._cache.store import ResultCache
from ocr_frames._http.urlpolicy import DEFAULT_URL_POLICY, UrlPolicy, download_client
from ocr_frames._sources.batch import load_sources
from ocr_frames._sources.limits import DEFAULT_DOWNLOAD_TIMEOUT
from ocr_frames._sources.source import Source
from ocr_frames.kinds import check_kind

__all__ = ["CostEstimate", "estimate_cost"]


@dataclass(frozen=True)
class CostEstimate:
    """What a run would bill, found by reading and hashing inputs and asking the cache."""

    rows: int
    local_errors: int
    cache_hits: int
    duplicates: int
    billable: int
    price_per_call: float | None = None

    @property
    def cost(self) -> float | None:
        return None if self.price_per_call is None else self.billable * self.price_per_call

    def line(self) -> str:
        text = (
            f"{self.rows} rows: {self.local_errors} unreadable or invalid (never sent), "
            f"{self.cache_hits} cached, {self.duplicates} duplicates -> "
            f"{self.billable} billable calls"
        )
        if self.cost is not None:
            text += f", about {self.cost:.2f} at {self.price_per_call:g} per call"
        return text


def estimate_cost(
    images: Sequence[object],
    kind: str,
    *,
    engine_identity: str,
    cache_dir: str | os.PathLike[str] | None = None,
    price_per_call: float | None = None,
    url_policy: UrlPolicy = DEFAULT_URL_POLICY,
    proxy: str | None = None,
) -> CostEstimate:
    """Count the calls a run would bill, without sending anything (URLs are downloaded
    under ``url_policy``, through ``proxy`` or the environment's proxies, as the run would)."""

    async def load() -> list[Source]:
        timeout = DEFAULT_DOWNLOAD_TIMEOUT
        async with download_client(url_policy, proxy=proxy, timeout=timeout) as client:
            return await load_sources(list(images), client=client, url_policy=url_policy)

    check_kind(kind)
    sources = run_sync(load())
    cache = ResultCache(cache_dir)
    try:
        keys = [
            ResultCache.key(s.sha256, kind, engine_identity) if s.ok and s.sha256 else None
            for s in sources
        ]
        wanted = [k for k in keys if k is not None]
        hits = cache.get_many(wanted)
    finally:
        cache.close()
    misses = [k for k in wanted if k not in hits]
    return CostEstimate(
        rows=len(sources),
        local_errors=sum(k is None for k in keys),
        cache_hits=len(wanted) - len(misses),
        duplicates=len(misses) - len(set(misses)),
        billable=len(set(misses)),
        price_per_call=price_per_call,
    )
