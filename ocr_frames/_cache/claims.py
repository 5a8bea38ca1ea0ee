"""Cross-process leases on cache keys: of several processes that miss the same image at
the same time, one sends it and the others wait for its answer in the cache.

A claim is a row in a small diskcache beside the answers (``<cache dir>/claims``) whose
value names the owner run (host, kernel boot id and a random run id; the pid is only
informative) and which expires after ``ttl`` seconds.  Claims are taken and released in
one transaction per batch.

Liveness does not depend on pids, which a restarted container reuses (PID 1 again): for
its whole life a run holds an exclusive ``flock`` on its own lock file
``<cache dir>/claims/runs/<run id>.lock`` (0600, in a 0700 folder), created and locked
before it takes any claim.  The kernel drops that lock when the process dies, however it
dies.  A claim of another run on this host is therefore stale, and taken over at once,
when its run's lock file is gone or can be locked; whoever locks a dead run's file
removes it.  Another live run, in this process or another, holds its lock: its claims
are honoured.  "This host" means this kernel: a claim that names our hostname or our
boot id (``/proc/sys/kernel/random/boot_id``, recorded where there is one).  Every
container on one machine shares the boot id, so a replacement container with a new
hostname (``docker run`` again, a new pod) takes over the dead one's claims at once; the
same hostname covers claims of older versions and a machine that rebooted.  A claim of
another host is honoured until it expires.  A process forked by a run lets go of the
lock in the child (``os.register_at_fork``; a fork from C code that skips Python's hooks
would not), so it does not keep a killed run alive.

Only "held" (``EWOULDBLOCK``/``EAGAIN``/``EACCES``) counts as alive.  Where the file
system has no usable ``flock`` (NFS emulates it with POSIX locks, which need a writable
descriptor and never conflict within one process; no lock manager; ...), lock files
cannot tell a live run from a dead one: any other error makes claims wait for their TTL,
with one warning.  Such file systems are not supported for the cache (keep it on a local
disk); a machine-local flock there (``local_lock=``) is not detected.

:meth:`Claims.close` ends the run: it releases every claim the run still holds and
removes its lock file; a claim a worker thread tries to take afterwards is refused, so a
cancelled run leaks none.  (On Windows, without ``flock``, liveness falls back to the pid.)
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import socket
import sys
import threading
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import diskcache

from ocr_frames._base.files import try_flock

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

_BOOT_ID: Final = "/proc/sys/kernel/random/boot_id"

# Runs of this process, whose lock descriptors a forked child closes.  The guard is held
# while a lock descriptor is opened or closed and across fork(), so a child never
# inherits one it does not know of.
_live: weakref.WeakSet[Claims] = weakref.WeakSet()
_fork_guard = threading.Lock()
_warned: set[str] = set()  # cache directories whose missing flock was reported
_warned_lock = threading.Lock()


def _boot_id() -> str | None:
    """This kernel's boot id, shared by every container on the machine (None if unknown)."""
    try:
        with open(_BOOT_ID, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _let_go_in_child() -> None:
    """After fork(), in the child: close every run's lock descriptor (the parent keeps the
    lock), so the child does not keep a killed parent's claims alive."""
    try:
        for claims in list(_live):
            fd, claims._lock_fd = claims._lock_fd, None
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
    finally:
        _fork_guard.release()


if sys.platform != "win32":
    os.register_at_fork(
        before=_fork_guard.acquire,
        after_in_parent=_fork_guard.release,
        after_in_child=_let_go_in_child,
    )


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
        self._boot = _boot_id()
        self._flock_ok = True  # False once lock files proved unable to tell liveness
        self._owner_thread = threading.get_ident()
        self._lock = threading.Lock()  # acquire/release/close of this run, across threads
        self._held: set[str] = set()
        self._closed = False
        self._runs = path / "runs"
        self._runs.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self._runs, 0o700)
        # several runs may share a process (threads, Dask partitions, gathered coroutines):
        # a claim is ours only when this run took it
        self._lock_fd: int | None = None
        _live.add(self)
        self._run = self._start_run()
        self._version = 1 if self._lock_fd is None else 2  # 2: liveness by the lock file
        self._reap_dead_runs()

    def _lock_file(self, run: str) -> Path:
        return self._runs / f"{run}.lock"

    def _start_run(self) -> str:
        """A fresh run id whose lock file we hold in ``_lock_fd`` (none without ``fcntl``)."""
        while True:
            run = uuid.uuid4().hex
            if sys.platform == "win32":  # pragma: no cover
                return run
            path = self._lock_file(run)
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            with _fork_guard:  # a child forked from now on closes it
                self._lock_fd = fd = os.open(path, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # a file system without flock: judged by pid, as before
                self._close_lock_fd()
                with contextlib.suppress(OSError):
                    path.unlink()
                log.warning("no flock in %s (%s): claims judged by pid", self._runs, exc)
                return run
            # a reaper may have removed the file before we locked it: then start over with
            # a new id (ids are never reused, so a reaper only ever removes a dead run's file)
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(fd), os.stat(path)):
                    return run
            self._close_lock_fd()

    def _close_lock_fd(self) -> None:
        """Close our lock descriptor (unlocking the run unless a forked child shares it)."""
        with _fork_guard:
            fd, self._lock_fd = self._lock_fd, None
            if fd is not None:
                os.close(fd)

    def _no_flock(self, exc: OSError) -> None:
        """Lock files cannot tell liveness here: claims wait for their TTL (warned once)."""
        self._flock_ok = False
        where = os.fspath(self._runs.parent.parent)
        with _warned_lock:
            if where in _warned:
                return
            _warned.add(where)
        log.warning(
            "the file system of cache directory %s has no usable flock (%s): claims of "
            "runs that died are honoured until they expire (%.0f s); keep the cache on a "
            "local disk",
            where,
            errno.errorcode.get(exc.errno or 0, exc.strerror),
            self._ttl,
        )

    def _run_alive(self, run: str) -> bool:
        """Whether run ``run`` of this host still holds its lock (removes a dead run's file).
        Where ``flock`` is unusable every run counts as alive: its claims wait for the TTL."""
        if not self._flock_ok:
            return True
        path = self._lock_file(run)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:  # the run ended (or was found dead) and removed its file
            return False
        except OSError:  # e.g. another user's run: cannot tell, so honour it
            return True
        try:
            try:
                if not try_flock(fd):
                    return True
            except OSError as exc:
                self._no_flock(exc)
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
            if not self._flock_ok:
                return
            if run != self._run and _RUN_ID.fullmatch(run):
                with contextlib.suppress(OSError):
                    self._run_alive(run)

    def _me(self) -> str:
        owner: dict[str, object] = {"host": self._host, "run": self._run}
        owner.update(pid=os.getpid(), v=self._version)
        if self._boot is not None:
            owner["boot"] = self._boot
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
        if run == self._run:  # ours (unless a forked copy of this run took it)
            return pid == os.getpid()
        # the same kernel: the same hostname (also after a reboot, or for a claim without a
        # boot id) or the same boot id (a container of this machine with another hostname)
        boot = owner.get("boot")
        if host != self._host and not (isinstance(boot, str) and boot == self._boot):
            return False  # another machine's: honoured until it expires
        if owner.get("v") != 2 or sys.platform == "win32":  # no lock file: by pid, same host
            return host == self._host and pid != os.getpid() and not pid_alive(pid)
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
                        self._close_lock_fd()  # unlocks
                    _live.discard(self)
        self._cache.close()
