"""SQLite transactions and small SQL helpers shared by the blocking SQLite operations.

Every function takes the store's one connection (``isolation_level=None``) and runs in the
store's worker thread. Writes happen inside :func:`write_tx` (``BEGIN IMMEDIATE``), which
serialises writers across processes. Every write that changes a run's status also adjusts
the ``run_counts`` table in the same transaction (:func:`bump`), so counting runs by status
never scans ``runs``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["bump", "chunks", "marks", "run_group", "write_tx"]

_CHUNK = 500  # ids per ``IN (...)`` list, far below SQLite's bound-variable limit


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


def chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Split *ids* into slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def marks(count: int) -> str:
    """Return ``?, ?, ...`` with *count* placeholders."""
    return ", ".join("?" * count)
