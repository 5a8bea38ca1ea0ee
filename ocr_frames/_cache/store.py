"""Content-hash cache of answers, so that nobody pays twice for the same image.

Storage
-------
One :class:`diskcache.Cache` directory (SQLite in WAL mode: safe for many threads and
processes at once) configured by :data:`DEFAULT_SETTINGS`: nothing is ever evicted
(``eviction_policy="none"``, no size limit; a paid-for answer must never disappear
silently; diskcache's own default would drop entries beyond 1 GB), values stay inside
SQLite, statistics are off.

Each value is one answer dict (see ``docs/architecture.md``) stored as compact JSON
text, ``json.dumps(answer, ensure_ascii=False, separators=(",", ":"))``, in the
``value`` column of diskcache's ``Cache`` table.  Pickle is never written and never
read: an entry that is not JSON text holding an object is treated as a miss and logged.
Only answers whose ``errcode`` is in :data:`~ocr_frames._errors.CACHEABLE_CODES` (a
property of the image bytes: 0, 101001, 101002) are stored.

Writes go through diskcache (``Cache.transact`` + ``Cache.set``/``Cache.delete``).  Reads
use one read-only SQLite connection and a plain ``SELECT ... WHERE key IN (...)`` on that
``Cache`` table inside a single read transaction: it never takes the write lock, never
unpickles, and is shared safely by every thread (diskcache keeps one connection per
thread, which worker threads would otherwise leave open).  This module is the only one
that knows diskcache's table layout; the cache tools list and delete entries through
:meth:`ResultCache.entries` and :meth:`ResultCache.delete_many`.

Keys (format version :data:`FORMAT_VERSION`)::

    v1:{kind}:{engine_identity}:{options}:{sha256}

``kind`` is the OCR kind (``idcard``, ...); ``engine_identity`` names the engine and
its version (``wechat``, ``local:rapidocr-3.4``; it may contain ``:``, so parse keys
from the right) and must never contain a secret (appid secret, token); ``options`` is
``-`` when there are none, else the first 16 hex digits of the SHA-256 of
``json.dumps(options, sort_keys=True)``; ``sha256`` is the lowercase hex digest of the
image bytes.  A change to the answer format bumps the version, so old entries are simply
never asked for again.

The directory is created with mode 0o700 and the SQLite files are made 0o600 (answers
hold personal data such as ID card numbers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypedDict

import diskcache
import platformdirs
from diskcache.core import MODE_RAW, MODE_TEXT

from ocr_frames._base.closing import Closing
from ocr_frames._errors import CACHEABLE_CODES, ConfigurationError

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_SETTINGS",
    "DEFAULT_TIMEOUT",
    "FORMAT_VERSION",
    "CacheStats",
    "NullCache",
    "ResultCache",
    "cache_key",
    "default_cache_dir",
    "is_cacheable",
]

log = logging.getLogger(__name__)

#: Version of the key and value format; the ``v1:`` prefix of every key.
FORMAT_VERSION: Final = 1
#: Environment variable naming the cache directory (read when a cache is opened).
CACHE_DIR_ENV: Final = "OCR_FRAMES_CACHE_DIR"
#: diskcache settings of every ResultCache.
DEFAULT_SETTINGS: Final[Mapping[str, Any]] = {
    "eviction_policy": "none",  # never evict paid-for answers
    "size_limit": 2**62,  # only consulted when evicting; set huge anyway
    "cull_limit": 0,  # no culling on writes at all
    "disk_min_file_size": 2**26,  # JSON values up to 64 MiB stay inside SQLite
    "statistics": 0,  # no hit/miss counters: reads stay read-only
    "tag_index": 0,
}
#: Seconds a connection waits for another process's write lock before failing.
DEFAULT_TIMEOUT: Final = 60.0

_DIR_MODE: Final = 0o700
_FILE_MODE: Final = 0o600
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_JSON_SEPARATORS: Final = (",", ":")
_KEYS_PER_QUERY: Final = 500  # below SQLite's oldest bound-parameter limit (999)
# diskcache's Cache table (diskcache.core.Cache.__init__); str keys are stored raw.
_SELECT_MANY: Final = (
    "SELECT key, mode, filename, value FROM Cache"
    " WHERE raw = 1 AND (expire_time IS NULL OR expire_time > ?) AND key IN ({marks})"
)
_SELECT_ENTRIES: Final = "SELECT key, store_time FROM Cache"

Answer = dict[str, Any]


class CacheStats(TypedDict):
    """What :meth:`ResultCache.stats` reports."""

    directory: str | None
    count: int
    size_bytes: int


def cache_key(
    sha256: str, kind: str, engine_identity: str, options: Mapping[str, object] | None = None
) -> str:
    """Build the cache key ``v1:{kind}:{engine_identity}:{options}:{sha256}``.

    Raises :class:`ValueError` when ``sha256`` is not 64 lowercase hex digits and
    :class:`TypeError` when ``options`` is not JSON-serialisable.
    """
    if not _SHA256_HEX.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    if options:
        blob = json.dumps(options, sort_keys=True).encode("utf-8")
        opts = hashlib.sha256(blob).hexdigest()[:16]
    else:
        opts = "-"
    return f"v{FORMAT_VERSION}:{kind}:{engine_identity}:{opts}:{sha256}"


def default_cache_dir() -> Path:
    """``$OCR_FRAMES_CACHE_DIR`` if set, else the user cache dir's ``ocr-frames/results``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("ocr-frames")) / "results"


