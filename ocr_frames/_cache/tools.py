"""Looking after the answer cache: what is in it, what a run would cost, export, prune.

Everything here reads keys in the documented format ``v1:{kind}:{engine}:{options}:{sha256}``
(see :mod:`ocr_frames._cache.store`); the ``engine`` part may itself contain ``:``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import diskcache

from ocr_frames._base.files import DEFAULT_FILE_MODE, private_output
from ocr_frames._base.sync import run_sync
from ocr_frames._cache.store import ResultCache
from ocr_frames._errors import ConfigurationError
from ocr_frames._http.urlpolicy import DEFAULT_URL_POLICY, UrlPolicy, download_client
from ocr_frames.kinds import check_kind

__all__ = ["CostEstimate", "estimate_cost", "export_cache", "parse_age", "prune_cache", "summarize"]

_AGE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"`` → seconds."""
    match = _AGE.match(text)
    if not match:
        raise ConfigurationError(f"cannot read age {text!r}: use e.g. 30d, 12h, 90m, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _rows(cache: ResultCache) -> list[tuple[str, float]]:
    """(key, store_time) of every entry, read-only."""
    db = cache.directory / diskcache.core.DBNAME
    with sqlite3.connect(db.as_uri() + "?mode=ro", uri=True) as conn:
        return [(str(k), float(t)) for k, t in conn.execute("SELECT key, store_time FROM Cache")]


def _split(key: str) -> tuple[str, str] | None:
    parts = key.split(":")
    if len(parts) < 5 or parts[0] != "v1":
        return None
    return parts[1], ":".join(parts[2:-2])


def summarize(cache: ResultCache) -> dict[str, Any]:
    """Entries per kind and engine, size on disk, oldest and newest entry."""
    rows = _rows(cache)
    per: Counter[str] = Counter()
    for key, _ in rows:
        split = _split(key)
        per[f"{split[0]} / {split[1]}" if split else "(other)"] += 1
    stats = cache.stats()
    times = [t for _, t in rows]
    return {
        "directory": stats["directory"],
        "entries": len(rows),
        "size_bytes": stats["size_bytes"],
        "by_kind_engine": dict(sorted(per.items())),
        "oldest": min(times) if times else None,
        "newest": max(times) if times else None,
    }


def export_cache(
    cache: ResultCache, path: str | os.PathLike[str], *, file_mode: int = DEFAULT_FILE_MODE
) -> int:
    """Write every answer as JSON Lines ``{"key", "kind", "engine", "sha256", "answer"}``.

    The file holds personal data (names, ID numbers): it is created (or overwritten) with
    mode 0o600 unless ``file_mode`` says otherwise.
    """
    keys = [key for key, _ in _rows(cache)]
    written = 0
    with private_output(path, file_mode) as fh:
        for start in range(0, len(keys), 1000):
            for key, answer in cache.get_many(keys[start : start + 1000]).items():
                split = _split(key)
                record = {
                    "key": key,
                    "kind": split[0] if split else None,
                    "engine": split[1] if split else None,
                    "sha256": key.rsplit(":", 1)[-1],
                    "answer": answer,
                }
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
    return written


def prune_cache(cache: ResultCache, older_than: float, *, dry_run: bool = False) -> int:
    """Delete entries stored more than ``older_than`` seconds ago; return how many."""
    cutoff = time.time() - older_than
    old = [key for key, stored in _rows(cache) if stored < cutoff]
    if not dry_run and old:
        store = diskcache.Cache(os.fspath(cache.directory))
        try:
            with store.transact(retry=True):
                for key in old:
                    store.delete(key)
        finally:
            store.close()
    return len(old)


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
    from ocr_frames._sources.sources import DEFAULT_DOWNLOAD_TIMEOUT, Source, load_sources

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
