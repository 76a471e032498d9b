"""The embedded SQLite :class:`~stargraph.store.base.RunStore` (stdlib ``sqlite3``).

One connection per store, reached only from the store's own
:class:`~stargraph._thread.WorkerThread` (one thread, the cheapest hop on asyncio and trio), one
call at a time under an ``anyio.Lock`` created in :meth:`SQLiteStore.open`. WAL journal,
``busy_timeout``, ``synchronous=FULL`` by default, and every write in ``BEGIN IMMEDIATE``:
several processes on one machine may share the file, and SQLite's write lock serialises their
claims.

URL: ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` with optional query options
``synchronous=full|normal`` and ``busy_timeout=<milliseconds>``.

Which writes are group-committed, and why: with ``synchronous=FULL`` every ``COMMIT`` costs an
fsync, so the hot-path writes that arrive concurrently and often — enqueue (with its cursor
advance and webhook nonce), claim, complete, and ``set_trigger_cursor`` — go through
:class:`~stargraph.store.sqlite.group.WriteGroup` (``write=True`` in
:meth:`~stargraph.store._sql.base.SQLStore._run`) and share one transaction with whatever
queued meanwhile, each in its own savepoint. Every other write (heartbeat, retry, release,
rescue, cancel, pause, prune) is periodic or operator-driven, so it takes its own
transaction through the same lock. Either way each operation opens its transaction with
:func:`~stargraph.store.sqlite.tx.write_tx`, which *joins* the group's outer transaction
when there is one: the group's savepoint undoes it on error, the group's ``COMMIT`` makes
it durable. A new method that is hot and concurrent should pass ``write=True``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, unquote

import anyio
import attrs

from stargraph._log import log_event
from stargraph._thread import WorkerThread
from stargraph.errors import ConfigError, StoreError, StoreRejected
from stargraph.store._sql.base import LeaseSQL, QuerySQL, SQLStore, Undo
from stargraph.store._sql.dialect import Dialect
from stargraph.store.sqlite import enqueue, leases, queries
from stargraph.store.sqlite.group import WriteGroup
from stargraph.store.sqlite.rows import DIALECT
from stargraph.store.sqlite.schema import migrate

__all__ = ["SQLiteOptions", "SQLiteStore", "parse_sqlite_url"]

logger = logging.getLogger("stargraph.store")
T = TypeVar("T")
_SYNC_MODES = ("full", "normal")
_CACHE_KIB = 65_536  # page cache per connection: up to 64 MiB
#: A value the database cannot hold (a lone surrogate fails the UTF-8 bind), not an outage.
_DATA_ERRORS = (
    UnicodeError, OverflowError, sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError,
)  # fmt: skip


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


class SQLiteStore(SQLStore):
    """A :class:`~stargraph.store.base.RunStore` on one SQLite file (see the module doc)."""

    dialect: ClassVar[Dialect] = DIALECT
    lease_sql: ClassVar[LeaseSQL] = leases
    query_sql: ClassVar[QuerySQL] = queries

    _op_enqueue = staticmethod(enqueue.enqueue_batch)
    _op_claim = staticmethod(leases.claim)
    _op_retry = staticmethod(leases.retry)
    _op_release = staticmethod(leases.release)
    _op_requeue = staticmethod(leases.requeue_expired)

    def __init__(self, url: str) -> None:
        self.url = url
        self.options = parse_sqlite_url(url)
        self._conn: sqlite3.Connection | None = None
        self._lock: anyio.Lock | None = None
        self._group: WriteGroup | None = None
        self._thread: WorkerThread | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.options.path!r})"

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(
                f"SQLite store {self.options.path} is not open; call await store.open() first"
            )
        return self._conn

    async def _run(
        self, fn: Callable[[Any], T], *, what: str, write: bool = False,
        undo: Undo[T] | None = None,
    ) -> T:  # fmt: skip
        """Run ``fn(conn)`` in the store's thread; ``write=True`` joins the group commit.

        *undo* is not needed: a call the thread has taken always completes (shielded).
        """
        self._open_conn()
        lock, group, thread = self._lock, self._group, self._thread
        assert lock is not None and group is not None and thread is not None
        try:
            if write:
                return await group.call(fn)
            async with lock:  # closed meanwhile: StoreError here, not a stopped thread's
                return await thread.run(fn, self._open_conn())
        except _DATA_ERRORS as exc:
            raise StoreRejected(
                f"SQLite refused a value ({what}): {exc.__class__.__name__}: {exc}"
            ) from exc
        except sqlite3.Error as exc:
            raise StoreError(
                f"SQLite error on {self.options.path} ({what}): {exc.__class__.__name__}: {exc}"
            ) from exc

    async def open(self) -> None:
        """Open the file, apply pragmas and migrations. Idempotent."""
        if self._conn is not None:
            return
        try:
            # shielded: a cancelled open must not leak the connection its thread creates;
            # the wait is bounded by busy_timeout
            with anyio.CancelScope(shield=True):
                conn, (before, after) = await anyio.to_thread.run_sync(_connect, self.options)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open SQLite database {self.options.path}: {exc}") from exc
        if self._conn is not None:  # a concurrent open() won the race: keep its connection
            await anyio.to_thread.run_sync(conn.close)
            return
        thread = WorkerThread(f"stargraph-sqlite {self.options.path}")
        thread.start()
        # fast_acquire: an uncontended call does not yield a scheduler pass before its hop
        lock = anyio.Lock(fast_acquire=True)
        self._conn, self._lock, self._thread = conn, lock, thread
        self._group = WriteGroup(lock, thread, self._open_conn)
        log_event(
            logger, "store.opened", backend="sqlite", path=self.options.path,
            schema_from=before, schema_to=after, synchronous=self.options.synchronous,
        )  # fmt: skip

    async def close(self) -> None:
        """Close the connection once in-flight calls finish, then end its thread. Idempotent."""
        conn, lock, thread = self._conn, self._lock, self._thread
        if conn is None or lock is None or thread is None:
            return
        self._conn = self._lock = None
        bound = 2 * self.options.busy_timeout_ms / 1000 + 10  # in-flight calls finish first
        with anyio.move_on_after(bound, shield=True) as scope:
            async with lock:
                await thread.run(conn.close)
        if scope.cancelled_caught:  # a call hangs: the thread and connection stay with it
            log_event(
                logger, "store.close_timeout", logging.WARNING, backend="sqlite",
                path=self.options.path, seconds=bound,
            )  # fmt: skip
            return
        self._thread = None
        thread.stop()
        log_event(logger, "store.closed", backend="sqlite", path=self.options.path)

    async def wait_for_work(self, timeout: float) -> None:
        """Sleep *timeout* seconds (SQLite has no cross-process notification)."""
        await anyio.sleep(timeout)
