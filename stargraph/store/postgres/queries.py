"""PostgreSQL-specific reads, pruning and trigger-state writes (blocking, in a worker thread)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stargraph.store._sql.text import TRIGGER_COLUMNS
from stargraph.store.base import RunStatus, TriggerState
from stargraph.store.postgres.enqueue import ADVANCE_CURSORS
from stargraph.store.postgres.exec import Conn
from stargraph.store.postgres.rows import trigger_from_row, utc

# No __all__: the public surface is the LeaseSQL/QuerySQL protocol of _sql/base.py.

#: The cheapest statement that proves the database answers.
PING = "SELECT 1"
#: Rows deleted per transaction, so a huge prune never holds long locks.
PRUNE_CHUNK = 5_000


def listing_hint(conn: Conn, status: RunStatus | None) -> str:
    """No index hint: PostgreSQL's planner has statistics."""
    return ""


def next_due(conn: Conn) -> datetime | None:
    """Return the earliest ``not_before`` of any pending run."""
    row = conn.execute("SELECT min(not_before) FROM runs WHERE status = 'pending'").fetchone()
    return None if row is None else utc(row[0])


#: Each part is answered from a narrow index (index-only scans), not a scan of ``runs``:
#: pending and running from their partial indexes, finished runs from ``runs_finished``.
_COUNTS = (
    "SELECT 'pending', count(*) FROM runs WHERE status = 'pending' "
    "UNION ALL SELECT 'running', count(*) FROM runs WHERE status = 'running' "
    "UNION ALL SELECT status, count(*) FROM runs WHERE finished_at IS NOT NULL GROUP BY status"
)


def status_counts(conn: Conn) -> list[Any]:
    """Return ``(status, count)`` rows; a status with no runs may be missing."""
    return conn.execute(_COUNTS).fetchall()


def prune_chunk(conn: Conn, *, finished_before: datetime, limit: int) -> int:
    """Delete up to *limit* finished runs older than *finished_before* (one statement)."""
    return conn.execute(
        "DELETE FROM runs WHERE run_id IN (SELECT run_id FROM runs WHERE "
        "finished_at IS NOT NULL AND finished_at < %s "
        "AND status IN ('succeeded', 'failed', 'cancelled') LIMIT %s "
        "FOR UPDATE SKIP LOCKED)",
        (finished_before, limit),
    ).rowcount


def set_trigger_cursor(conn: Conn, *, trigger_id: str, cursor: datetime, now: datetime) -> None:
    """Move the cursor forward (``max(old, new)``), creating the row if needed."""
    conn.execute(ADVANCE_CURSORS, ([trigger_id], [cursor], [now]))


def set_trigger_paused(
    conn: Conn,
    *,
    trigger_id: str,
    paused: bool,
    now: datetime,
    note: str | None,
    cursor: datetime | None,
) -> TriggerState:
    """Set the pause flag and note, and the cursor as given (if given); return the state."""
    row = conn.execute(
        "INSERT INTO trigger_state (trigger_id, cursor, paused, note, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (trigger_id) DO UPDATE SET "
        "paused = excluded.paused, note = excluded.note, updated_at = excluded.updated_at, "
        "cursor = CASE WHEN %s THEN excluded.cursor ELSE trigger_state.cursor END "
        f"RETURNING {TRIGGER_COLUMNS}",
        (trigger_id, cursor, paused, note, now, cursor is not None),
    ).fetchone()
    assert row is not None  # an upsert always returns its row
    return trigger_from_row(row)


_CLAIM_ANCHORS = (
    "INSERT INTO trigger_state (trigger_id, paused, updated_at, anchor) "
    "SELECT t, false, %s, a FROM unnest(%s::text[], %s::timestamptz[]) AS u(t, a) "
    "ON CONFLICT (trigger_id) DO UPDATE SET "
    "anchor = COALESCE(trigger_state.anchor, excluded.anchor) RETURNING trigger_id, anchor"
)


def claim_trigger_anchors(
    conn: Conn, *, anchors: Mapping[str, datetime], now: datetime
) -> dict[str, datetime]:
    """Store each anchor unless one is stored (first writer wins); return the stored ones."""
    ids = sorted(anchors)  # one lock order for every node
    rows = conn.execute(_CLAIM_ANCHORS, (now, ids, [anchors[t] for t in ids])).fetchall()
    stored: dict[str, datetime] = {}
    for trigger_id, anchor in rows:
        if (when := utc(anchor)) is not None:
            stored[trigger_id] = when
    return stored
