"""Answers one run already has and no cache holds, kept for that run's later duplicates.

A run sends each distinct image once, whatever the cache setting: a row whose bytes an
earlier row of the run already sent gets that row's answer.  With a cache, most answers
are found there; the rest (``cache_dir=False``, or answers the cache does not keep, such as
a failed call) would otherwise stay in memory for the whole run, about 2 KB per distinct
image.  They go here instead, so memory stays flat however long the run.

Storage: a private temporary SQLite database (``sqlite3.connect("")``).  SQLite creates
its file in its temporary directory (``SQLITE_TMPDIR``, ``TMPDIR``, ``/var/tmp``,
``/tmp``) and removes it from the directory at once (on Windows, when closed), so no
other process can open it by name and the operating system frees it when the run
closes it or the process dies, even killed.  Only SQLite's page cache (a few MB) is in
memory (in SQLite's default build; one compiled with ``SQLITE_TEMP_STORE=3`` would keep
the whole database in memory).  Values are the answers as JSON text; keys are the run's
cache keys.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["RunStore"]

Answer = dict[str, Any]

_KEYS_PER_QUERY: Final = 500  # below SQLite's oldest bound-parameter limit (999)
_SELECT_MANY: Final = "SELECT key, answer FROM answers WHERE key IN ({marks})"


class RunStore:
    """``key → answer`` for one run, on disk (see the module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            "", check_same_thread=False, isolation_level=None
        )
        self._db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, answer TEXT) WITHOUT ROWID")
        self._odd: dict[str, Answer] = {}  # answers that are not JSON (custom engines): rare

    def put_many(self, items: Mapping[str, Answer]) -> None:
        """Keep ``items`` (a later put of the same key replaces it)."""
        rows = []
        for key, answer in items.items():
            try:
                rows.append((key, json.dumps(answer, ensure_ascii=False, separators=(",", ":"))))
            except (TypeError, ValueError):
                self._odd[key] = answer
        with self._lock:
            if self._db is None or not rows:
                return
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?)", rows)
            finally:
                self._db.execute("COMMIT")

    def get_many(self, keys: Sequence[str]) -> dict[str, Answer]:
        """The answers kept for ``keys`` (those found only)."""
        found = {key: self._odd[key] for key in keys if key in self._odd}
        unique = [key for key in dict.fromkeys(keys) if key not in found]
        with self._lock:
            if self._db is None or not unique:
                return found
            for start in range(0, len(unique), _KEYS_PER_QUERY):
                part = unique[start : start + _KEYS_PER_QUERY]
                query = _SELECT_MANY.format(marks=",".join("?" * len(part)))
                found.update((key, json.loads(text)) for key, text in self._db.execute(query, part))
        return found

    def close(self) -> None:
        """Drop everything (the database file goes with it); later calls find nothing."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
        self._odd.clear()
