"""Claims never outlive their run: a killed run's claims are free at once for its restart,
even when the restart has the same pid (PID 1 of a container) or another hostname (a new
container on the same kernel), and even while a process the run forked lives on; a
cancelled run releases every claim it took, even one taken by a worker thread after the
cancel.  Where the cache's file system has no usable ``flock``, claims fall back to
their TTL (never to double billing) and a warning says so."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import ocr_frames as of
from ocr_frames._cache import claims as _claims
from ocr_frames._cache.claims import Claims
from ocr_frames._run import run as _run
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            ["unshare", "-pf", "--mount-proc", "sh", "-c", 'test "$$" = 1'],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


needs_pid_namespace = pytest.mark.skipif(
    not _unshare_works(), reason="needs `unshare -pf --mount-proc` (root on Linux)"
)


def _as_pid_1(*args: str, **kw: Any) -> subprocess.Popen[bytes]:
    """Python as PID 1 of a fresh PID namespace, as in a container (killed with unshare)."""
    cmd = ["unshare", "-pf", "--kill-child", "--mount-proc", sys.executable, *args]
    return subprocess.Popen(cmd, **kw)


def _namespace_init(proc: subprocess.Popen[bytes]) -> int:
    """Our-namespace pid of the PID 1 that ``unshare -f`` started."""
    deadline = time.monotonic() + 10
    while True:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        if children:
            return int(children[0])
        assert time.monotonic() < deadline, "unshare started no child"
        time.sleep(0.005)


@needs_pid_namespace
def test_claims_of_a_killed_pid_1_are_free_for_the_next_pid_1(tmp_path: Path) -> None:
    take = textwrap.dedent(
        f"""
        import os, signal
        from ocr_frames._cache.claims import Claims
        assert os.getpid() == 1
        assert Claims({str(tmp_path)!r}).acquire(["k1", "k2"]) == {{"k1", "k2"}}
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    subprocess.run(["unshare", "-pf", "--mount-proc", sys.executable, "-c", take], timeout=30)
    retake = textwrap.dedent(
        f"""
        import os
        from ocr_frames._cache.claims import Claims
        assert os.getpid() == 1
        print(sorted(Claims({str(tmp_path)!r}).acquire(["k1", "k2"])))
        """
    )
    done = subprocess.run(
        ["unshare", "-pf", "--mount-proc", sys.executable, "-c", retake],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['k1',", "'k2']"], "a dead PID 1's claims blocked PID 1"


@needs_pid_namespace
def test_a_run_killed_as_pid_1_restarts_as_pid_1_and_finishes_promptly(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    n, concurrency = 200, 8
    folder = str(Path(image_files(n)[0]).parent)
    out = tmp_path / "out.parquet"
    args = ["-m", "ocr_frames.cli", "run", folder, "--kind", "idcard", "--out", str(out)]
    args += ["--concurrency", str(concurrency), "--no-progress"]
    with WeChatEmulator(latency=0.05) as emu:
        env = cli_env(emu, tmp_path / "cache")
        first = _as_pid_1(*args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        init = _namespace_init(first)
        deadline = time.monotonic() + 60
        while emu.total_billed < 40:
            assert first.poll() is None, "the run ended before the kill"
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.005)
        os.kill(init, signal.SIGKILL)  # docker kill / the OOM killer
        first.wait(timeout=30)
        assert not out.exists()
        started = time.monotonic()
        again = _as_pid_1(*args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, stderr = again.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            again.kill()
            again.communicate()
            pytest.fail("the restart waited on the killed run's claims")
        took = time.monotonic() - started
        billed = emu.total_billed
    assert again.returncode == 0, stderr
    assert took < 15, f"the restart took {took:.1f}s"
    table = pq.read_table(out)
    assert table.num_rows == n and table.column("errcode").to_pylist() == [0] * n
    assert billed <= n + concurrency, billed
    print(f"PID 1 killed at 40 billed, restart as PID 1: {took:.1f}s, {billed} billed for {n}")


@pytest.mark.parametrize("when", ["before", "after"])
def test_claims_taken_by_a_cancelled_run_are_released(
    when: str,
    image_files: ImageFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run is cancelled while its worker thread is claiming (``before`` it took the
    claims, or ``after`` but before the run got them back); the thread finishes after
    the cancel.  A rerun in the same process must not wait on those claims."""
    paths = image_files(20)
    cache = tmp_path / "cache"
    inside, go, returned = threading.Event(), threading.Event(), threading.Event()
    real_claim = _run._Run._claim

    def claim_slowly(self: Any, keys: list[str]) -> Any:
        try:
            if when == "before":
                inside.set()
                go.wait(10)
            result = real_claim(self, keys)
            if when == "after":
                inside.set()
                go.wait(10)
            return result
        finally:
            returned.set()

    monkeypatch.setattr(_run._Run, "_claim", claim_slowly)

    async def scenario(emu: WeChatEmulator) -> Any:
        def engine() -> of.WeChatEngine:
            return of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)

        run = asyncio.ensure_future(
            of.arecognize(paths, "idcard", engine=engine(), cache_dir=cache, progress=False)
        )
        assert await asyncio.to_thread(inside.wait, 10)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        go.set()  # the worker thread goes on after the cancel
        assert await asyncio.to_thread(returned.wait, 10)
        monkeypatch.setattr(_run._Run, "_claim", real_claim)
        rerun = of.arecognize(paths, "idcard", engine=engine(), cache_dir=cache, progress=False)
        return await asyncio.wait_for(rerun, timeout=20)

    with WeChatEmulator() as emu:
        df = asyncio.run(scenario(emu))
        billed = emu.total_billed
    assert (df["errcode"] == 0).all() and billed == 20


def _claim_value(claims: Claims, key: str) -> dict[str, Any]:
    value = claims._cache.get(key)
    assert isinstance(value, str)
    return dict(json.loads(value))


def test_claims_of_another_host_are_honoured_until_they_expire(tmp_path: Path) -> None:
    mine, theirs = Claims(tmp_path), Claims(tmp_path, ttl=0.2)
    try:
        assert theirs.acquire(["k"]) == {"k"}
        remote = {**_claim_value(theirs, "k"), "host": "another-host", "boot": "another"}
        theirs._cache.set("k", json.dumps(remote), expire=0.2)
        theirs.close()  # its run is over here, but the claim names another host
        assert mine.acquire(["k"]) == set()
        time.sleep(0.3)  # the TTL is the only way to learn another host's process died
        assert mine.acquire(["k"]) == {"k"}
    finally:
        mine.close()


def test_run_lock_files_are_private_and_removed_at_close(tmp_path: Path) -> None:
    claims = Claims(tmp_path)
    runs = tmp_path / "claims" / "runs"
    locks = list(runs.iterdir())
    assert stat.S_IMODE(runs.stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) for p in locks] == [0o600]
    claims.close()
    assert not list(runs.iterdir())


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _killed_run(directory: Path, keys: list[str], prelude: str = "", ttl: float = 3600) -> None:
    """A process that takes ``keys`` and is SIGKILLed (after running ``prelude``)."""
    take = prelude + textwrap.dedent(
        f"""
        import os, signal
        from ocr_frames._cache.claims import Claims
        assert Claims({str(directory)!r}, ttl={ttl!r}).acquire({keys!r}) == set({keys!r})
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", take], capture_output=True, timeout=30)
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.skipif(not BOOT_ID.is_file(), reason="needs /proc/sys/kernel/random/boot_id")
def test_claims_of_a_killed_container_are_free_for_its_replacement_with_a_new_hostname(
    tmp_path: Path,
) -> None:
    """``docker run`` again, a recreated compose service, a new pod: same kernel and cache
    volume, new hostname.  The dead run's lock file tells, whatever the hostname; a claim
    made under another kernel (another boot id) is honoured until it expires."""
    keys = [f"k{i}" for i in range(512)]
    _killed_run(tmp_path, keys, "import socket\nsocket.gethostname = lambda: 'container-aaa'\n")
    replacement = Claims(tmp_path)
    try:
        other_kernel = keys[::2]
        for key in other_kernel:  # as if taken on another machine sharing the cache
            remote = {**_claim_value(replacement, key), "boot": "another-kernel"}
            replacement._cache.set(key, json.dumps(remote), expire=0.5)
        assert replacement._host != "container-aaa"
        assert replacement.acquire(keys) == set(keys[1::2]), "the replacement was blocked"
        time.sleep(0.6)  # the TTL is the only way to learn another kernel's process died
        assert replacement.acquire(other_kernel) == set(other_kernel)
    finally:
        replacement.close()


def test_a_process_forked_by_a_killed_run_does_not_keep_its_claims(tmp_path: Path) -> None:
    """fork() shares the run's locked file description with the child (O_CLOEXEC only acts
    on exec): the child must let go of it, or the killed run would live on in it."""
    keys = [f"k{i}" for i in range(10)]
    read_end, write_end = os.pipe()
    run = textwrap.dedent(
        f"""
        import os, signal, sys
        from ocr_frames._cache.claims import Claims
        claims = Claims({str(tmp_path)!r})
        assert claims.acquire({keys!r}) == set({keys!r})
        done = os.fork()
        if done == 0:
            os._exit(0)
        os.waitpid(done, 0)  # a child that ended does not take the run's lock with it
        assert Claims({str(tmp_path)!r}).acquire({keys!r}) == set()
        if os.fork() == 0:  # e.g. a multiprocessing (fork) worker started meanwhile
            print(os.getpid(), flush=True)
            os.read({read_end}, 1)  # lives until the test closes the pipe
            os._exit(0)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", run], stdout=subprocess.PIPE, pass_fds=(read_end,)
    )
    os.close(read_end)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())  # the child is forked and running
        assert proc.wait(timeout=30) == -signal.SIGKILL
        claims = Claims(tmp_path)
        try:
            assert _claims.pid_alive(child)
            assert claims.acquire(keys) == set(keys), "the forked child kept the run alive"
        finally:
            claims.close()
    finally:
        os.close(write_end)  # the child reads EOF and exits
        if proc.stdout is not None:
            proc.stdout.read()
            proc.stdout.close()


POSIX_FLOCK = textwrap.dedent(
    """
    import fcntl
    fcntl.flock = lambda fd, op: fcntl.lockf(fd, op)
    """
)


def _posix_flock(fd: int, op: int) -> None:
    fcntl.lockf(fd, op)


def test_without_a_usable_flock_claims_fall_back_to_their_ttl_and_a_warning_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On NFS or CIFS, Linux emulates ``flock`` with a POSIX lock (man 2 flock): it needs
    a writable descriptor and never conflicts within one process, so a lock file cannot
    tell a live run from a dead one.  Claims are then honoured until they expire (never
    taken from a live run, which would bill twice), lock files are left alone, and one
    warning names the problem."""
    dead = [f"dead{i}" for i in range(50)]
    _killed_run(tmp_path, dead, POSIX_FLOCK, ttl=0.5)
    monkeypatch.setattr(fcntl, "flock", _posix_flock)
    caplog.set_level(logging.WARNING, logger="ocr_frames")
    live = Claims(tmp_path)
    runs = [live]
    try:
        assert live.acquire(["live"]) == {"live"}
        for _ in range(2):  # two more runs in this process: one warning
            runs.append(Claims(tmp_path))
            assert runs[-1].acquire(["live", *dead]) == set()
            assert live._lock_file(live._run).exists()
        warnings = [r for r in caplog.records if "flock" in r.getMessage()]
        assert len(warnings) == 1, caplog.records
        assert "local disk" in warnings[0].getMessage()
        time.sleep(0.6)  # the killed run's claims expire
        assert runs[-1].acquire(["live", *dead]) == set(dead)
    finally:
        for claims in runs:
            claims.close()
