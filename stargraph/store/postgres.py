"""The PostgreSQL :class:`~stargraph.store.base.RunStore`: several nodes, one queue, no leader.

psycopg 3's *sync* :class:`psycopg_pool.ConnectionPool` reached through anyio worker threads
(psycopg's async API does not run on trio) behind a ``CapacityLimiter`` sized to the pool;
every query is cancellable (see :mod:`stargraph.store._pg_exec`). Claims use
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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

try:
    import psycopg
    from psycopg import sql
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # without the ``postgres`` extra
    from stargraph.errors import ConfigError

    raise ConfigError(
        "The PostgreSQL store needs psycopg 3 and psycopg-pool; install them with: "
        "pip install 'stargraph[postgres]'"
    ) from exc

import anyio

from stargraph._log import log_event
from stargraph.errors import StoreError
from stargraph.store import _pg_ops as ops
from stargraph.store import _pg_queries as queries
from stargraph.store._pg_exec import (
    Conn,
    PgRunner,
    PgSettings,
    Undo,
    check_idle,
    parse_url,
    store_error,
)
from stargraph.store._pg_listen import Listener
from stargraph.store._pg_schema import migrate
from stargraph.store.base import (
    Completion,
    EnqueueOutcome,
    EnqueueRequest,
    NonceRequest,
    Run,
    RunError,
    RunFilter,
    RunPage,
    RunStatus,
    TriggerState,
)

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


class PostgresStore:
    """A :class:`~stargraph.store.base.RunStore` on PostgreSQL (see the module doc)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings: PgSettings = parse_url(url)
        schema = self.settings.schema
        self.channel = CHANNEL if schema is None else f"{CHANNEL}_{schema}"
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

    async def _call(
        self, fn: Callable[..., T], *args: Any, what: str, undo: Undo[T] | None = None,
        **kwargs: Any,
    ) -> T:  # fmt: skip
        runner = self._runner
        if runner is None:
            raise StoreError(
                f"PostgreSQL store {self.settings.where} is not open; call await store.open() first"
            )
        return await runner.run(lambda conn: fn(conn, *args, **kwargs), what, undo)

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
                    s.conninfo, self.channel, s.where, f"{s.application_name}-listen"
                )
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

    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        await self._call(lambda conn: conn.execute("SELECT 1").fetchone(), what="ping")

    # -- runs -----------------------------------------------------------------------------------

    async def enqueue_batch(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Insert runs in one transaction and NOTIFY listeners when any was new."""
        if not requests:
            return []
        return await self._call(ops.enqueue_batch, requests, self.channel, what="enqueue")

    async def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
        graph_limits: Mapping[str, int],
        graph_ids: Sequence[str] | None = None,
    ) -> list[Run]:
        """Lease due pending runs, oldest first, within the global and per-graph limits.

        Cancel-safe: if the caller is cancelled while the claim commits, the runs it leased
        (which the caller will never see) are released at once instead of waiting for their
        lease to expire.
        """
        only = None if graph_ids is None else list(graph_ids)

        def unclaim(conn: Conn, runs: list[Run]) -> None:
            if runs:
                ids = [run.run_id for run in runs]
                ops.release(conn, owner=owner, run_ids=ids, channel=self.channel)
                log_event(logger, "store.claim.undone", count=len(ids), owner=owner)

        return await self._call(
            ops.claim, owner=owner, limit=limit, now=now, lease_seconds=lease_seconds,
            graph_limits=dict(graph_limits), graph_ids=only, lock_prefix=self._lock_prefix,
            what="claim", undo=unclaim,
        )  # fmt: skip

    async def heartbeat(
        self, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
    ) -> tuple[set[str], set[str]]:
        """Extend *owner*'s leases; return ``(still_held, cancel_requested)``."""
        if not run_ids:
            return set(), set()
        return await self._call(
            ops.heartbeat, owner=owner, run_ids=list(run_ids), now=now,
            lease_seconds=lease_seconds, what="heartbeat",
        )  # fmt: skip

    async def complete_many(
        self, *, owner: str, completions: Sequence[Completion], now: datetime
    ) -> set[str]:
        """Record terminal outcomes for runs *owner* still leases, in one transaction."""
        if not completions:
            return set()
        return await self._call(
            ops.complete_many, owner=owner, completions=completions, now=now, what="complete"
        )

    async def retry(
        self, *, run_id: str, owner: str, not_before: datetime, error: RunError, now: datetime
    ) -> bool:
        """Send a failed attempt back to pending with ``attempt + 1``."""
        return await self._call(
            ops.retry, run_id=run_id, owner=owner, not_before=not_before, error=error, now=now,
            channel=self.channel, what="retry",
        )  # fmt: skip

    async def release(self, *, owner: str, run_ids: Sequence[str], now: datetime) -> int:
        """Return leased runs to pending without counting an attempt."""
        if not run_ids:
            return 0
        return await self._call(
            ops.release, owner=owner, run_ids=list(run_ids), channel=self.channel, what="release"
        )

    async def requeue_expired(self, *, now: datetime) -> int:
        """Rescue runs whose lease expired (any live node may call this)."""
        return await self._call(
            ops.requeue_expired, now=now, channel=self.channel, what="requeue_expired"
        )

    async def request_cancel(self, run_id: str, *, now: datetime) -> Run | None:
        """Cancel a pending run, flag a running one; ``None`` for an unknown id."""
        return await self._call(ops.request_cancel, run_id, now=now, what="request_cancel")

    async def get_run(self, run_id: str) -> Run | None:
        """Return the run, or ``None``."""
        return await self._call(queries.get_run, run_id, what="get_run")

    async def list_runs(self, flt: RunFilter, *, limit: int, cursor: str | None) -> RunPage:
        """Return matching runs, newest first, paginated by an opaque cursor."""
        return await self._call(queries.list_runs, flt, limit, cursor, what="list_runs")

    async def next_due(self) -> datetime | None:
        """Return the earliest ``not_before`` of any pending run."""
        return await self._call(queries.next_due, what="next_due")

    async def count_by_status(self) -> dict[RunStatus, int]:
        """Return how many runs are in each status (every status present, zero included)."""
        return await self._call(queries.status_counts, what="count_by_status")

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete finished runs older than *finished_before*; return how many."""
        return await self._call(queries.prune, finished_before, what="prune")

    # -- triggers -------------------------------------------------------------------------------

    async def get_trigger_state(self, trigger_id: str) -> TriggerState | None:
        """Return the trigger's persisted state, or ``None``."""
        return await self._call(queries.get_trigger_state, trigger_id, what="get_trigger_state")

    async def list_trigger_states(self) -> list[TriggerState]:
        """Return every trigger's persisted state."""
        return await self._call(queries.list_trigger_states, what="list_trigger_states")

    async def set_trigger_cursor(self, trigger_id: str, cursor: datetime, *, now: datetime) -> None:
        """Move the cursor forward only, creating the row if needed."""
        await self._call(
            queries.set_trigger_cursor, trigger_id, cursor, now, what="set_trigger_cursor"
        )

    async def set_trigger_paused(
        self,
        trigger_id: str,
        *,
        paused: bool,
        now: datetime,
        note: str | None = None,
        cursor: datetime | None = None,
    ) -> TriggerState:
        """Set the pause flag and note; a given *cursor* is stored as is."""
        return await self._call(
            queries.set_trigger_paused, trigger_id, paused=paused, now=now, note=note,
            cursor=cursor, what="set_trigger_paused",
        )  # fmt: skip

    # -- webhooks / wake-ups --------------------------------------------------------------------

    async def add_nonce(
        self, scope: str, nonce: str, *, expires_at: datetime, now: datetime
    ) -> bool:
        """Record a nonce; ``False`` when an unexpired copy exists (a replay)."""
        return await self._call(queries.add_nonce, scope, nonce, expires_at, now, what="add_nonce")

    async def add_nonces(self, items: Sequence[NonceRequest], *, now: datetime) -> list[bool]:
        """Record several nonces in one transaction (see :class:`BatchNonceStore`)."""
        if not items:
            return []
        return await self._call(queries.add_nonces, list(items), now, what="add_nonces")

    async def wait_for_work(self, timeout: float) -> None:
        """Return on a ``NOTIFY`` from any node, or after *timeout* seconds (polling fallback)."""
        if self._runner is None:
            raise StoreError(
                f"PostgreSQL store {self.settings.where} is not open; call await store.open() first"
            )
        if self._listener is None:  # ?listen=false: plain polling
            await anyio.sleep(timeout)
        else:
            await self._listener.wait(timeout)
