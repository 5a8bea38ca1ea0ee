"""An interrupt stops the run: Ctrl-C in a notebook (a running event loop), SIGINT or
SIGTERM to the CLI.  Control comes back within a second, at most ``concurrency`` calls
were still in flight, every answer received is in the cache (a rerun pays only for the
rest), and no output file is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache
import pytest

import ocr_frames as of
from ocr_frames.testing import WeChatEmulator
from tests.helpers import ImageFiles, cli_env

N, CONCURRENCY, LATENCY = 80, 4, 0.2  # an uninterrupted run takes about 4 s
STOP_WITHIN = 1.0  # seconds from the interrupt to control back in the caller


class _Interrupter:
    """Sends SIGINT to the main thread once the emulator has billed ``after`` calls."""

    def __init__(self, emu: WeChatEmulator, after: int) -> None:
        self.sent_at = 0.0
        self.billed_at = 0
        self._emu, self._after = emu, after
        self._armed = True
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _Interrupter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._armed = False
        self._thread.join(timeout=30)

    def _watch(self) -> None:
        deadline = time.monotonic() + 30
        while self._armed and self._emu.total_billed < self._after:
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        if self._armed:
            self.billed_at = self._emu.total_billed
            self.sent_at = time.monotonic()
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


def _in_a_notebook_cell(call: Callable[[], Any]) -> None:
    """Run ``call`` the way Jupyter runs a cell: inside a coroutine on a running event
    loop of the main thread, with Python's own SIGINT handler (KeyboardInterrupt)."""

    async def cell() -> None:
        call()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(cell())
    finally:
        loop.close()


def _quiet(emu: WeChatEmulator) -> int:
    """The emulator's request count once the calls sent before now have been answered."""
    time.sleep(3 * LATENCY)  # observing that nothing more arrives takes a little time
    return emu.requests


def _assert_no_claims_left(cache: Path) -> None:
    with diskcache.Cache(str(cache / "claims")) as claims:
        assert len(claims) == 0, "the interrupted run left claims behind"
    assert not list((cache / "claims" / "runs").iterdir()), "its lock file is still there"


@pytest.mark.parametrize("entry", ["recognize", "recognize_to_parquet"])
def test_interrupt_inside_a_running_loop_stops_billing_and_keeps_answers(
    entry: str, image_files: ImageFiles, tmp_path: Path
) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    paths = image_files(N)
    cache = tmp_path / "cache"
    out = tmp_path / "out.parquet"
    with WeChatEmulator(latency=LATENCY) as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        kw: dict[str, Any] = dict(
            engine=engine, cache_dir=cache, concurrency=CONCURRENCY, progress=False
        )

        def run() -> None:
            if entry == "recognize":
                of.recognize(paths, "bankcard", **kw)
            else:
                of.recognize_to_parquet(paths, "bankcard", out, **kw)

        with _Interrupter(emu, after=12) as interrupt, pytest.raises(KeyboardInterrupt):
            _in_a_notebook_cell(run)
        took = time.monotonic() - interrupt.sent_at
        requests, billed = emu.requests, emu.total_billed
        after_requests = _quiet(emu)
        final = emu.total_billed
        assert took < STOP_WITHIN, f"control came back {took:.2f}s after the interrupt"
        assert after_requests == requests, "requests were still sent after control came back"
        assert final <= billed + CONCURRENCY, (billed, final)
        assert final < N // 2, f"the batch went on after the interrupt: {final} billed"
        assert not out.exists() and not list(tmp_path.glob(".out.parquet.tmp-*"))
        _assert_no_claims_left(cache)

        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)
        df = of.recognize(paths, "bankcard", **{**kw, "engine": engine})
        total = emu.total_billed
    assert (df["errcode"] == 0).all()
    assert total <= N + CONCURRENCY, f"{total} billed for {N} images: answers were lost"
    assert int(df["cached"].sum()) >= final - CONCURRENCY
    print(
        f"interrupt in a running loop ({entry}): control back in {took:.2f}s, "
        f"{interrupt.billed_at} billed at SIGINT, {final} in the end, {total} after the rerun"
    )


