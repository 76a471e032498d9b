"""The embedded SQLite :class:`~stargraph.store.base.RunStore` (stdlib ``sqlite3``).

One connection per store, reached only through ``anyio.to_thread.run_sync`` with a
``CapacityLimiter(1)`` created in :meth:`SQLiteStore.open`. WAL journal, ``busy_timeout``,
``synchronous=FULL`` by default, and every write in ``BEGIN IMMEDIATE``: several processes on
one machine may share the file, and SQLite's write lock serialises their claims.

URL: ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` with optional query options
``synchronous=full|normal`` and ``busy_timeout=<milliseconds>``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

import anyio
import anyio.to_thread
import attrs

from stargraph._log import log_event
from stargraph.errors import ConfigError, StoreError
from stargraph.store import _sqlite_leases as leases
from stargraph.store import _sqlite_ops as ops
from stargraph.store import _sqlite_queries as queries
from stargraph.store._sqlite_group import WriteGroup
from stargraph.store._sqlite_schema import migrate
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

__all__ = ["SQLiteOptions", "SQLiteStore", "parse_sqlite_url"]

logger = logging.getLogger("stargraph.store")
T = TypeVar("T")
_SYNC_MODES = ("full", "normal")
_CACHE_KIB = 65_536  # page cache per connection: up to 64 MiB


@attrs.frozen(kw_only=True)
class SQLiteOptions:
    """What a ``sqlite:///`` URL says: the file and its durability settings."""

    path: str
    synchronous: str = "full"
    busy_timeout_ms: int = 5_000


def parse_sqlite_url(url: str) -> SQLiteOptions:
    """Parse ``sqlite:///path?synchronous=normal&busy_timeout=10000`` (ConfigError if bad)."""
    head, _, query = url.partition("?")
    if not head.startswith("sqlite:///") or len(head) <= len("sqlite:///"):
        raise ConfigError(
            f"Invalid SQLite store URL {url!r}; use sqlite:///relative/file.db or "
            "sqlite:////absolute/file.db"
        )
    path = unquote(head[len("sqlite:///") :])
    options = dict(parse_qsl(query, keep_blank_values=True))
    synchronous = options.pop("synchronous", "full").lower()
    if synchronous not in _SYNC_MODES:
        raise ConfigError(
            f"Invalid synchronous={synchronous!r} in store URL {url!r}; use full or normal"
        )
    timeout = options.pop("busy_timeout", "5000")
    if not timeout.isdigit():
        raise ConfigError(
            f"Invalid busy_timeout={timeout!r} in store URL {url!r}; give milliseconds, e.g. 5000"
        )
    if options:
        raise ConfigError(
            f"Unknown option(s) {', '.join(sorted(options))} in store URL {url!r}; "
            "known: synchronous, busy_timeout"
        )
    return SQLiteOptions(path=path, synchronous=synchronous, busy_timeout_ms=int(timeout))


