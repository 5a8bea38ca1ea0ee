"""Which bytes were sent for a re-encoded original: ``original sha256 → sent sha256s``.

When an image has to be re-encoded before sending (too big, HEIC, PDF, multi-page TIFF),
the cache key is the sha256 of the bytes actually sent.  Re-encoding a 6 MB photo costs
far more than reading the cache, so this small table remembers, per original and per
encoding recipe (``params``: recipe version, Pillow version, size limit), the digests of
the bytes it produced (one per page).  A rerun of the same original finds them here and
asks the result cache directly, without decoding anything.

File format (versioned by its name, ``derived-v1.sqlite``, next to the result cache)::

    derived(original TEXT, params TEXT, sent TEXT)   -- sent: JSON list of hex digests
    PRIMARY KEY (original, params)

Only digests are stored, never image bytes.  One connection is shared by the threads of a
run behind a lock; SQLite's WAL mode makes the file safe for several processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Final

__all__ = ["DERIVED_FILE", "DerivedStore"]

#: File name of the table inside the cache directory (the suffix is the format version).
DERIVED_FILE: Final = "derived-v1.sqlite"

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS derived ("
    " original TEXT NOT NULL, params TEXT NOT NULL, sent TEXT NOT NULL,"
    " PRIMARY KEY (original, params)) WITHOUT ROWID"
)


class DerivedStore:
    """The ``original → sent`` table of one cache directory (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        path = os.path.join(os.fspath(directory), DERIVED_FILE)
        if not os.path.exists(path):  # same privacy as the result cache files
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=30, check_same_thread=False, isolation_level=None
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def get(self, original: str, params: str) -> list[str] | None:
        """The digests sent for ``original`` under ``params``, or None when unknown."""
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT sent FROM derived WHERE original = ? AND params = ?", (original, params)
            ).fetchone()
        if row is None:
            return None
        try:
            sent = json.loads(row[0])
        except ValueError:
            return None
        if not isinstance(sent, list) or not sent or not all(isinstance(s, str) for s in sent):
            return None
        return sent

    def put(self, original: str, params: str, sent: Sequence[str]) -> None:
        """Remember the digests sent for ``original`` (replacing an older entry)."""
        with self._lock:
            if self._db is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO derived (original, params, sent) VALUES (?, ?, ?)",
                (original, params, json.dumps(list(sent))),
            )

    def close(self) -> None:
        """Close the connection (later calls do nothing)."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()
