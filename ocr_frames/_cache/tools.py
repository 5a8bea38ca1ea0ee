"""Looking after the answer cache: what is in it, export, prune.

Everything here reads keys in the documented format ``v1:{kind}:{engine}:{options}:{sha256}``
(see :mod:`ocr_frames._cache.store`); the ``engine`` part may itself contain ``:``.  The
entries are listed and deleted through :class:`~ocr_frames._cache.store.ResultCache`,
the one module that knows diskcache's tables.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from typing import Any, Final

from ocr_frames._base.files import DEFAULT_FILE_MODE, private_output
from ocr_frames._cache.store import ResultCache
from ocr_frames._errors import ConfigurationError

__all__ = ["export_cache", "parse_age", "prune_cache", "summarize"]

_AGE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"2w"`` → seconds."""
    match = _AGE.match(text)
    if not match:
        raise ConfigurationError(f"cannot read age {text!r}: use e.g. 30d, 12h, 90m, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _split(key: str) -> tuple[str, str] | None:
    parts = key.split(":")
    if len(parts) < 5 or parts[0] != "v1":
        return None
    return parts[1], ":".join(parts[2:-2])


def summarize(cache: ResultCache) -> dict[str, Any]:
    """Entries per kind and engine, size on disk, oldest and newest entry."""
    rows = cache.entries()
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
    keys = [key for key, _ in cache.entries()]
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
    old = [key for key, stored in cache.entries() if stored < cutoff]
    if not dry_run:
        cache.delete_many(old)
    return len(old)
