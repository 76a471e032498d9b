"""SQLite transactions and small SQL helpers shared by the blocking SQLite operations.

Every function takes the store's one connection (``isolation_level=None``) and runs in the
store's worker thread. Writes happen inside :func:`write_tx` (``BEGIN IMMEDIATE``), which
serialises writers across processes. Every write that changes a run's status also adjusts
the ``run_counts`` table in the same transaction (:func:`bump`), so counting runs by status
never scans ``runs``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import chain
from typing import Any

__all__ = ["bump", "chunks", "insert_rows", "marks", "run_group", "write_tx"]

_CHUNK = 500  # ids per ``IN (...)`` list, far below SQLite's bound-variable limit
#: Rows per multi-row statement, largest first: a batch is cut into these few fixed sizes, so
#: each statement is compiled once per connection and then found in the statement cache.
_ROWS_PER_STATEMENT = (256, 32, 4, 1)
_VALUES = re.compile(r"(?<=VALUES )\([^()]*\)")


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one ``BEGIN IMMEDIATE`` transaction; roll back on any exception.

    Inside a group transaction (:func:`run_group`) the block *joins* it instead of starting
    its own: the group's savepoint undoes the block on an exception, and the group's
    ``COMMIT`` makes it durable (the caller gets its result only after that commit).
    """
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def run_group(
    conn: sqlite3.Connection, calls: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """Run several writes in one transaction (one commit, one fsync), each in a savepoint.

    Return ``(True, result)`` or ``(False, exception)`` per call, in order; a call that raised
    is rolled back alone. If ``BEGIN`` or ``COMMIT`` fails, every call reports that error.
    """
    outcomes: list[tuple[bool, Any]] = []
    try:
        with write_tx(conn):
            for call in calls:
                conn.execute("SAVEPOINT grouped")
                try:
                    outcomes.append((True, call(conn)))
                except Exception as exc:
                    conn.execute("ROLLBACK TO grouped")
                    outcomes.append((False, exc))
                conn.execute("RELEASE grouped")
    except Exception as exc:
        return [(False, exc)] * len(calls)
    return outcomes


def bump(conn: sqlite3.Connection, deltas: Mapping[str, int]) -> None:
    """Adjust the per-status run counts by *deltas* (call inside the same write transaction)."""
    changes = [(delta, status) for status, delta in deltas.items() if delta]
    if changes:
        conn.executemany("UPDATE run_counts SET n = n + ? WHERE status = ?", changes)


def insert_rows(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run the one-row ``INSERT ... VALUES (...)`` *sql* for every row; return the rows changed.

    Same effect as ``executemany``, row by row in order, but with one multi-row statement per
    up to 256 rows: SQLite then runs them in one ``sqlite3_step``, during which the worker thread
    holds no GIL, instead of taking the GIL back after every row (which waits for the event loop
    when it is busy, as in a burst of enqueues).
    """
    if not rows:
        return 0
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(rows[0])
    changed, start, total = 0, 0, len(rows)
    for size in _ROWS_PER_STATEMENT:
        while total - start >= size and (size <= limit or size == 1):
            params = list(chain.from_iterable(rows[start : start + size]))
            changed += conn.execute(_repeated(sql, size), params).rowcount
            start += size
    return changed


@cache
def _repeated(sql: str, count: int) -> str:
    """*sql* with its one ``VALUES (...)`` group repeated *count* times."""
    group = _VALUES.search(sql)
    if group is None:
        raise ValueError(f"no VALUES (...) group in {sql!r}; insert_rows needs one")
    return sql[: group.start()] + ", ".join([group[0]] * count) + sql[group.end() :]


def chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Split *ids* into slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def marks(count: int) -> str:
    """Return ``?, ?, ...`` with *count* placeholders."""
    return ", ".join("?" * count)
