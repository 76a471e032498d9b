"""Wake-ups across nodes: ``LISTEN`` on a dedicated connection, with a polling fallback.

The listening connection is not taken from the pool: it stays in ``LISTEN`` for the life of the
store. A worker thread reads notifications in short slices (``conn.notifies(timeout=...)``), so
a cancelled waiter never leaves a thread blocked for long, and a lost connection only degrades to
polling (the waiter sleeps out its timeout) until the next wait reconnects.

Notifications whose payload is the store's own node id (its own enqueues: its scheduler was
woken by the commit already) are dropped in the reader thread, which keeps reading: they cost
no hop to the event loop and no wake-up. Notifications that piled up while nobody read are
coalesced into one wake-up.
"""

from __future__ import annotations

import logging
import threading
import time

import anyio
import psycopg
from psycopg import sql

from stargraph._log import log_event
from stargraph.store.postgres.exec import Conn

__all__ = ["Listener"]

logger = logging.getLogger("stargraph.store")

#: Longest time one worker thread blocks reading notifications.
SLICE = 0.25
#: Seconds between reconnect attempts while the server cannot be reached.
RECONNECT_BACKOFF = 1.0


class Listener:
    """One ``LISTEN`` connection shared by every :meth:`wait` of a store."""

    def __init__(
        self, conninfo: str, channel: str, where: str, application_name: str, *,
        ignore: str | None = None,
    ) -> None:  # fmt: skip
        self._conninfo = conninfo
        self._ignore = ignore  # the payload of this node's own notifications
        self.ignored = 0  # own notifications dropped so far
        self._application_name = application_name
        self._channel = channel
        self._where = where
        self._conn: Conn | None = None
        self._io = threading.Lock()  # one thread at a time on the connection
        self._closed = False
        self._lost = False  # the connection dropped: notifications may have been missed
        self._unseen = False  # a reader whose waiter was cancelled got a notification
        self._retry_at = 0.0  # no reconnect attempt before this monotonic time
        self._limiter = anyio.CapacityLimiter(2)
        self._busy = anyio.Lock()
        self._woken = anyio.Event()

    def _connect(self) -> Conn:
        conn = psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=5,
            application_name=self._application_name,
        )  # fmt: skip
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return conn

    def _read(self, timeout: float) -> bool | None:
        """Block up to *timeout* s for notifications and drain them.

        Returns True if any arrived (or the connection was just restored: some may have been
        missed), False if none, None while the server cannot be reached (polling fallback).
        """
        if not self._io.acquire(timeout=timeout):  # an abandoned reader still holds it
            return False
        try:
            if self._closed:
                return None
            if self._unseen:
                return True
            if self._conn is None and time.monotonic() < self._retry_at:
                return None  # reconnect backoff
            try:
                return self._notifies(timeout)
            except psycopg.Error as exc:
                self._fail(exc)
                return None
        finally:
            self._io.release()

    def _notifies(self, timeout: float) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            if self._lost:  # work may have been announced while we were away
                self._lost = False
                log_event(logger, "store.listen.restored", where=self._where)
                return True
        for note in self._conn.notifies(timeout=timeout):
            if note.payload == self._ignore:
                self.ignored += 1
                continue
            self._unseen = True
            break
        if self._unseen:  # coalesce what is already there into this wake-up
            for _ in self._conn.notifies(timeout=0):
                pass
        return self._unseen

    def _fail(self, exc: psycopg.Error) -> None:
        """Drop a broken connection (logged once per outage) and back off reconnecting."""
        conn, self._conn = self._conn, None
        self._retry_at = time.monotonic() + RECONNECT_BACKOFF
        if conn is not None:
            conn.close()
            log_event(logger, "store.listen.lost", logging.WARNING, where=self._where,
                      error=type(exc).__name__)  # fmt: skip
        self._lost = True

    def _drop(self) -> None:
        with self._io:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def connect(self) -> None:
        """Open the connection and ``LISTEN`` now (so no notification before a wait is lost)."""

        def first() -> None:
            with self._io:
                self._conn = self._connect()

        await anyio.to_thread.run_sync(first, limiter=self._limiter)

    async def wait(self, timeout: float) -> None:
        """Return after a notification, or after *timeout* seconds."""
        with anyio.move_on_after(timeout):
            if self._busy.locked():  # another task listens; share its wake-up
                await self._woken.wait()
                return
            async with self._busy:
                await self._listen(timeout)
                woken, self._woken = self._woken, anyio.Event()
                woken.set()

    async def _listen(self, timeout: float) -> None:
        deadline = anyio.current_time() + timeout
        while (left := deadline - anyio.current_time()) > 0:
            if self._closed:
                await anyio.sleep(left)
                return
            got = await anyio.to_thread.run_sync(
                self._read, min(left, SLICE), limiter=self._limiter, abandon_on_cancel=True
            )
            if got is None:  # unreachable (or closed): sleep until the next reconnect attempt
                await anyio.sleep(max(0.0, min(left, self._retry_at - time.monotonic(), SLICE)))
                continue
            if got:
                self._unseen = False  # seen by this waiter
                return

    async def close(self) -> None:
        """Close the connection, waiting (shielded, bounded) for a reader slice to end."""
        self._closed = True
        with anyio.move_on_after(SLICE * 4 + 1, shield=True):
            await anyio.to_thread.run_sync(self._drop, abandon_on_cancel=True)
