"""One dedicated worker thread with the cheapest hop from the event loop and back.

``anyio.to_thread.run_sync`` pays per call for a thread-pool hand-off, a context copy and, on
trio, a thread rename (twice) and a wake-up through trio's entry-queue task (two scheduler
passes). A store that serialises its calls anyway (one SQLite connection) needs none of it:
:class:`WorkerThread` keeps one thread and hands it jobs through a ``SimpleQueue``. The thread
wakes the caller with ``loop.call_soon_threadsafe`` on asyncio and, on trio, with a byte on a
socket pair the caller waits on directly (``trio.lowlevel.wait_readable``: one pass, no entry
queue). Measured in ``benchmarks/trio_par.py`` (its ``hop_*`` rows).

One call at a time: callers serialise (the SQLite store's ``anyio.Lock``). A call the
thread has taken always completes: the wait is shielded, so a cancelled caller gets its
result and the cancellation at its next checkpoint, as with ``to_thread.run_sync``.

Resource handling: :meth:`WorkerThread.start` starts the thread and opens the socket pair,
:meth:`WorkerThread.stop` ends the thread (after the queued calls) and closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

__all__ = ["WorkerThread"]

T = TypeVar("T")
_Outcome = tuple[bool, Any]  # (True, value) or (False, exception)
_Job = tuple[Callable[..., Any], tuple[Any, ...], Callable[[_Outcome], None]]


class WorkerThread:
    """A thread that runs blocking calls for one owner, one at a time (see the module doc)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._recv: socket.socket | None = None
        self._send: socket.socket | None = None
        self._outcome: _Outcome = (False, None)

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._recv, self._send = socket.socketpair()
            self._recv.setblocking(False)
            self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """End the thread once the queued calls ran; close the socket pair (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._jobs.put(None)
        thread.join()
        for sock in (self._recv, self._send):
            if sock is not None:
                sock.close()
        self._recv = self._send = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Return ``fn(*args)`` run in the thread (the caller holds the owner's lock)."""
        if self._thread is None:
            raise RuntimeError(f"worker thread {self.name!r} is not running; start() it first")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            ok, value = await self._run_trio(fn, args)
        else:
            ok, value = await self._run_asyncio(loop, fn, args)
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    async def _run_asyncio(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> _Outcome:
        future: asyncio.Future[_Outcome] = loop.create_future()

        def deliver(outcome: _Outcome) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(_settle, future, outcome)

        self._jobs.put((fn, args, deliver))
        with anyio.CancelScope(shield=True):  # a taken call always completes
            outcome = await future
        return outcome

    async def _run_trio(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> _Outcome:
        import trio  # here: an asyncio-only process never pays trio's import

        recv, send = self._recv, self._send
        assert recv is not None and send is not None

        def deliver(outcome: _Outcome) -> None:
            self._outcome = outcome
            send.send(b"\0")

        self._jobs.put((fn, args, deliver))
        with trio.CancelScope(shield=True):  # a taken call always completes
            await trio.lowlevel.wait_readable(recv)
        recv.recv(16)
        outcome, self._outcome = self._outcome, (False, None)
        return outcome

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, deliver = job
            try:
                outcome: _Outcome = (True, fn(*args))
            except BaseException as exc:  # handed to the caller, raised there
                outcome = (False, exc)
            del fn, args, job
            deliver(outcome)
            del outcome, deliver


def _settle(future: asyncio.Future[_Outcome], outcome: _Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
