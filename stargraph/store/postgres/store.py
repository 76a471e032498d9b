"""The PostgreSQL :class:`~stargraph.store.base.RunStore`: several nodes, one queue, no leader.

psycopg 3's *sync* :class:`psycopg_pool.ConnectionPool` reached through anyio worker threads
(psycopg's async API does not run on trio) behind a ``CapacityLimiter`` sized to the pool;
every query is cancellable (see :mod:`stargraph.store.postgres.exec`). Claims use
``FOR UPDATE SKIP LOCKED``; per-graph concurrency holds across nodes through a per-graph
``pg_advisory_xact_lock`` taken while claiming a limited graph; new work is announced with
``NOTIFY`` in the enqueue transaction and heard on a dedicated ``LISTEN`` connection.

URL: ``postgresql://user:password@host:5432/dbname`` with any libpq option, plus Stargraph's
own ``schema``, ``pool_min_size``, ``pool_max_size``, ``pool_timeout`` and ``listen`` query
options (see ``docs/postgres.md``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

import anyio
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from stargraph._log import log_event
from stargraph.errors import StoreError
from stargraph.store._sql.base import LeaseSQL, QuerySQL, SQLStore, Undo
from stargraph.store._sql.dialect import Dialect
from stargraph.store.base import Enqueued, EnqueueRequest, Run, RunError
from stargraph.store.postgres import enqueue, leases, queries
from stargraph.store.postgres.exec import (
    Conn,
    PgRunner,
    PgSettings,
    check_idle,
    parse_url,
    store_error,
)
from stargraph.store.postgres.listen import Listener
from stargraph.store.postgres.rows import DIALECT
from stargraph.store.postgres.schema import migrate

__all__ = ["CHANNEL", "PostgresStore"]

logger = logging.getLogger("stargraph.store")
T = TypeVar("T")

#: The ``NOTIFY`` channel announcing new or returned pending runs (suffixed by ``_<schema>``).
CHANNEL = "stargraph_runs"


class _Opening:
    """A pool opened in a worker thread that closes it itself if its opener was cancelled."""

    def __init__(self, open_pool: Callable[[], tuple[ConnectionPool[Any], tuple[int, int]]]):
        self._open_pool = open_pool
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._abandoned = False

    def run(self) -> tuple[ConnectionPool[Any], tuple[int, int]]:
        pool, versions = self._open_pool()
        with self._lock:
            if not self._abandoned:
                self._pool = pool
                return pool, versions
        pool.close(timeout=1.0)  # nobody is waiting for it any more
        return pool, versions

    def abandon(self) -> ConnectionPool[Any] | None:
        """Give up on the result; return the pool if it was already open (to close it)."""
        with self._lock:
            self._abandoned = True
            pool, self._pool = self._pool, None
        return pool


async def _discard(pool: ConnectionPool[Any] | None, listener: Listener | None) -> None:
    """Close what a failed or cancelled open left behind (shielded, bounded)."""
    with anyio.move_on_after(10, shield=True):
        if listener is not None:
            await listener.close()
        if pool is not None:
            await anyio.to_thread.run_sync(partial(pool.close, timeout=5.0), abandon_on_cancel=True)


class PostgresStore(SQLStore):
    """A :class:`~stargraph.store.base.RunStore` on PostgreSQL (see the module doc)."""

    dialect: ClassVar[Dialect] = DIALECT

    lease_sql: ClassVar[LeaseSQL] = leases
    query_sql: ClassVar[QuerySQL] = queries

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings: PgSettings = parse_url(url)
        schema = self.settings.schema
        self.channel = CHANNEL if schema is None else f"{CHANNEL}_{schema}"
        #: This store's notifications carry its node id, so its own listener ignores them: its
        #: scheduler is woken by the commit itself; other nodes hear them.
        self.notice = enqueue.Notice(channel=self.channel, node=uuid.uuid4().hex[:16])
        self._lock_prefix = f"claim:{schema or ''}:"
        self._runner: PgRunner | None = None
        self._listener: Listener | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.settings.where!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def _configure(self, conn: Conn) -> None:
        conn.execute("SET TIME ZONE 'UTC'")
        if self.settings.schema:
            conn.execute(
                sql.SQL("SET search_path TO {}").format(sql.Identifier(self.settings.schema))
            )

    def _open_pool(self) -> tuple[ConnectionPool[Any], tuple[int, int]]:
        s = self.settings
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": s.application_name}
        if "connect_timeout" not in s.conninfo:
            kwargs["connect_timeout"] = 10
        # One direct connection first: a wrong password or host fails now, with its own
        # message, instead of as a pool timeout; it also applies the migrations.
        with psycopg.connect(s.conninfo, **kwargs) as conn:
            self._configure(conn)
            versions = migrate(conn, s.schema)
        pool: ConnectionPool[Any] = ConnectionPool(
            s.conninfo, min_size=s.pool_min_size, max_size=s.pool_max_size, open=False,
            timeout=s.pool_timeout, configure=self._configure, name="stargraph", kwargs=kwargs,
            check=check_idle,
        )  # fmt: skip
        try:
            pool.open(wait=True, timeout=s.pool_timeout)
        except BaseException:
            pool.close(timeout=1.0)
            raise
        return pool, versions

    async def _run(
        self, fn: Callable[[Any], T], *, what: str, write: bool = False,
        undo: Undo[T] | None = None,
    ) -> T:  # fmt: skip
        """Run ``fn(conn)`` on a pooled connection, cancellably (``write`` changes nothing)."""
        runner = self._runner
        if runner is None:
            raise StoreError(
                f"PostgreSQL store {self.settings.where} is not open; call await store.open() first"
            )
        return await runner.run(fn, what, undo)

    async def open(self) -> None:
        """Connect the pool, apply migrations and start listening. Idempotent.

        Cancelling it closes whatever was opened so far (the pool, the listening connection).
        """
        if self._runner is not None:
            return
        s = self.settings
        opening = _Opening(self._open_pool)
        listener = None
        try:
            pool, (before, after) = await anyio.to_thread.run_sync(
                opening.run, abandon_on_cancel=True
            )
            if s.listen:
                listener = Listener(
                    s.conninfo, self.channel, s.where, f"{s.application_name}-listen",
                    ignore=self.notice.node,
                )  # fmt: skip
                await listener.connect()
        except BaseException as exc:
            await _discard(opening.abandon(), listener)
            if isinstance(exc, psycopg.Error):
                raise store_error(exc, "open", s.where) from exc
            raise
        self._runner = PgRunner(pool, anyio.CapacityLimiter(s.pool_max_size), s.where)
        self._listener = listener
        log_event(
            logger, "store.opened", backend="postgres", where=s.where, schema=s.schema,
            schema_from=before, schema_to=after, pool_max_size=s.pool_max_size, listen=s.listen,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop listening and close the pool (shielded, bounded). Idempotent."""
        runner, listener = self._runner, self._listener
        self._runner = self._listener = None
        if listener is not None:
            await listener.close()
        if runner is not None:
            with anyio.move_on_after(10, shield=True):
                await anyio.to_thread.run_sync(
                    partial(runner.pool.close, timeout=5.0), abandon_on_cancel=True
                )
            log_event(logger, "store.closed", backend="postgres", where=self.settings.where)

    # -- the operations that NOTIFY or lock per schema ------------------------------------------

    def _op_enqueue(self, conn: Conn, *, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
        """Enqueue and NOTIFY listeners when any run was new."""
        return enqueue.enqueue_batch(conn, requests=requests, notice=self.notice)

    def _op_claim(
        self, conn: Conn, *, owner: str, limit: int, now: datetime, lease_seconds: float,
        graph_limits: Mapping[str, int], graph_ids: Sequence[str] | None,
    ) -> list[Run]:  # fmt: skip
        return leases.claim(
            conn, owner=owner, limit=limit, now=now, lease_seconds=lease_seconds,
            graph_limits=graph_limits, graph_ids=graph_ids, lock_prefix=self._lock_prefix,
        )  # fmt: skip

    def _undo_claim(self, owner: str) -> Undo[list[Run]]:
        """Cancel-safe claims: runs leased by a claim whose caller was cancelled are released
        at once instead of waiting for their lease to expire."""

        def unclaim(conn: Conn, runs: list[Run]) -> None:
            if runs:
                ids = [run.run_id for run in runs]
                leases.release(conn, owner=owner, run_ids=ids, notice=self.notice)
                log_event(logger, "store.claim.undone", count=len(ids), owner=owner)

        return unclaim

    def _op_retry(
        self, conn: Conn, *, run_id: str, owner: str, not_before: datetime, error: RunError,
        now: datetime,
    ) -> bool:  # fmt: skip
        return leases.retry(
            conn, run_id=run_id, owner=owner, not_before=not_before, error=error, now=now,
            notice=self.notice,
        )  # fmt: skip

    def _op_release(self, conn: Conn, *, owner: str, run_ids: Sequence[str]) -> int:
        return leases.release(conn, owner=owner, run_ids=run_ids, notice=self.notice)

    def _op_requeue(self, conn: Conn, *, now: datetime) -> list[tuple[str, str]]:
        return leases.requeue_expired(conn, now=now, notice=self.notice)

    async def wait_for_work(self, timeout: float) -> None:
        """Return on a ``NOTIFY`` from another node (this store's own are ignored), or after
        *timeout* seconds (polling fallback)."""
        if self._runner is None:
            raise StoreError(
                f"PostgreSQL store {self.settings.where} is not open; call await store.open() first"
            )
        if self._listener is None:  # ?listen=false: plain polling
            await anyio.sleep(timeout)
        else:
            await self._listener.wait(timeout)
