"""Store URL parsing and cancellable work on a psycopg *sync* pool through anyio worker threads.

psycopg's async API does not run on trio, so every query runs in a worker thread, holding a
pooled connection, behind a :class:`anyio.CapacityLimiter` sized to the pool. When the awaiting
task is cancelled, the thread is abandoned at once, the server is asked to cancel the running
statement (``conn.cancel_safe()``), and the caller waits — shielded and bounded — for the thread
to roll back and return its connection, so the pool stays usable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import anyio
import attrs
import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from stargraph._log import log_event
from stargraph.errors import ConfigError, StoreError, StoreRejected
from stargraph.store._sql.base import Undo

__all__ = ["Conn", "PgRunner", "PgSettings", "Undo", "check_idle", "parse_url", "store_error"]

Conn = psycopg.Connection[Any]
T = TypeVar("T")

logger = logging.getLogger("stargraph.store")

#: Seconds a cancelled caller waits (shielded) for the server to abandon its statement.
CANCEL_GRACE = 5.0
#: Transient errors after which the whole transaction is run again.
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
_ATTEMPTS = 4
#: A pooled connection idle longer than this (seconds) is checked with one round trip before
#: use, so a server restart or failover while the node was idle costs no failed call.
IDLE_CHECK = 2.0
_USED = "_stargraph_used"


def check_idle(conn: Conn) -> None:
    """Pool ``check`` callback: verify a connection that sat idle; raise if it is broken."""
    if time.monotonic() - getattr(conn, _USED, 0.0) > IDLE_CHECK:
        ConnectionPool.check_connection(conn)


@attrs.frozen(kw_only=True)
class PgSettings:
    """What :func:`parse_url` takes out of a ``postgresql://`` store URL."""

    conninfo: str = attrs.field(repr=False)
    where: str
    schema: str | None = None
    pool_min_size: int = 1
    pool_max_size: int = 10
    pool_timeout: float = 30.0
    application_name: str = "stargraph"
    listen: bool = True


_OURS = {"schema", "pool_min_size", "pool_max_size", "pool_timeout", "listen"}
_BOOLS = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}


def _number(params: dict[str, str], key: str, kind: type[int] | type[float], default: float) -> Any:
    if key not in params:
        return default
    try:
        value = kind(params[key])
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"store URL option {key}={params[key]!r} must be a positive number")
    return value


def _ours(ours: dict[str, str]) -> dict[str, Any]:
    """Validate Stargraph's own URL options; return them as :class:`PgSettings` fields."""
    schema = ours.get("schema") or None
    if schema is not None and len(schema.encode()) > 40:
        raise ConfigError(f"store URL option schema={schema!r} is too long (at most 40 bytes)")
    listen = _BOOLS.get(ours.get("listen", "true").lower())
    if listen is None:
        raise ConfigError(f"store URL option listen={ours['listen']!r} must be true or false")
    low = _number(ours, "pool_min_size", int, 1)
    high = _number(ours, "pool_max_size", int, max(10, low))
    if low > high:
        raise ConfigError(f"store URL: pool_min_size={low} is larger than pool_max_size={high}")
    timeout = _number(ours, "pool_timeout", float, 30.0)
    return {"schema": schema, "listen": listen, "pool_min_size": low, "pool_max_size": high,
            "pool_timeout": timeout}  # fmt: skip


