"""Cross-process leases on cache keys: of several processes that miss the same image at
the same time, one sends it and the others wait for its answer in the cache.

A claim is a row in a small diskcache beside the answers (``<cache dir>/claims``) whose
value names the owner run (host and a random run id; the pid is only informative) and
which expires after ``ttl`` seconds.  Claims are taken and released in one transaction
per batch.

Liveness does not depend on pids, which a restarted container reuses (PID 1 again): for
its whole life a run holds an exclusive ``flock`` on its own lock file
``<cache dir>/claims/runs/<run id>.lock`` (0600, in a 0700 folder), created and locked
before it takes any claim.  The kernel drops that lock when the process dies, however it
dies.  A claim of another run on this host is therefore stale, and taken over at once,
when its run's lock file is gone or can be locked; whoever locks a dead run's file
removes it.  Another live run, in this process or another, holds its lock: its claims
are honoured.  A claim from another host is honoured until it expires.

:meth:`Claims.close` ends the run: it releases every claim the run still holds and
removes its lock file; a claim a worker thread tries to take afterwards is refused, so a
cancelled run leaks none.  (On Windows, without ``flock``, liveness falls back to the pid.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import sys
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import diskcache

if sys.platform != "win32":
    import fcntl

__all__ = ["DEFAULT_CLAIM_TTL", "Claims"]

log = logging.getLogger("ocr_frames")

#: Longest a claim blocks other processes if its owner vanished without a trace.
#: (Claims of dead runs on this host are taken over at once; the TTL only matters for
#: another host's process that vanished.  Long, because a claim taken when a chunk is
#: prepared is only sent once a pool slot and the rate limit allow.)
DEFAULT_CLAIM_TTL: Final = 3600.0

_RUN_ID = re.compile(r"[0-9a-f]{32}")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` if nobody holds it (False when held, or when locking is impossible)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held by a live run
        return False
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
        self._lock = threading.Lock()  # acquire/release/close of this run, across threads
        self._held: set[str] = set()
        self._closed = False
        self._runs = path / "runs"
        self._runs.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self._runs, 0o700)
        # several runs may share a process (threads, Dask partitions, gathered coroutines):
        # a claim is ours only when this run took it
        self._run, self._lock_fd = self._start_run()
        self._version = 1 if self._lock_fd is None else 2  # 2: liveness by the lock file
        self._reap_dead_runs()

    def _lock_file(self, run: str) -> Path:
        return self._runs / f"{run}.lock"

    def _start_run(self) -> tuple[str, int | None]:
        """A fresh run id whose lock file we hold (none without ``fcntl``)."""
        while True:
            run = uuid.uuid4().hex
            if sys.platform == "win32":  # pragma: no cover
                return run, None
            path = self._lock_file(run)
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # a file system without flock: judged by pid, as before
                os.close(fd)
                with contextlib.suppress(OSError):
                    path.unlink()
                log.warning("no flock in %s (%s): claims judged by pid", self._runs, exc)
                return run, None
            # a reaper may have removed the file before we locked it: then start over with
            # a new id (ids are never reused, so a reaper only ever removes a dead run's file)
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(fd), os.stat(path)):
                    return run, fd
            os.close(fd)

    def _run_alive(self, run: str) -> bool:
        """Whether run ``run`` of this host still holds its lock (removes a dead run's file)."""
        path = self._lock_file(run)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:  # the run ended (or was found dead) and removed its file
            return False
        except OSError:  # e.g. another user's run: cannot tell, so honour it
            return True
        try:
            if not _try_lock(fd):
                return True
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return False
        finally:
            os.close(fd)

    def _reap_dead_runs(self) -> None:
        """Remove the lock files of runs that died without closing (killed processes)."""
        if sys.platform == "win32":  # pragma: no cover
            return
        for entry in self._runs.glob("*.lock"):
            run = entry.name.removesuffix(".lock")
            if run != self._run and _RUN_ID.fullmatch(run):
                with contextlib.suppress(OSError):
                    self._run_alive(run)

    def _me(self) -> str:
        owner = {"host": self._host, "run": self._run, "pid": os.getpid(), "v": self._version}
        return json.dumps(owner)

    def _free(self, value: object, alive: dict[str, bool]) -> bool:
        """True when the claim ``value`` may be taken: ours, unreadable or stale.
        ``alive`` memoizes run liveness for one batch."""
        try:
            owner = json.loads(value) if isinstance(value, str) else {}
            host, run = str(owner["host"]), owner.get("run")
            pid = int(owner["pid"])
        except (ValueError, TypeError, KeyError):
            return True
        if host != self._host:
            return False
        if run == self._run:  # ours (unless a forked copy of this run took it)
            return pid == os.getpid()
        if owner.get("v") != 2 or sys.platform == "win32":  # older version's claim: by pid
            return pid != os.getpid() and not pid_alive(pid)
        if not isinstance(run, str) or not _RUN_ID.fullmatch(run):
            return True
        if run not in alive:
            alive[run] = self._run_alive(run)
        return not alive[run]

    def acquire(self, keys: Iterable[str]) -> set[str]:
        """Claim every free key of ``keys``; return the ones now ours (none once closed)."""
        mine: set[str] = set()
        me = self._me()
        alive: dict[str, bool] = {}
        try:
            with self._lock:
                if self._closed:
                    return mine
                with self._cache.transact(retry=True):
                    for key in keys:
                        current = self._cache.get(key)
                        if current is None or self._free(current, alive):
                            self._cache.set(key, me, expire=self._ttl)
                            mine.add(key)
                self._held |= mine
        finally:
            self._done()
        return mine

    def release(self, keys: Iterable[str]) -> None:
        """Drop our claims on ``keys`` (others' claims are left alone)."""
        try:
            with self._lock:
                self._release(keys)
        finally:
            self._done()

    def _release(self, keys: Iterable[str]) -> None:
        me = self._me()
        dropped: list[str] = []
        with self._cache.transact(retry=True):
            for key in keys:
                if self._cache.get(key) == me:
                    self._cache.delete(key)
                dropped.append(key)
        self._held.difference_update(dropped)

    def release_all(self) -> None:
        """Drop every claim this run still holds (e.g. of calls cancelled mid-flight)."""
        try:
            with self._lock:
                if self._held:
                    self._release(list(self._held))
        finally:
            self._done()

    def _done(self) -> None:
        # diskcache opens one connection per thread: worker threads must not leak theirs
        if threading.get_ident() != self._owner_thread:
            self._cache.close()

    def close(self) -> None:
        """End the run: release every claim it holds, remove its lock file.  Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    if self._held:
                        self._release(list(self._held))
                finally:
                    if self._lock_fd is not None:
                        with contextlib.suppress(FileNotFoundError):
                            self._lock_file(self._run).unlink()
                        os.close(self._lock_fd)  # unlocks
                        self._lock_fd = None
        self._cache.close()
