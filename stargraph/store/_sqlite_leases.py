"""Blocking SQLite lease operations: heartbeat, complete, retry, release, rescue, cancel.

Each write runs in one ``BEGIN IMMEDIATE`` transaction and keeps ``run_counts`` exact.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stargraph._json import dumps
from stargraph.store._rows import RUN_COLUMNS, run_from_row, to_us
from stargraph.store._sqlite_ops import bump, chunks, marks, write_tx
from stargraph.store.base import TERMINAL_STATUSES, Completion, Run, RunError

__all__ = [
    "complete_many",
    "heartbeat",
    "release",
    "request_cancel",
    "requeue_expired",
    "retry",
]


def heartbeat(
    conn: sqlite3.Connection,
    *,
    owner: str,
    run_ids: Sequence[str],
    now: datetime,
    lease_seconds: float,
) -> tuple[set[str], set[str]]:
    """Extend *owner*'s leases; return ``(still_held, cancel_requested)``."""
    expires = to_us(now) + round(lease_seconds * 1_000_000)
    held: set[str] = set()
    cancel: set[str] = set()
    with write_tx(conn):
        for part in chunks(list(run_ids)):
            cur = conn.execute(
                "UPDATE runs SET lease_expires_at = ? WHERE status = 'running' AND "
                f"lease_owner = ? AND run_id IN ({marks(len(part))}) "
                "RETURNING run_id, cancel_requested",
                (expires, owner, *part),
            )
            for run_id, cancel_requested in cur.fetchall():
                held.add(run_id)
                if cancel_requested:
                    cancel.add(run_id)
    return held, cancel


_COMPLETE = (
    "UPDATE runs SET status = ?, result = ?, error_type = ?, error_message = ?, "
    "finished_at = ?, lease_owner = NULL, lease_expires_at = NULL "
    "WHERE run_id = ? AND status = 'running'"
)


def _unique_terminal(completions: Sequence[Completion]) -> list[Completion]:
    """Check every status is terminal; keep the first completion of each run."""
    firsts: dict[str, Completion] = {}
    for item in completions:
        if item.status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Completion of run {item.run_id!r} has status {item.status.value!r}; "
                "use succeeded, failed or cancelled"
            )
        firsts.setdefault(item.run_id, item)
    return list(firsts.values())


def _held(conn: sqlite3.Connection, owner: str, run_ids: Sequence[str]) -> set[str]:
    """Return which of *run_ids* are running under *owner*'s lease (inside a write tx)."""
    held: set[str] = set()
    for part in chunks(run_ids):
        rows = conn.execute(
            f"SELECT run_id FROM runs WHERE run_id IN ({marks(len(part))}) "
            "AND status = 'running' AND lease_owner = ?",
            (*part, owner),
        )
        held.update(row[0] for row in rows)
    return held


def _completion_row(item: Completion, now_us: int) -> tuple[Any, ...]:
    error = item.error
    return (
        item.status.value, None if item.result is None else dumps(item.result),
        error.type if error else None, error.message if error else None, now_us, item.run_id,
    )  # fmt: skip


def complete_many(
    conn: sqlite3.Connection, *, owner: str, completions: Sequence[Completion], now: datetime
) -> set[str]:
    """Record terminal outcomes for the runs *owner* still leases, in one transaction."""
    unique = _unique_terminal(completions)
    now_us = to_us(now)
    with write_tx(conn):
        held = _held(conn, owner, [item.run_id for item in unique])
        recorded = [item for item in unique if item.run_id in held]
        conn.executemany(_COMPLETE, [_completion_row(item, now_us) for item in recorded])
        deltas = Counter(item.status.value for item in recorded)
        deltas["running"] -= len(recorded)
        bump(conn, deltas)
    return held


def retry(
    conn: sqlite3.Connection,
    *,
    run_id: str,
    owner: str,
    not_before: datetime,
    error: RunError,
) -> bool:
    """Send *owner*'s run back to pending with ``attempt + 1``; False if the lease was lost."""
    with write_tx(conn):
        moved = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, not_before = ?, "
            "error_type = ?, error_message = ?, started_at = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE run_id = ? AND status = 'running' AND lease_owner = ?",
            (to_us(not_before), error.type, error.message, run_id, owner),
        ).rowcount
        bump(conn, {"running": -moved, "pending": moved})
    return moved == 1


def release(conn: sqlite3.Connection, *, owner: str, run_ids: Sequence[str]) -> int:
    """Return *owner*'s leased runs to pending, attempt unchanged; return how many."""
    count = 0
    with write_tx(conn):
        for part in chunks(list(dict.fromkeys(run_ids))):
            count += conn.execute(
                "UPDATE runs SET status = 'pending', started_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE status = 'running' AND lease_owner = ? "
                f"AND run_id IN ({marks(len(part))})",
                (owner, *part),
            ).rowcount
        bump(conn, {"running": -count, "pending": count})
    return count


_EXPIRED = "status = 'running' AND lease_expires_at < ?"  # served by the runs_lease index
_LEASE_LOST = (
    "'lease of ' || COALESCE(lease_owner, '?') || ' expired before attempt ' || attempt || "
    "' finished (its process stopped or stalled)'"
)


def requeue_expired(conn: sqlite3.Connection, *, now: datetime) -> int:
    """Rescue runs whose lease expired: pending with attempt + 1, or failed when exhausted.

    A run whose cancellation was requested ends ``cancelled`` instead of running again.
    """
    now_us = to_us(now)
    with write_tx(conn):
        cancelled = conn.execute(
            "UPDATE runs SET status = 'cancelled', finished_at = ?, lease_owner = NULL, "
            f"lease_expires_at = NULL WHERE {_EXPIRED} AND cancel_requested = 1",
            (now_us, now_us),
        ).rowcount
        failed = conn.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?, error_type = 'LeaseExpired', "
            f"error_message = {_LEASE_LOST}, lease_owner = NULL, lease_expires_at = NULL "
            f"WHERE {_EXPIRED} AND attempt >= max_attempts",
            (now_us, now_us),
        ).rowcount
        requeued = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, "
            f"error_type = 'LeaseExpired', error_message = {_LEASE_LOST}, started_at = NULL, "
            f"lease_owner = NULL, lease_expires_at = NULL WHERE {_EXPIRED}",
            (now_us,),
        ).rowcount
        total = cancelled + failed + requeued
        bump(
            conn,
            {"running": -total, "cancelled": cancelled, "failed": failed, "pending": requeued},
        )
    return total


def request_cancel(conn: sqlite3.Connection, run_id: str, *, now: datetime) -> Run | None:
    """Cancel a pending run at once, flag a running one; return the run as it now stands."""
    with write_tx(conn):
        if conn.execute(
            "UPDATE runs SET status = 'cancelled', finished_at = ? "
            "WHERE run_id = ? AND status = 'pending'",
            (to_us(now), run_id),
        ).rowcount:
            bump(conn, {"pending": -1, "cancelled": 1})
        else:
            conn.execute(
                "UPDATE runs SET cancel_requested = 1 WHERE run_id = ? AND status = 'running'",
                (run_id,),
            )
        row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else run_from_row(row)
