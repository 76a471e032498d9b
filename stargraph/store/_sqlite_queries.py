"""Listing, pruning, trigger state and webhook nonces for the SQLite store (blocking)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime
from typing import Any

from stargraph.store._cursor import decode_page_cursor, encode_page_cursor
from stargraph.store._rows import (
    RUN_COLUMNS,
    TRIGGER_COLUMNS,
    from_us_opt,
    run_from_row,
    to_us,
    to_us_opt,
    trigger_from_row,
)
from stargraph.store._sqlite_ops import ADVANCE_CURSOR, bump, write_tx
from stargraph.store.base import NonceRequest, Run, RunFilter, RunPage, RunStatus, TriggerState

__all__ = [
    "PRUNE_CHUNK",
    "add_nonce",
    "add_nonces",
    "get_run",
    "get_trigger_state",
    "list_runs",
    "list_trigger_states",
    "next_due",
    "prune_chunk",
    "set_trigger_cursor",
    "set_trigger_paused",
]

_SORT_PENDING_UP_TO = 5_000  # pending runs listed by sorting the claim index, not scanning

#: Rows deleted per transaction (and per worker-thread call), so claims and enqueues interleave.
PRUNE_CHUNK = 2_000


def get_run(conn: sqlite3.Connection, run_id: str) -> Run | None:
    """Return the run with *run_id*, or ``None``."""
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else run_from_row(row)


def _where(flt: RunFilter, cursor: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if flt.status is not None:  # a literal, so SQLite can use the per-status partial indexes
        clauses.append(f"status = '{RunStatus(flt.status).value}'")
    for column, value in (("graph_id", flt.graph_id), ("trigger_id", flt.trigger_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if flt.enqueued_after is not None:
        clauses.append("enqueued_at >= ?")
        args.append(to_us(flt.enqueued_after))
    if flt.enqueued_before is not None:
        clauses.append("enqueued_at < ?")
        args.append(to_us(flt.enqueued_before))
    if cursor is not None:
        enqueued_at, run_id = decode_page_cursor(cursor)
        clauses.append("(enqueued_at, run_id) < (?, ?)")
        args += [to_us(enqueued_at), run_id]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _hint(conn: sqlite3.Connection, status: RunStatus | None) -> str:
    """Pick the index for a status filter that SQLite's planner, lacking statistics, misjudges.

    Running runs are few (bounded by concurrency): read them through ``runs_lease`` and sort.
    Pending runs too, unless there is a backlog; then they are dense among the newest runs and
    the newest-first scan of ``runs_listing`` (the planner's own choice) finds them quickly.
    """
    if status is RunStatus.running:
        return " INDEXED BY runs_lease"
    if status is RunStatus.pending:
        row = conn.execute("SELECT n FROM run_counts WHERE status = 'pending'").fetchone()
        if row is not None and row[0] <= _SORT_PENDING_UP_TO:
            return " INDEXED BY runs_due"
    return ""


def list_runs(conn: sqlite3.Connection, flt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    """Return one page of matching runs, newest first, keyset-paginated."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where, args = _where(flt, cursor)
    hint = _hint(conn, None if flt.status is None else RunStatus(flt.status))
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs{hint}{where} "
        "ORDER BY enqueued_at DESC, run_id DESC LIMIT ?",
        [*args, limit + 1],
    ).fetchall()
    items = [run_from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    last = items[-1] if items else None
    next_cursor = encode_page_cursor(last.enqueued_at, last.run_id) if more and last else None
    return RunPage(items=items, next_cursor=next_cursor)


def next_due(conn: sqlite3.Connection) -> datetime | None:
    """Return the earliest ``not_before`` of any pending run."""
    row = conn.execute(
        "SELECT MIN(not_before) FROM runs INDEXED BY runs_due WHERE status = 'pending'"
    ).fetchone()
    return from_us_opt(row[0])


def prune_chunk(conn: sqlite3.Connection, finished_before: datetime) -> int:
    """Delete up to :data:`PRUNE_CHUNK` finished runs older than *finished_before*."""
    with write_tx(conn):
        statuses = conn.execute(
            "DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs INDEXED BY runs_finished "
            "WHERE finished_at IS NOT NULL AND finished_at < ? "
            "AND status IN ('succeeded', 'failed', 'cancelled') LIMIT ?) RETURNING status",
            (to_us(finished_before), PRUNE_CHUNK),
        ).fetchall()
        deleted = Counter(row[0] for row in statuses)
        bump(conn, {status: -count for status, count in deleted.items()})
    return len(statuses)


def get_trigger_state(conn: sqlite3.Connection, trigger_id: str) -> TriggerState | None:
    """Return one trigger's state, or ``None``."""
    row = conn.execute(
        f"SELECT {TRIGGER_COLUMNS} FROM trigger_state WHERE trigger_id = ?", (trigger_id,)
    ).fetchone()
    return None if row is None else trigger_from_row(row)


def list_trigger_states(conn: sqlite3.Connection) -> list[TriggerState]:
    """Return every trigger's state, ordered by trigger id."""
    rows = conn.execute(f"SELECT {TRIGGER_COLUMNS} FROM trigger_state ORDER BY trigger_id")
    return [trigger_from_row(row) for row in rows.fetchall()]


def set_trigger_cursor(
    conn: sqlite3.Connection, trigger_id: str, cursor: datetime, now: datetime
) -> None:
    """Move the cursor forward (``max(old, new)``), creating the row if needed."""
    with write_tx(conn):
        conn.execute(ADVANCE_CURSOR, (trigger_id, to_us(cursor), to_us(now)))


def set_trigger_paused(
    conn: sqlite3.Connection,
    trigger_id: str,
    *,
    paused: bool,
    now: datetime,
    note: str | None,
    cursor: datetime | None,
) -> TriggerState:
    """Set the pause flag and note, and the cursor as given (if given); return the state."""
    with write_tx(conn):
        conn.execute(
            "INSERT INTO trigger_state (trigger_id, cursor, paused, note, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (trigger_id) DO UPDATE SET "
            "paused = excluded.paused, note = excluded.note, updated_at = excluded.updated_at, "
            "cursor = CASE WHEN ? THEN excluded.cursor ELSE cursor END",
            (trigger_id, to_us_opt(cursor), int(paused), note, to_us(now), cursor is not None),
        )
        row = conn.execute(
            f"SELECT {TRIGGER_COLUMNS} FROM trigger_state WHERE trigger_id = ?", (trigger_id,)
        ).fetchone()
    return trigger_from_row(row)


def add_nonce(
    conn: sqlite3.Connection, scope: str, nonce: str, expires_at: datetime, now: datetime
) -> bool:
    """Record a nonce; ``False`` when an unexpired copy exists. Drops expired nonces first."""
    with write_tx(conn):
        conn.execute("DELETE FROM webhook_nonces WHERE expires_at <= ?", (to_us(now),))
        cur = conn.execute(
            "INSERT INTO webhook_nonces (scope, nonce, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (scope, nonce) DO NOTHING",
            (scope, nonce, to_us(expires_at)),
        )
    return cur.rowcount == 1


def add_nonces(conn: sqlite3.Connection, items: list[NonceRequest], now: datetime) -> list[bool]:
    """Record several nonces in one transaction; ``False`` for each replay (see add_nonce)."""
    fresh: list[bool] = []
    with write_tx(conn):
        conn.execute("DELETE FROM webhook_nonces WHERE expires_at <= ?", (to_us(now),))
        for item in items:
            cur = conn.execute(
                "INSERT INTO webhook_nonces (scope, nonce, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, nonce) DO NOTHING",
                (item.scope, item.nonce, to_us(item.expires_at)),
            )
            fresh.append(cur.rowcount == 1)
    return fresh
