"""Group commit for the SQLite store: writes queued while one commits share the next commit.

With ``synchronous=FULL`` every ``COMMIT`` costs an fsync (milliseconds), so a claim, a batch
of completions and an enqueue batch that arrive together are run in one ``BEGIN IMMEDIATE``
transaction, each in its own savepoint (:func:`~stargraph.store.sqlite.tx.run_group`).
No caller gets its result before that ``COMMIT`` returns, so an acknowledged write is durable
exactly as before; a call that raises is rolled back alone.

The first caller to find no batch in progress leads: it takes the store's lock, runs every
queued call in the store's worker thread, and hands over to whoever queued meanwhile. A caller
cancelled before its call was taken withdraws it; once taken, the call runs to completion.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar, cast

import anyio

from stargraph._thread import WorkerThread
from stargraph.store.sqlite.tx import run_group

__all__ = ["WriteGroup"]

T = TypeVar("T")
Call = Callable[[sqlite3.Connection], Any]

_QUEUED, _RUNNING, _DONE = 0, 1, 2


class _Op:
    __slots__ = ("call", "ok", "state", "value")

    def __init__(self, call: Call) -> None:
        self.call = call
        self.state = _QUEUED
        self.ok = False
        self.value: Any = None


class WriteGroup:
    """Queues write calls and commits whatever is queued together (create inside the loop)."""

    def __init__(
        self,
        lock: anyio.Lock,
        thread: WorkerThread,
        connection: Callable[[], sqlite3.Connection],
    ) -> None:
        self._lock = lock
        self._thread = thread
        self._connection = connection  # raises if the store was closed meanwhile
        self._queue: list[_Op] = []
        self._leading = False
        self._changed = anyio.Event()

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a (possibly shared) write transaction; return after COMMIT."""
        op = _Op(fn)
        self._queue.append(op)
        try:
            while op.state != _DONE:
                if self._leading:
                    await self._changed.wait()
                else:
                    await self._lead()
        except BaseException:
            if op.state == _QUEUED:
                self._queue.remove(op)
            raise
        if op.ok:
            return cast(T, op.value)
        raise op.value

    async def _lead(self) -> None:
        self._leading = True
        try:
            async with self._lock:
                batch, self._queue = self._queue, []
                for op in batch:
                    op.state = _RUNNING
                try:  # a taken call always completes: WorkerThread.run is shielded
                    self._connection()  # closed meanwhile: StoreError, before its thread ends
                    outcomes = await self._thread.run(self._run, batch)
                except Exception as exc:
                    outcomes = [(False, exc)] * len(batch)
                for op, (ok, value) in zip(batch, outcomes, strict=True):
                    op.ok, op.value, op.state = ok, value, _DONE
        finally:
            self._leading = False
            changed, self._changed = self._changed, anyio.Event()
            changed.set()

    def _run(self, batch: list[_Op]) -> list[tuple[bool, Any]]:
        conn = self._connection()
        if len(batch) == 1:  # alone: the call's own transaction, no savepoint
            try:
                return [(True, batch[0].call(conn))]
            except Exception as exc:
                return [(False, exc)]
        return run_group(conn, [op.call for op in batch])
