"""A private event loop for a blocking wrapper of an async object, driven by its callers.

:func:`ocr_frames._base.sync.run_sync` runs one coroutine on a fresh loop and is right for
one-shot work.  An object that keeps loop-bound state between calls (an
``httpx.AsyncClient`` and its kept-alive connections, an ``asyncio.Lock``) needs the
*same* loop for every call instead: :class:`SharedLoop` holds such an object and its
loop, runs each call of the object's coroutine methods there (many threads may call at
once; their coroutines run concurrently), and closes both in :meth:`SharedLoop.stop`.

No thread of its own runs the loop: the calling threads do, one at a time.  A call made
while nobody drives the loop drives it itself until its coroutine ends; one made
meanwhile hands its coroutine to the driver and waits, and takes over driving when the
driver leaves with that coroutine unfinished.  Measured against a loop thread of its own
(bench/notes.md, "The blocking client"): a sequence of calls no longer pays for waking
two sleeping threads per call.  A thread that runs an event loop of its own (Jupyter)
cannot drive this one: a helper thread drives for it.  Ctrl-C while the main thread
drives cancels that thread's own coroutine, then raises KeyboardInterrupt (as
``asyncio.run``), so an interrupt never lands inside the loop's machinery or in another
thread's call; an interrupted wait cancels the coroutine too, and waits up to
:data:`CANCEL_GRACE` seconds for its cleanup (the connection it used is closed).

Loop and object belong to the process that made them.  A child forked from it inherits
both, but its connections are the parent's sockets: in the child they are set aside,
untouched (closing them there could write on the parent's connections: a TLS
close_notify), and the child's first call makes a new object (told which one the parent
had, to take over state such as a token) on a new loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import threading
import weakref
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, Final, Generic, TypeVar

__all__ = ["CANCEL_GRACE", "SharedLoop"]

T = TypeVar("T")
S = TypeVar("S")

#: Seconds an interrupted caller waits for its cancelled coroutine to clean up.
CANCEL_GRACE: Final = 1.0

#: Every SharedLoop of this process (to hand over at a fork).
_LIVE: weakref.WeakSet[SharedLoop[Any]] = weakref.WeakSet()
#: In a forked child: the parent's loops and objects, kept so that nothing ever closes them.
_INHERITED: list[object] = []


class _Call:
    """One coroutine on the loop: its task, and the event that tells its caller it ended."""

    def __init__(self, coro: Coroutine[Any, Any, Any], *, closing: bool = False) -> None:
        self.coro = coro
        self.closing = closing  # runs after stop() (closing the object, winding down)
        self.task: asyncio.Task[Any] | None = None
        self.ended = False
        self.cancelled = False
        self.interrupted = False  # Ctrl-C while its caller drove the loop
        self.signal = threading.Event()  # ended, or the loop needs a driver


class SharedLoop(Generic[S]):
    """An event loop driven by its callers in turn, and the object ``first`` whose
    coroutine methods run on it.

    ``make(previous)`` makes the object of a forked child (``previous``: the parent's, for
    its state; its connections must not be used).  ``close(object)`` is awaited by
    :meth:`stop`.
    """

    def __init__(
        self,
        name: str,
        first: S,
        make: Callable[[S], S],
        close: Callable[[S], Coroutine[Any, Any, None]],
    ) -> None:
        self._name = name
        self._make, self._close = make, close
        self._object: S | None = first
        self._parent = first  # what the child of a fork makes its own object from
        self._reset()
        self._stopped = False
        _LIVE.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driver: _Call | None = None  # the call whose caller drives the loop now
        self._waiting: set[_Call] = set()  # calls whose callers wait for theirs to end

    def run(self, call: Callable[[S], Coroutine[Any, Any, T]]) -> T:
        """Run ``call(object)`` on the loop and return its result (or raise its exception).

        An exception raised in the caller meanwhile (``KeyboardInterrupt``) cancels the
        coroutine before it propagates.  After :meth:`stop`: RuntimeError.
        """
        with self._lock:
            self._check_open()
            if self._object is None:  # a forked child's first call
                self._object = self._make(self._parent)
            target = self._object
        result: T = self._run(_Call(call(target)))
        return result

    def stop(self, *, close: bool = True) -> None:
        """Cancel the calls still running, close the object on the loop (unless ``close``
        is false), then close the loop for good.  Again: nothing to do.

        The object is closed even if it was never used (it may own a transport handed
        over to it); an object of the parent process never is.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            target, self._object = self._object, None
        closing = None if target is None or not close else self._close(target)
        try:
            if closing is not None or (close and self._loop is not None):
                self._run(_Call(_wind_down(closing), closing=True))
        finally:
            with self._lock:
                loop, self._loop = self._loop, None
                if loop is not None and self._driver is None and not loop.is_running():
                    loop.close()

    def _check_open(self) -> None:
        if self._stopped:
            raise RuntimeError(f"{self._name}: the loop was stopped (the owner is closed)")

    # --- calls --------------------------------------------------------------------------

    def _run(self, call: _Call) -> Any:
        """Run ``call`` to its end: drive the loop, or hand it to the caller who does."""
        loop: asyncio.AbstractEventLoop | None = None
        handed = False  # to the loop: from then on, its task (or _start) ends the coroutine
        try:
            with self._lock:
                if not call.closing:
                    self._check_open()
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                loop = self._loop
                driving = self._driver is None and asyncio._get_running_loop() is None
                if driving:
                    self._driver = call
                else:  # thread-safe hand-over; under the lock, so it precedes stop()
                    loop.call_soon_threadsafe(self._start, call)
                    handed = True
            if driving:
                handed = True
                self._start(call)  # the loop is ours: nobody else runs it now
            self._until_ended(loop, call, None, driving=driving)
        except BaseException:
            if not handed:
                call.coro.close()  # not a "never awaited" warning
            with self._lock:  # interrupted before driving began
                if self._driver is call:
                    self._driver = None
                    self._pass_on()
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # a closed loop: the call is over
                    loop.call_soon_threadsafe(self._cancel, call)
                    self._until_ended(loop, call, CANCEL_GRACE)
            raise
        if call.interrupted:
            raise KeyboardInterrupt
        if call.task is None or call.task.cancelled():  # by stop(), in another thread
            raise concurrent.futures.CancelledError
        return call.task.result()

    def _until_ended(
        self,
        loop: asyncio.AbstractEventLoop,
        call: _Call,
        timeout: float | None,
        *,
        driving: bool = False,
    ) -> None:
        """Drive the loop, or wait while another caller does, until ``call`` has ended
        (or ``timeout`` seconds have passed)."""
        if asyncio._get_running_loop() is not None:  # this thread cannot drive: a helper
            helper = threading.Thread(
                target=self._until_ended, args=(loop, call, timeout), name=self._name
            )
            helper.daemon = True
            helper.start()
            helper.join(timeout)
            return
        stop_at = None if timeout is None else loop.time() + timeout
        while True:
            left = None if stop_at is None else stop_at - loop.time()
            try:
                with self._lock:
                    call.signal.clear()  # before looking: a later end sets it again
                    if call.ended or (left is not None and left <= 0):
                        self._waiting.discard(call)
                        self._pass_on()  # were we woken to drive?
                        return
                    if not driving and self._driver is None:
                        self._driver, driving = call, True
                    if driving:
                        self._waiting.discard(call)
                    else:
                        self._waiting.add(call)
                if driving:
                    self._drive(loop, call, left)
                else:
                    call.signal.wait(left)
            finally:
                if driving:
                    driving = False
                    with self._lock:
                        self._driver = None
                        self._pass_on()

    def _pass_on(self) -> None:
        """Wake a waiting caller to drive, if the loop has no driver (under the lock)."""
        if self._driver is None:
            for waiter in self._waiting:
                if not waiter.ended:
                    waiter.signal.set()
                    return

    def _drive(self, loop: asyncio.AbstractEventLoop, call: _Call, timeout: float | None) -> None:
        """Run the loop in this thread until ``call`` ends or ``timeout`` passes."""
        timer = None if timeout is None else loop.call_later(timeout, loop.stop)
        ctrl_c = _CtrlC(loop, call, self._cancel)
        try:
            if not call.ended:
                loop.run_forever()
        finally:
            ctrl_c.restore()
            if timer is not None:
                timer.cancel()

    # --- on the loop (in the driving thread) -------------------------------------------

    def _start(self, call: _Call) -> None:
        assert self._loop is not None
        if call.cancelled or (self._stopped and not call.closing):
            call.coro.close()
            self._ended(call)
            return
        call.task = self._loop.create_task(call.coro)
        call.task.add_done_callback(lambda _: self._ended(call))

    def _ended(self, call: _Call) -> None:
        call.ended = True
        call.signal.set()
        loop = self._loop
        if self._driver is call and loop is not None and loop.is_running():
            loop.stop()

    def _cancel(self, call: _Call) -> None:
        call.cancelled = True
        if call.task is not None:
            call.task.cancel()

    # --- fork ---------------------------------------------------------------------------

    def _forked(self) -> None:
        """In a forked child: set the parent's loop and object aside (their connections
        are the parent's); the next call makes new ones."""
        if self._object is not None:
            self._parent = self._object
        _INHERITED.extend(x for x in (self._loop, self._object) if x is not None)
        self._object = None
        self._reset()  # a lock another thread held at the fork, callers that are gone


class _CtrlC:
    """While the main thread drives: Ctrl-C cancels its own call (a second one interrupts
    at once), if SIGINT has Python's default handler."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, call: _Call, cancel: Callable[[_Call], None]
    ) -> None:
        self._loop, self._call, self._cancel = loop, call, cancel
        self._installed = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if self._installed:
            signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._call.interrupted:
            raise KeyboardInterrupt
        self._call.interrupted = True
        self._cancel(self._call)
        self._loop.call_soon_threadsafe(_nothing)  # wake a select() waiting for long

    def restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _nothing() -> None:
    pass


async def _wind_down(closing: Coroutine[Any, Any, None] | None) -> None:
    """Cancel every other task on the loop and wait for them, await ``closing``, end async
    generators and the default executor."""
    loop = asyncio.get_running_loop()
    others = [task for task in asyncio.all_tasks(loop) if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    try:
        if closing is not None:
            await closing
    finally:
        await loop.shutdown_asyncgens()
        await loop.shutdown_default_executor()


def _forked() -> None:
    for each in list(_LIVE):
        each._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)
