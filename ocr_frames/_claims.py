"""Cross-process leases on cache keys: of several processes that miss the same image at
the same time, one sends it and the others wait for its answer in the cache.

A claim is a row in a small diskcache beside the answers (``<cache dir>/claims``) whose
value names the owner (host and pid) and which expires after ``ttl`` seconds.  Claims are
taken and released in one transaction per batch.  A claim whose owner is a dead process
on this host (a killed run) is stale and taken over at once; one from another host is
honoured until it expires.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import diskcache

__all__ = ["DEFAULT_CLAIM_TTL", "Claims"]

#: Longest a claim blocks other processes if its owner vanished without a trace.
#: (Claims of dead processes on this host are taken over at once; the TTL only matters for
#: another host's process that vanished.  Long, because a claim taken when a chunk is
#: prepared is only sent once a pool slot and the rate limit allow.)
DEFAULT_CLAIM_TTL: Final = 3600.0


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Claims:
    """Leases on keys shared by every process using one cache directory."""

    def __init__(self, directory: str | os.PathLike[str], *, ttl: float = DEFAULT_CLAIM_TTL):
        path = Path(directory) / "claims"
        path.mkdir(mode=0o700, exist_ok=True)
        self._cache = diskcache.Cache(
            os.fspath(path), eviction_policy="none", size_limit=2**40, statistics=0
        )
        for entry in path.iterdir():
            if entry.is_file():
                os.chmod(entry, 0o600)
        self._ttl = ttl
        self._host = socket.gethostname()
        self._owner_thread = threading.get_ident()
        # several runs may share a process (threads, Dask partitions, gathered coroutines):
        # a claim is ours only when this run took it
        self._run = uuid.uuid4().hex

    def _me(self) -> str:
        return json.dumps({"host": self._host, "pid": os.getpid(), "run": self._run})

    def _free(self, value: object) -> bool:
        """True when the claim ``value`` may be taken: ours, unreadable or stale."""
        try:
            owner = json.loads(value) if isinstance(value, str) else {}
            host, pid, run = str(owner["host"]), int(owner["pid"]), owner.get("run")
        except (ValueError, TypeError, KeyError):
            return True
        if host != self._host:
            return False
        if pid == os.getpid():
            return bool(run == self._run)
        return not pid_alive(pid)

    def acquire(self, keys: Iterable[str]) -> set[str]:
        """Claim every free key of ``keys``; return the ones now ours."""
        mine: set[str] = set()
        me = self._me()
        try:
            with self._cache.transact(retry=True):
                for key in keys:
                    current = self._cache.get(key)
                    if current is None or self._free(current):
                        self._cache.set(key, me, expire=self._ttl)
                        mine.add(key)
        finally:
            self._done()
        return mine

    def release(self, keys: Iterable[str]) -> None:
        """Drop our claims on ``keys`` (others' claims are left alone)."""
        me = self._me()
        try:
            with self._cache.transact(retry=True):
                for key in keys:
                    if self._cache.get(key) == me:
                        self._cache.delete(key)
        finally:
            self._done()

    def _done(self) -> None:
        # diskcache opens one connection per thread: worker threads must not leak theirs
        if threading.get_ident() != self._owner_thread:
            self._cache.close()

    def close(self) -> None:
        self._cache.close()
