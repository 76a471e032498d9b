"""SQLite-specific reads, pruning and trigger-state writes (blocking, in the store's thread)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from stargraph.store._sql.micros import from_us, from_us_opt, to_us, to_us_opt
from stargraph.store._sql.text import TRIGGER_COLUMNS
from stargraph.store.base import RunStatus, TriggerState
from stargraph.store.sqlite.enqueue import ADVANCE_CURSOR
from stargraph.store.sqlite.rows import trigger_from_row
from stargraph.store.sqlite.tx import bump, chunks, marks, write_tx

# No __all__: the public surface is the LeaseSQL/QuerySQL protocol of _sql/base.py.

_SORT_PENDING_UP_TO = 5_000  # pending runs listed by sorting the claim index, not scanning

#: The cheapest statement that proves the database answers.
PING = "SELECT n FROM run_counts"
#: Rows deleted per transaction (and per worker-thread call), so claims and enqueues interleave.
PRUNE_CHUNK = 2_000


def listing_hint(conn: sqlite3.Connection, status: RunStatus | None) -> str:
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


def next_due(conn: sqlite3.Connection) -> datetime | None:
    """Return the earliest ``not_before`` of any pending run."""
    row = conn.execute(
        "SELECT MIN(not_before) FROM runs INDEXED BY runs_due WHERE status = 'pending'"
    ).fetchone()
    return from_us_opt(row[0])


def status_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Return ``(status, count)`` for every status, from ``run_counts`` (no scan of ``runs``)."""
    return conn.execute("SELECT status, n FROM run_counts").fetchall()


def prune_chunk(conn: sqlite3.Connection, *, finished_before: datetime, limit: int) -> int:
    """Delete up to *limit* finished runs older than *finished_before*, in one transaction."""
    with write_tx(conn):
        statuses = conn.execute(
            "DELETE FROM runs WHERE rowid IN (SELECT rowid FROM runs INDEXED BY runs_finished "
            "WHERE finished_at IS NOT NULL AND finished_at < ? "
            "AND status IN ('succeeded', 'failed', 'cancelled') LIMIT ?) RETURNING status, run_id",
            (to_us(finished_before), limit),
        ).fetchall()
        ids = [row[1] for row in statuses]
        for part in chunks(ids):  # their earlier attempts go with them
            conn.execute(f"DELETE FROM run_attempts WHERE run_id IN ({marks(len(part))})", part)
        deleted = Counter(row[0] for row in statuses)
        bump(conn, {status: -count for status, count in deleted.items()})
    return len(statuses)


def set_trigger_cursor(
    conn: sqlite3.Connection, *, trigger_id: str, cursor: datetime, now: datetime
) -> None:
    """Move the cursor forward (``max(old, new)``), creating the row if needed."""
    with write_tx(conn):
        conn.execute(ADVANCE_CURSOR, (trigger_id, to_us(cursor), to_us(now)))


def set_trigger_paused(
    conn: sqlite3.Connection,
    *,
    trigger_id: str,
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


_CLAIM_ANCHOR = (
    "INSERT INTO trigger_state (trigger_id, paused, updated_at, anchor) VALUES (?, 0, ?, ?) "
    "ON CONFLICT (trigger_id) DO UPDATE SET anchor = COALESCE(anchor, excluded.anchor)"
)


def claim_trigger_anchors(
    conn: sqlite3.Connection, *, anchors: Mapping[str, datetime], now: datetime
) -> dict[str, datetime]:
    """Store each anchor unless one is stored (first writer wins); return the stored ones."""
    ids = sorted(anchors)
    stored: dict[str, datetime] = {}
    with write_tx(conn):
        now_us = to_us(now)
        conn.executemany(_CLAIM_ANCHOR, [(t, now_us, to_us(anchors[t])) for t in ids])
        for part in chunks(ids):
            rows = conn.execute(
                f"SELECT trigger_id, anchor FROM trigger_state WHERE trigger_id IN "
                f"({marks(len(part))})",
                part,
            ).fetchall()
            stored.update((t, from_us(a)) for t, a in rows)
    return stored