def _set_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch to WAL, retrying while another process holds the lock at creation time."""
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _connect(opts: SQLiteOptions) -> tuple[sqlite3.Connection, tuple[int, int]]:
    """Open the file, set the pragmas and migrate the schema (runs in a worker thread)."""
    if opts.path != ":memory:" and not Path(opts.path).parent.is_dir():
        raise StoreError(
            f"Cannot open SQLite database {opts.path}: folder {Path(opts.path).parent} does not "
            "exist; create it or change the store URL"
        )
    conn = sqlite3.connect(
        opts.path,
        timeout=opts.busy_timeout_ms / 1000,
        check_same_thread=False,
        isolation_level=None,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={opts.busy_timeout_ms}")
        _set_wal(conn, time.monotonic() + opts.busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA synchronous={opts.synchronous.upper()}")
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        versions = migrate(conn, opts.path)
    except BaseException:
        conn.close()
        raise
    return conn, versions


class SQLiteStore:
    """A :class:`~stargraph.store.base.RunStore` on one SQLite file (see the module doc)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.options = parse_sqlite_url(url)
        self._conn: sqlite3.Connection | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._group: WriteGroup | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.options.path!r})"

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        conn, limiter = self._conn, self._limiter
        if conn is None or limiter is None:
            raise StoreError(
                f"SQLite store {self.options.path} is not open; call await store.open() first"
            )
        try:
            return await anyio.to_thread.run_sync(
                partial(fn, conn, *args, **kwargs), limiter=limiter
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"SQLite error on {self.options.path}: {exc.__class__.__name__}: {exc}"
            ) from exc

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(
                f"SQLite store {self.options.path} is not open; call await store.open() first"
            )
        return self._conn

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like :meth:`_call` for a write, committed together with concurrent writes."""
        group = self._group
        if self._conn is None or group is None:
            self._open_conn()
        assert group is not None
        try:
            return await group.call(lambda conn: fn(conn, *args, **kwargs))
        except sqlite3.Error as exc:
            raise StoreError(
                f"SQLite error on {self.options.path}: {exc.__class__.__name__}: {exc}"
            ) from exc

    async def open(self) -> None:
        """Open the file, apply pragmas and migrations. Idempotent."""
        if self._conn is not None:
            return
        limiter = anyio.CapacityLimiter(1)
        try:
            # shielded: a cancelled open must not leak the connection its thread creates;
            # the wait is bounded by busy_timeout
            with anyio.CancelScope(shield=True):
                conn, (before, after) = await anyio.to_thread.run_sync(
                    _connect, self.options, limiter=limiter
                )
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open SQLite database {self.options.path}: {exc}") from exc
        if self._conn is not None:  # a concurrent open() won the race: keep its connection
            await anyio.to_thread.run_sync(conn.close, limiter=limiter)
            return
        self._conn, self._limiter = conn, limiter
        self._group = WriteGroup(limiter, self._open_conn)
        log_event(
            logger, "store.opened", backend="sqlite", path=self.options.path,
            schema_from=before, schema_to=after, synchronous=self.options.synchronous,
        )  # fmt: skip

    async def close(self) -> None:
        """Close the connection once in-flight calls finish. Idempotent."""
        conn, limiter = self._conn, self._limiter
        if conn is None or limiter is None:
            return
        self._conn = self._limiter = None
        bound = 2 * self.options.busy_timeout_ms / 1000 + 10  # in-flight calls finish first
        with anyio.move_on_after(bound, shield=True) as scope:
            await anyio.to_thread.run_sync(conn.close, limiter=limiter)
        if scope.cancelled_caught:
            log_event(
                logger, "store.close_timeout", logging.WARNING, backend="sqlite",
                path=self.options.path, seconds=bound,
            )  # fmt: skip
            return
        log_event(logger, "store.closed", backend="sqlite", path=self.options.path)

    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        await self._call(lambda conn: conn.execute("SELECT n FROM run_counts").fetchall())

    # -- runs -----------------------------------------------------------------------------------

    async def enqueue_batch(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Insert runs in one transaction (see :meth:`RunStore.enqueue_batch`)."""
        if not requests:
            return []
        return await self._write(ops.enqueue_batch, requests)

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
        """Lease due pending runs, oldest first, within the limits."""
        only = None if graph_ids is None else list(graph_ids)
        return await self._write(
            ops.claim, owner=owner, limit=limit, now=now, lease_seconds=lease_seconds,
            graph_limits=dict(graph_limits), graph_ids=only,
        )  # fmt: skip

    async def heartbeat(
        self, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
    ) -> tuple[set[str], set[str]]:
        """Extend *owner*'s leases; return ``(still_held, cancel_requested)``."""
        if not run_ids:
            return set(), set()
        return await self._call(
            leases.heartbeat,
            owner=owner,
            run_ids=list(run_ids),
            now=now,
            lease_seconds=lease_seconds,
        )

    async def complete_many(
        self, *, owner: str, completions: Sequence[Completion], now: datetime
    ) -> set[str]:
        """Record terminal outcomes for runs *owner* still leases, in one transaction."""
        if not completions:
            return set()
        return await self._write(
            leases.complete_many, owner=owner, completions=completions, now=now
        )

    async def retry(
        self, *, run_id: str, owner: str, not_before: datetime, error: RunError, now: datetime
    ) -> bool:
        """Send a failed attempt back to pending with ``attempt + 1``."""
        return await self._call(
            leases.retry, run_id=run_id, owner=owner, not_before=not_before, error=error
        )

    async def release(self, *, owner: str, run_ids: Sequence[str], now: datetime) -> int:
        """Return leased runs to pending without counting an attempt."""
        if not run_ids:
            return 0
        return await self._call(leases.release, owner=owner, run_ids=list(run_ids))

    async def requeue_expired(self, *, now: datetime) -> int:
        """Rescue runs whose lease expired."""
        return await self._call(leases.requeue_expired, now=now)

    async def request_cancel(self, run_id: str, *, now: datetime) -> Run | None:
        """Cancel a pending run, flag a running one; ``None`` for an unknown id."""
        return await self._call(leases.request_cancel, run_id, now=now)

    async def get_run(self, run_id: str) -> Run | None:
        """Return the run, or ``None``."""
        return await self._call(queries.get_run, run_id)

    async def list_runs(self, flt: RunFilter, *, limit: int, cursor: str | None) -> RunPage:
        """Return matching runs, newest first, paginated by an opaque cursor."""
        return await self._call(queries.list_runs, flt, limit, cursor)

    async def next_due(self) -> datetime | None:
        """Return the earliest ``not_before`` of any pending run."""
        return await self._call(queries.next_due)

    async def count_by_status(self) -> dict[RunStatus, int]:
        """Return how many runs are in each status (every status present, zero included)."""
        return await self._call(ops.status_counts)

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete finished runs older than *finished_before*; return how many.

        Deletes in chunks, one transaction and one worker-thread call each, so a large backlog
        never holds the store for long.
        """
        total = 0
        while True:
            deleted = await self._call(queries.prune_chunk, finished_before)
            total += deleted
            if deleted < queries.PRUNE_CHUNK:
                return total

    # -- triggers -------------------------------------------------------------------------------

    async def get_trigger_state(self, trigger_id: str) -> TriggerState | None:
        """Return the trigger's persisted state, or ``None``."""
        return await self._call(queries.get_trigger_state, trigger_id)

    async def list_trigger_states(self) -> list[TriggerState]:
        """Return every trigger's persisted state."""
        return await self._call(queries.list_trigger_states)

    async def set_trigger_cursor(self, trigger_id: str, cursor: datetime, *, now: datetime) -> None:
        """Move the cursor forward only, creating the row if needed."""
        await self._write(queries.set_trigger_cursor, trigger_id, cursor, now)

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
            queries.set_trigger_paused, trigger_id, paused=paused, now=now, note=note, cursor=cursor
        )

    # -- webhooks / wake-ups --------------------------------------------------------------------

    async def add_nonce(
        self, scope: str, nonce: str, *, expires_at: datetime, now: datetime
    ) -> bool:
        """Record a nonce; ``False`` when an unexpired copy exists (a replay)."""
        return await self._call(queries.add_nonce, scope, nonce, expires_at, now)

    async def add_nonces(self, items: Sequence[NonceRequest], *, now: datetime) -> list[bool]:
        """Record several nonces in one transaction (see :class:`BatchNonceStore`)."""
        if not items:
            return []
        return await self._call(queries.add_nonces, list(items), now)

    async def wait_for_work(self, timeout: float) -> None:
        """Sleep *timeout* seconds (SQLite has no cross-process notification)."""
        await anyio.sleep(timeout)