def test_ctrl_c_under_asyncio_run_stops_a_sync_call_inside_it(
    image_files: ImageFiles, tmp_path: Path
) -> None:
    """A script's ``asyncio.run(main())`` calling the sync API: asyncio's own SIGINT
    handler only cancels the main task, which sits in the blocking call."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    paths = image_files(N)
    with WeChatEmulator(latency=LATENCY) as emu:
        engine = of.WeChatEngine(appid=emu.appid, secret=emu.secret, base_url=emu.base_url)

        async def main() -> None:
            of.recognize(
                paths,
                "bankcard",
                engine=engine,
                cache_dir=tmp_path / "cache",
                concurrency=CONCURRENCY,
                progress=False,
            )

        with _Interrupter(emu, after=8) as interrupt, pytest.raises(KeyboardInterrupt):
            asyncio.run(main())
        took = time.monotonic() - interrupt.sent_at
        billed = emu.total_billed
        _quiet(emu)
        final = emu.total_billed
    assert took < STOP_WITHIN, f"control came back {took:.2f}s after Ctrl-C"
    assert final <= billed + CONCURRENCY and final < N // 2, (billed, final)
    _assert_no_claims_left(tmp_path / "cache")


@pytest.mark.timeout(120)
def test_interrupting_a_real_jupyter_kernel_stops_the_run(
    image_files: ImageFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop button of a notebook: ``interrupt_kernel`` while a cell runs ``recognize``."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    spec_dir = tmp_path / "jupyter" / "kernels" / "ocr-frames-interrupt"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "ocr-frames", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    paths, cache = image_files(N), str(tmp_path / "cache")
    with WeChatEmulator(latency=LATENCY) as emu:
        cell = textwrap.dedent(
            f"""
            import ocr_frames as of
            engine = of.WeChatEngine(appid={emu.appid!r}, secret={emu.secret!r},
                                     base_url={emu.base_url!r})
            of.recognize({paths!r}, "bankcard", engine=engine, cache_dir={cache!r},
                         concurrency={CONCURRENCY}, progress=False)
            """
        )
        km, kc = manager.start_new_kernel(kernel_name="ocr-frames-interrupt")
        try:
            msg_id = kc.execute(cell)
            deadline = time.monotonic() + 60
            while emu.total_billed < 12:
                assert time.monotonic() < deadline, "the cell never got going"
                with contextlib.suppress(queue.Empty):  # a reply now: the cell failed
                    early = kc.get_shell_msg(timeout=0.005)
                    pytest.fail(f"the cell ended before the interrupt: {early['content']}")
            sent = time.monotonic()
            km.interrupt_kernel()
            while (reply := kc.get_shell_msg(timeout=30))["parent_header"].get("msg_id") != msg_id:
                pass
            took = time.monotonic() - sent
            requests, billed = emu.requests, emu.total_billed
            after_requests = _quiet(emu)
            final = emu.total_billed
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert took < STOP_WITHIN, f"the cell ended {took:.2f}s after the interrupt"
    assert after_requests == requests and final <= billed + CONCURRENCY
    print(f"Jupyter kernel interrupt: cell ended in {took:.2f}s, {final} of {N} billed")


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "ocr_frames.cli", "run", *args, "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_interrupted_by_a_signal_cleans_up_and_keeps_answers(
    signum: int, code: int, image_files: ImageFiles, tmp_path: Path
) -> None:
    folder = str(Path(image_files(N)[0]).parent)
    cache = tmp_path / "cache"
    out = tmp_path / "out.parquet"
    args = [folder, "--kind", "bankcard", "--out", str(out), "--concurrency", str(CONCURRENCY)]
    with WeChatEmulator(latency=LATENCY) as emu:
        env = cli_env(emu, cache)
        proc = _cli(args, env)
        deadline = time.monotonic() + 30
        while emu.total_billed < 12:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.005)
        sent = time.monotonic()
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
        requests, billed = emu.requests, emu.total_billed
        after_requests = _quiet(emu)
        final = emu.total_billed
        assert proc.returncode == code, stderr.decode(errors="replace")
        assert took < 2 * STOP_WITHIN, f"the process took {took:.2f}s to stop"
        assert after_requests == requests and final <= billed + CONCURRENCY
        assert not out.exists() and not list(tmp_path.glob(".out.parquet.tmp-*"))
        _assert_no_claims_left(cache)
        done = subprocess.run(
            [sys.executable, "-m", "ocr_frames.cli", "run", *args, "--no-progress"],
            env=env,
            capture_output=True,
            timeout=60,
        )
        total = emu.total_billed
    assert done.returncode == 0, done.stderr
    assert total <= N + CONCURRENCY, f"{total} billed for {N} images"
    print(f"CLI {signal.Signals(signum).name}: exit {code} after {took:.2f}s, {total} billed")
