"""Blocking SQLite lease operations: claim, heartbeat, complete, retry, release, rescue, cancel.

Each write runs in one ``BEGIN IMMEDIATE`` transaction (:func:`~.tx.write_tx`) and keeps
``run_counts`` exact.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from stargraph._json import dumps
from stargraph.store._sql.micros import to_us
from stargraph.store._sql.text import INTERRUPTED, LEASE_LOST, RUN_COLUMNS
from stargraph.store.base import Completion, Run, RunError, attempt_outcome
from stargraph.store.sqlite.rows import run_from_row
from stargraph.store.sqlite.tx import bump, chunks, marks, write_tx

# No __all__: the public surface is the LeaseSQL/QuerySQL protocol of _sql/base.py.


# -- claim ------------------------------------------------------------------------------------


def _remaining(conn: sqlite3.Connection, graph_limits: Mapping[str, int]) -> dict[str, int]:
    """Return how many more runs each limited graph may start, deployment-wide."""
    if not graph_limits:
        return {}
    running = dict(
        conn.execute(
            "SELECT graph_id, COUNT(*) FROM runs INDEXED BY runs_lease "
            "WHERE status = 'running' GROUP BY graph_id"
        ).fetchall()
    )
    return {g: limit - int(running.get(g, 0)) for g, limit in graph_limits.items()}


#: A buffer_one run (``buffered``) waits while a run of its trigger is running (docs/time.md).
_NOT_HELD = (
    " AND (buffered = 0 OR NOT EXISTS (SELECT 1 FROM runs AS r INDEXED BY "
    "runs_trigger_unfinished WHERE r.trigger_id = runs.trigger_id "
    "AND r.status IN ('pending', 'running') AND r.status = 'running'))"
)


def _due_page(
    conn: sqlite3.Connection,
    now_us: int,
    need: int,
    skip: set[str],
    only: Sequence[str] | None,
    after: tuple[int, int, str] | None,
) -> list[tuple[str, str, int, int]]:
    sql = (
        "SELECT run_id, graph_id, not_before, enqueued_at FROM runs INDEXED BY runs_due "
        "WHERE status = 'pending'"
    )
    sql += " AND not_before <= ?" + _NOT_HELD
    args: list[Any] = [now_us]
    if only is not None:
        sql += f" AND graph_id IN ({marks(len(only))})"
        args += only
    if skip:
        sql += f" AND graph_id NOT IN ({marks(len(skip))})"
        args += sorted(skip)
    if after is not None:
        sql += " AND (not_before, enqueued_at, run_id) > (?, ?, ?)"
        args += after
    sql += " ORDER BY not_before, enqueued_at, run_id LIMIT ?"
    return conn.execute(sql, [*args, need]).fetchall()


def _pick(
    conn: sqlite3.Connection,
    now_us: int,
    limit: int,
    remaining: dict[str, int],
    only: Sequence[str] | None,
) -> list[str]:
    """Choose up to *limit* due runs, oldest first, within each graph's remaining capacity."""
    skip = {g for g, left in remaining.items() if left <= 0}
    picked: list[str] = []
    after: tuple[int, int, str] | None = None
    while len(picked) < limit:
        page = _due_page(conn, now_us, limit - len(picked), skip, only, after)
        if not page:
            break
        for run_id, graph_id, not_before, enqueued_at in page:
            after = (not_before, enqueued_at, run_id)
            if graph_id in skip:
                continue
            picked.append(run_id)
            if graph_id in remaining:
                remaining[graph_id] -= 1
                if remaining[graph_id] <= 0:
                    skip.add(graph_id)
    return picked


def claim(
    conn: sqlite3.Connection,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    graph_limits: Mapping[str, int],
    graph_ids: Sequence[str] | None,
) -> list[Run]:
    """Lease up to *limit* due pending runs to *owner* in one transaction, oldest first."""
    now_us = to_us(now)
    expires = now_us + round(lease_seconds * 1_000_000)
    with write_tx(conn):
        picked = _pick(conn, now_us, limit, _remaining(conn, graph_limits), graph_ids)
        claimed: dict[str, Run] = {}
        for part in chunks(picked):
            cur = conn.execute(
                "UPDATE runs SET status = 'running', started_at = ?, lease_owner = ?, "
                f"lease_expires_at = ? WHERE run_id IN ({marks(len(part))}) "
                f"RETURNING {RUN_COLUMNS}",
                (now_us, owner, expires, *part),
            )
            claimed.update((row[0], run_from_row(row)) for row in cur.fetchall())
        bump(conn, {"pending": -len(claimed), "running": len(claimed)})
    return [claimed[run_id] for run_id in picked]