def is_cacheable(answer: Mapping[str, Any]) -> bool:
    """True when the answer's errcode (an int, not a bool) is in CACHEABLE_CODES."""
    errcode = answer.get("errcode")
    return type(errcode) is int and errcode in CACHEABLE_CODES


def _to_json(answer: Mapping[str, Any]) -> str:
    text = json.dumps(answer, ensure_ascii=False, separators=_JSON_SEPARATORS, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them as \\udXXX escapes
        text = json.dumps(answer, ensure_ascii=True, separators=_JSON_SEPARATORS, allow_nan=False)
    return text


class _JSONTextDisk(diskcache.Disk):  # type: ignore[misc]
    """A diskcache Disk that refuses to store anything but text (so never a pickle)."""

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> Any:
        if read or type(value) is not str:
            raise TypeError("ResultCache stores JSON text only")
        return super().store(value, read, key=key)


class ResultCache(Closing):
    """Answers by key, in a diskcache directory shared by threads and processes.

    ``directory`` None means :func:`default_cache_dir` (``$OCR_FRAMES_CACHE_DIR`` or the
    platform's user cache directory).  Missing directories are created with mode 0o700;
    an existing directory keeps its mode.  Raises :class:`ConfigurationError` when the
    directory cannot be created or opened.

    ``~`` and ``$VARS`` in the path are expanded (as diskcache does).

    :meth:`get_many` and :meth:`set_many` run in one transaction each; database errors
    are raised as :class:`ConfigurationError` (a broken cache must not silently turn
    into paying again).  The object may be shared between threads: reads go through
    one read-only connection under a lock; diskcache's per-thread write connections
    are closed after each call in threads other than the creating one, whose
    connections :meth:`close` closes.
    """

    key = staticmethod(cache_key)

    def __init__(
        self, directory: str | os.PathLike[str] | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        # diskcache expands ~ and $VARS itself: do the same first so both use one path.
        given = default_cache_dir() if directory is None else directory
        path = Path(os.path.expandvars(os.path.expanduser(os.fspath(given)))).absolute()
        try:
            _make_private_dir(path)
            self._cache = diskcache.Cache(
                os.fspath(path), disk=_JSONTextDisk, timeout=timeout, **DEFAULT_SETTINGS
            )
        except (OSError, sqlite3.Error, diskcache.Timeout) as exc:
            raise ConfigurationError(f"cannot open the cache directory {path}: {exc}") from exc
        _make_files_private(path)
        self._directory = path
        self._timeout = timeout
        self._owner = threading.get_ident()
        self._reader: sqlite3.Connection | None = None
        self._reader_pid = 0
        self._reader_lock = threading.Lock()

    @property
    def directory(self) -> Path:
        """The cache directory."""
        return self._directory

    def get_many(self, keys: Sequence[str]) -> dict[str, Answer]:
        """Return the answers found for ``keys`` (hits only), read in one read transaction."""
        if not keys:
            return {}
        unique = list(dict.fromkeys(keys))
        with self._translate_errors("read"), self._reader_lock:
            reader = self._read_connection()
            now = time.time()
            reader.execute("BEGIN")
            try:
                rows = []
                for start in range(0, len(unique), _KEYS_PER_QUERY):
                    chunk = unique[start : start + _KEYS_PER_QUERY]
                    query = _SELECT_MANY.format(marks=",".join("?" * len(chunk)))
                    rows.extend(reader.execute(query, (now, *chunk)).fetchall())
            finally:
                reader.execute("COMMIT")
        found: dict[str, Answer] = {}
        for key, mode, filename, value in rows:
            answer = self._decode_row(key, mode, filename, value)
            if answer is not None:
                found[key] = answer
        return found

    def set_many(self, items: Mapping[str, Mapping[str, Any]]) -> int:
        """Store the cacheable answers of ``items`` in one transaction; return how many."""
        encoded: list[tuple[str, str]] = []
        for key, answer in items.items():
            if not is_cacheable(answer):
                continue
            try:
                encoded.append((key, _to_json(answer)))
            except (TypeError, ValueError) as exc:
                log.warning("answer for %s not cached: not JSON-serialisable (%s)", key, exc)
        if not encoded:
            return 0
        with self._translate_errors("written"):
            try:
                with self._cache.transact(retry=True):
                    for key, text in encoded:
                        self._cache.set(key, text)
            finally:
                self._release()
        return len(encoded)

    def entries(self) -> list[tuple[str, float]]:
        """``(key, store_time)`` of every entry (store time in seconds since the epoch),
        read in one read transaction."""
        with self._translate_errors("read"), self._reader_lock:
            rows = self._read_connection().execute(_SELECT_ENTRIES).fetchall()
        return [(str(key), float(stored)) for key, stored in rows]

    def delete_many(self, keys: Sequence[str]) -> int:
        """Delete the entries of ``keys`` in one transaction; return how many existed."""
        if not keys:
            return 0
        with self._translate_errors("written"):
            try:
                with self._cache.transact(retry=True):
                    return sum(bool(self._cache.delete(key)) for key in keys)
            finally:
                self._release()

    def get(self, key: str) -> Answer | None:
        """The answer stored under ``key``, or None."""
        return self.get_many([key]).get(key)

    def set(self, key: str, answer: Mapping[str, Any]) -> bool:
        """Store one answer if its errcode is cacheable; True when stored."""
        return self.set_many({key: answer}) == 1

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        with self._translate_errors("read"):
            try:
                return len(self._cache)
            finally:
                self._release()

    def clear(self) -> int:
        """Remove every entry; return how many were removed."""
        with self._translate_errors("written"):
            try:
                return int(self._cache.clear(retry=True))
            finally:
                self._release()

    def stats(self) -> CacheStats:
        """Entry count and bytes used on disk by the directory."""
        size = 0
        for root, _dirs, files in os.walk(self._directory):
            for name in files:
                try:
                    size += os.stat(os.path.join(root, name)).st_size
                except OSError:  # a -wal/-shm file removed meanwhile
                    continue
        return {"directory": os.fspath(self._directory), "count": len(self), "size_bytes": size}

    def close(self) -> None:
        """Close the SQLite connections (a later call opens them again)."""
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self._cache.close()

    def __repr__(self) -> str:
        return f"ResultCache({os.fspath(self._directory)!r})"

    def _release(self) -> None:
        # diskcache keeps one connection per thread and close() only reaches the calling
        # thread's; worker threads must not leave theirs open behind them.
        if threading.get_ident() != self._owner:
            self._cache.close()

    def _read_connection(self) -> sqlite3.Connection:
        """The one read-only connection, shared by all threads (under _reader_lock)."""
        if self._reader is not None and self._reader_pid != os.getpid():
            self._reader.close()  # inherited through fork: never reuse it
            self._reader = None
        if self._reader is None:
            reader = sqlite3.connect(  # mode=rw: a vanished database is an error, not empty
                (self._directory / diskcache.core.DBNAME).as_uri() + "?mode=rw",
                uri=True,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            reader.execute("PRAGMA query_only = 1")
            self._reader, self._reader_pid = reader, os.getpid()
        return self._reader

    def _decode_row(
        self, key: str, mode: int, filename: str | None, value: object
    ) -> Answer | None:
        if mode == MODE_RAW:
            return _decode(key, value)
        if mode == MODE_TEXT and filename:  # a value over disk_min_file_size, in a file
            try:
                text = (self._directory / filename).read_text(encoding="utf-8")
            except (OSError, ValueError):
                log.warning("cache entry %s: value file unreadable; treated as a miss", key)
                return None
            return _decode(key, text)
        log.warning("cache entry %s is not JSON text (mode %s); treated as a miss", key, mode)
        return None

    @contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, diskcache.Timeout, OSError) as exc:
            raise ConfigurationError(
                f"cache {self._directory} could not be {action}: {type(exc).__name__}: {exc}"
            ) from exc


class NullCache(Closing):
    """The ResultCache interface storing nothing (caching turned off)."""

    key = staticmethod(cache_key)

    @property
    def directory(self) -> None:
        """No directory."""
        return None

    def get_many(self, keys: Sequence[str]) -> dict[str, Answer]:
        """Always empty."""
        return {}

    def set_many(self, items: Mapping[str, Mapping[str, Any]]) -> int:
        """Store nothing; return 0."""
        return 0

    def entries(self) -> list[tuple[str, float]]:
        """No entries."""
        return []

    def delete_many(self, keys: Sequence[str]) -> int:
        """Nothing to delete; return 0."""
        return 0

    def get(self, key: str) -> Answer | None:
        """Always None."""
        return None

    def set(self, key: str, answer: Mapping[str, Any]) -> bool:
        """Store nothing; return False."""
        return False

    def __contains__(self, key: object) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def clear(self) -> int:
        """Nothing to remove; return 0."""
        return 0

    def stats(self) -> CacheStats:
        """Zero entries, no directory."""
        return {"directory": None, "count": 0, "size_bytes": 0}

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        return "NullCache()"


def _decode(key: str, value: object) -> Answer | None:
    """Parse a stored value; anything but a JSON object is a miss (logged, not shown)."""
    try:
        answer = json.loads(value) if isinstance(value, (str, bytes)) else None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        answer = None
    if not isinstance(answer, dict):
        log.warning("cache entry %s is not a JSON object; treated as a miss", key)
        return None
    return answer


def _make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0o700 (whatever the umask)."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by another process meanwhile
        os.chmod(folder, _DIR_MODE)


def _make_files_private(path: Path) -> None:
    """chmod 0o600 the SQLite files (database, -wal, -shm) that we own."""
    with os.scandir(path) as entries:
        for entry in entries:
            if not entry.name.startswith(diskcache.core.DBNAME):
                continue
            try:
                if entry.is_file(follow_symlinks=False):
                    os.chmod(entry.path, _FILE_MODE)
            except OSError:  # another user's file, or gone meanwhile: leave it
                continue