def parse_url(url: str) -> PgSettings:
    """Split Stargraph's own query options off a PostgreSQL URL; libpq gets the rest."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"not a PostgreSQL store URL (scheme {parts.scheme!r}); use postgresql://"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    fields = _ours({k: v for k, v in query if k in _OURS})
    rest = urlencode([(k, v) for k, v in query if k not in _OURS], quote_via=quote)
    conninfo = urlunsplit(parts._replace(query=rest))
    try:
        info = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise ConfigError(f"invalid PostgreSQL store URL: {exc}") from None
    where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
    name = str(info.get("application_name") or "stargraph")
    return PgSettings(conninfo=conninfo, where=where, application_name=name, **fields)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def store_error(exc: psycopg.Error, what: str, where: str) -> StoreError:
    """Wrap a psycopg error in a :class:`StoreError` naming the operation and server."""
    detail = _first_line(exc)
    return StoreError(f"PostgreSQL {what} failed at {where}: {type(exc).__name__}: {detail}")


class _Abandoned(Exception):
    """The caller was cancelled before the work touched the database."""


_NONE: Any = object()  # no result (yet)


class _Slot:
    """The connection a worker thread holds, so a cancelled caller can cancel its statement.

    It also settles who undoes a result nobody will receive (see :meth:`PgRunner.run`): the
    canceller if the result is there when it looks, else the worker when the result arrives.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Conn | None = None
        self.abandoned = False
        self.done = threading.Event()
        self.result: Any = _NONE
        self.orphaned = False  # the canceller found no result: the worker undoes its own

    def deliver(self, result: Any) -> bool:
        """Store the worker's result; True if the worker must undo it itself."""
        with self.lock:
            self.result = result
            return self.orphaned

    def take(self) -> Any:
        """The canceller's side: the result to undo now, or ``_NONE`` (and the worker will)."""
        with self.lock:
            if self.result is _NONE:
                self.orphaned = True
            return self.result

    def hold(self, conn: Conn | None) -> None:
        """Record the connection in use (``None`` when released); refuse once abandoned."""
        with self.lock:
            if conn is not None and self.abandoned:
                raise _Abandoned
            self.conn = conn

    def abandon(self) -> bool:
        """Mark the work abandoned and cancel its running statement; True if one was running.

        The cancel request is sent under the lock, so the worker cannot hand the connection
        back to the pool (and to another statement) before the request was delivered.
        """
        with self.lock:
            self.abandoned = True
            if self.conn is None or self.done.is_set():
                return False
            try:
                self.conn.cancel_safe(timeout=CANCEL_GRACE)
            except psycopg.Error as exc:
                log_event(logger, "store.cancel.failed", logging.WARNING, error=type(exc).__name__)
            return True


class PgRunner:
    """Run blocking functions of a pooled connection in worker threads, cancellably."""

    def __init__(self, pool: ConnectionPool[Any], limiter: anyio.CapacityLimiter, where: str):
        self.pool = pool
        self.limiter = limiter
        self.where = where

    def _once(self, fn: Callable[[Conn], T], slot: _Slot) -> T:
        with self.pool.connection() as conn:
            slot.hold(conn)
            try:
                return fn(conn)
            finally:
                setattr(conn, _USED, time.monotonic())
                slot.hold(None)

    def _work(self, fn: Callable[[Conn], T], slot: _Slot, undo: Undo[T] | None) -> T:
        try:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    result = self._once(fn, slot)
                    break
                except _RETRYABLE:
                    if attempt == _ATTEMPTS:
                        raise
            if slot.deliver(result) and undo is not None:
                self._undo(undo, result)
            return result
        finally:
            slot.done.set()

    async def run(self, fn: Callable[[Conn], T], what: str, undo: Undo[T] | None = None) -> T:
        """Run ``fn(conn)`` in a worker thread; map psycopg errors to :class:`StoreError`.

        If the caller is cancelled, the running statement is cancelled; a result that was
        committed anyway, and so will never reach the caller, is passed to ``undo(conn,
        result)`` (exactly once), e.g. to release runs a cancelled claim leased.
        """
        slot = _Slot()
        try:
            return await anyio.to_thread.run_sync(
                self._work, fn, slot, undo, limiter=self.limiter, abandon_on_cancel=True
            )
        except anyio.get_cancelled_exc_class():
            with anyio.move_on_after(2 * CANCEL_GRACE + 1, shield=True):
                await anyio.to_thread.run_sync(self._cancel, slot, undo, abandon_on_cancel=True)
            raise
        except (psycopg.DataError, psycopg.IntegrityError, UnicodeError) as exc:
            raise StoreRejected(
                f"PostgreSQL refused a value ({what}): {type(exc).__name__}: {_first_line(exc)}"
            ) from exc
        except psycopg.Error as exc:
            raise store_error(exc, what, self.where) from exc

    def _cancel(self, slot: _Slot, undo: Undo[Any] | None) -> None:
        """Cancel the statement the abandoned work runs, wait (bounded), undo its result."""
        if slot.abandon() and not slot.done.wait(CANCEL_GRACE):
            log_event(logger, "store.cancel.slow", logging.WARNING, where=self.where)
        result = slot.take()
        if result is not _NONE and undo is not None:
            self._undo(undo, result)

    def _undo(self, undo: Undo[Any], result: Any) -> None:
        try:
            with self.pool.connection(timeout=CANCEL_GRACE) as conn:
                undo(conn, result)
        except psycopg.Error as exc:
            log_event(logger, "store.undo.failed", logging.WARNING, where=self.where,
                      error=type(exc).__name__)  # fmt: skip