# -- leases -----------------------------------------------------------------------------------


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
    "error_traceback = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL "
    "WHERE run_id = ? AND status = 'running'"
)


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
        error.type if error else None, error.message if error else None,
        error.traceback if error else None, now_us, item.run_id,
    )  # fmt: skip


def complete_many(
    conn: sqlite3.Connection, *, owner: str, completions: Sequence[Completion], now: datetime
) -> set[str]:
    """Record terminal outcomes (one per run) for the runs *owner* still leases, in one tx."""
    unique = completions
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
    now: datetime,
) -> bool:
    """Send *owner*'s run back to pending with ``attempt + 1``; False if the lease was lost.

    The failed attempt is kept as a ``run_attempts`` row in the same transaction.
    """
    outcome = attempt_outcome("failed", error)
    with write_tx(conn):
        conn.execute(
            f"INSERT INTO run_attempts ({_ATTEMPT_INSERT}) SELECT run_id, attempt, interruptions, "
            "started_at, ?, ?, ?, ?, ? FROM runs "
            "WHERE run_id = ? AND status = 'running' AND lease_owner = ?",
            (to_us(now), outcome, error.type, error.message, error.traceback, run_id, owner),
        )
        moved = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, not_before = ?, "
            "error_type = ?, error_message = ?, error_traceback = ?, started_at = NULL, "
            "lease_owner = NULL, lease_expires_at = NULL "
            "WHERE run_id = ? AND status = 'running' AND lease_owner = ?",
            (to_us(not_before), error.type, error.message, error.traceback, run_id, owner),
        ).rowcount
        bump(conn, {"running": -moved, "pending": moved})
    return moved == 1


def release(conn: sqlite3.Connection, *, owner: str, run_ids: Sequence[str]) -> int:
    """Return *owner*'s leased runs (distinct ids) to pending, attempt unchanged; count them."""
    count = 0
    with write_tx(conn):
        for part in chunks(run_ids):
            count += conn.execute(
                "UPDATE runs SET status = 'pending', started_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE status = 'running' AND lease_owner = ? "
                f"AND run_id IN ({marks(len(part))})",
                (owner, *part),
            ).rowcount
        bump(conn, {"running": -count, "pending": count})
    return count


_EXPIRED = "status = 'running' AND lease_expires_at < ?"  # served by the runs_lease index
_ATTEMPT_INSERT = (
    "run_id, attempt, interruptions, started_at, finished_at, outcome, error_type, "
    "error_message, error_traceback"
)
_INTERRUPTED_ROWS = (
    f"INSERT INTO run_attempts ({_ATTEMPT_INSERT}) SELECT run_id, attempt, interruptions, "
    f"started_at, ?, 'interrupted', 'LeaseExpired', {LEASE_LOST}, NULL FROM runs WHERE {_EXPIRED}"
)


def requeue_expired(conn: sqlite3.Connection, *, now: datetime) -> list[tuple[str, str]]:
    """Rescue runs whose lease expired: pending with interruptions + 1, or failed past the cap.

    The attempt counter is unchanged (process death costs no attempt); the interrupted
    execution is kept as a ``run_attempts`` row. A run whose cancellation was requested ends
    ``cancelled`` instead of running again. Returns ``(graph_id, new status)`` per run.
    """
    now_us = to_us(now)
    with write_tx(conn):
        cancelled = conn.execute(
            "UPDATE runs SET status = 'cancelled', finished_at = ?, lease_owner = NULL, "
            f"lease_expires_at = NULL WHERE {_EXPIRED} AND cancel_requested = 1 "
            "RETURNING graph_id",
            (now_us, now_us),
        ).fetchall()
        failed = conn.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?, error_type = 'Interrupted', "
            f"error_message = {INTERRUPTED}, error_traceback = NULL, "
            "interruptions = interruptions + 1, lease_owner = NULL, lease_expires_at = NULL "
            f"WHERE {_EXPIRED} AND interruptions >= max_interruptions RETURNING graph_id",
            (now_us, now_us),
        ).fetchall()
        conn.execute(_INTERRUPTED_ROWS, (now_us, now_us))
        requeued = conn.execute(
            "UPDATE runs SET status = 'pending', interruptions = interruptions + 1, "
            f"error_type = 'LeaseExpired', error_message = {LEASE_LOST}, error_traceback = NULL, "
            f"started_at = NULL, lease_owner = NULL, lease_expires_at = NULL WHERE {_EXPIRED} "
            "RETURNING graph_id",
            (now_us,),
        ).fetchall()
        moved = {"cancelled": cancelled, "failed": failed, "pending": requeued}
        bump(
            conn,
            {"running": -sum(map(len, moved.values()))} | {k: len(v) for k, v in moved.items()},
        )
    return [(row[0], status) for status, rows in moved.items() for row in rows]


def request_cancel(conn: sqlite3.Connection, *, run_id: str, now: datetime) -> Run | None:
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
