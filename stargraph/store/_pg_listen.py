"""Wake-ups across nodes: ``LISTEN`` on a dedicated connection, with a polling fallback.

The listening connection is not taken from the pool: it stays in ``LISTEN`` for the life of the
store. A worker thread reads notifications in short slices (``conn.notifies(timeout=...)``), so
a cancelled waiter never leaves a thread blocked for long, and a lost connection only degrades to
polling (the waiter sleeps out its timeout) until the next wait reconnects.
"""

from __future__ import annotations

import logging
import threading

import anyio
import psycopg
from psycopg import sql

from stargraph._log import log_event
from stargraph.store._pg_exec import Conn

__all__ = ["Listener"]

logger = logging.getLogger("stargraph.store")

#: Longest time one worker thread blocks reading notifications.
SLICE = 0.25


class Listener:
    """One ``LISTEN`` connection shared by every :meth:`wait` of a store."""

    def __init__(self, conninfo: str, channel: str, where: str, application_name: str) -> None:
        self._conninfo = conninfo
        self._application_name = application_name
        self._channel = channel
        self._where = where
        self._conn: Conn | None = None
        self._io = threading.Lock()  # one thread at a time on the connection
        self._closed = False
        self._lost = False  # the connection dropped: notifications may have been missed
        self._unseen = False  # a reader whose waiter was cancelled got a notification
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

    def _read(self, timeout: float) -> bool:
        """Block up to *timeout* s for notifications; drain them; True if any arrived."""
        with self._io:
            if self._closed:
                return False
            if self._unseen:
                return True
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
                if self._lost:  # work may have been announced while we were away
                    self._lost = False
                    log_event(logger, "store.listen.restored", where=self._where)
                    return True
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                self._unseen = True
            return self._unseen

    def _drop(self, lost: bool = False) -> None:
        with self._io:
            conn, self._conn = self._conn, None
            self._lost = self._lost or lost
        if conn is not None:
            conn.close()

    async def connect(self) -> None:
        """Open the connection and ``LISTEN`` now (so no notification before a wait is lost)."""
        await anyio.to_thread.run_sync(self._read, 0.0, limiter=self._limiter)

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
            try:
                got = await anyio.to_thread.run_sync(
                    self._read, min(left, SLICE), limiter=self._limiter, abandon_on_cancel=True
                )
            except psycopg.Error as exc:
                log_event(
                    logger,
                    "store.listen.lost",
                    logging.WARNING,
                    where=self._where,
                    error=type(exc).__name__,
                )
                await anyio.to_thread.run_sync(self._drop, True, limiter=self._limiter)
                await anyio.sleep(max(0.0, deadline - anyio.current_time()))
                return
            if got:
                self._unseen = False  # seen by this waiter
                return

    async def close(self) -> None:
        """Close the connection, waiting (shielded, bounded) for a reader slice to end."""
        self._closed = True
        with anyio.move_on_after(SLICE * 4 + 1, shield=True):
            await anyio.to_thread.run_sync(self._drop, abandon_on_cancel=True)
