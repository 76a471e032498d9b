"""Listing, pruning, trigger state and webhook nonces for the PostgreSQL store (blocking)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stargraph.store._cursor import decode_page_cursor, encode_page_cursor
from stargraph.store._pg_exec import Conn
from stargraph.store._pg_ops import ADVANCE_CURSORS
from stargraph.store._pg_rows import (
    RUN_COLUMNS,
    TRIGGER_COLUMNS,
    run_from_row,
    trigger_from_row,
    utc,
)
from stargraph.store.base import NonceRequest, Run, RunFilter, RunPage, RunStatus, TriggerState

__all__ = [
    "add_nonce",
    "add_nonces",
    "get_run",
    "get_trigger_state",
    "list_runs",
    "list_trigger_states",
    "next_due",
    "prune",
    "set_trigger_cursor",
    "set_trigger_paused",
    "status_counts",
]

_PRUNE_CHUNK = 5_000  # rows deleted per transaction, so a huge prune never holds long locks
_NONCE_SWEEP = 500  # expired nonces deleted per add_nonce call at most


def get_run(conn: Conn, run_id: str) -> Run | None:
    """Return the run with *run_id*, or ``None``."""
    row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,)).fetchone()
    return None if row is None else run_from_row(row)


def _where(flt: RunFilter, cursor: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for clause, value in (
        ("graph_id = %s", flt.graph_id),
        ("status = %s", None if flt.status is None else flt.status.value),
        ("trigger_id = %s", flt.trigger_id),
        ("enqueued_at >= %s", flt.enqueued_after),
        ("enqueued_at < %s", flt.enqueued_before),
    ):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    if cursor is not None:
        enqueued_at, run_id = decode_page_cursor(cursor)
        clauses.append("(enqueued_at, run_id) < (%s, %s)")
        args += [enqueued_at, run_id]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_runs(conn: Conn, flt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    """Return one page of matching runs, newest first, keyset-paginated."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where, args = _where(flt, cursor)
    query = f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY enqueued_at DESC, run_id DESC LIMIT %s"
    rows = conn.execute(query.encode(), [*args, limit + 1]).fetchall()
    items = [run_from_row(row) for row in rows[:limit]]
    last = items[-1] if items and len(rows) > limit else None
    next_cursor = None if last is None else encode_page_cursor(last.enqueued_at, last.run_id)
    return RunPage(items=items, next_cursor=next_cursor)


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


def status_counts(conn: Conn) -> dict[RunStatus, int]:
    """Return the number of runs in every status (zero included)."""
    counts = dict.fromkeys(RunStatus, 0)
    for status, count in conn.execute(_COUNTS):
        counts[RunStatus(status)] = int(count)
    return counts


def prune(conn: Conn, finished_before: datetime) -> int:
    """Delete finished runs older than *finished_before*, a chunk per transaction."""
    total = 0
    while True:
        deleted = conn.execute(
            "DELETE FROM runs WHERE run_id IN (SELECT run_id FROM runs WHERE "
            "finished_at IS NOT NULL AND finished_at < %s "
            "AND status IN ('succeeded', 'failed', 'cancelled') LIMIT %s "
            "FOR UPDATE SKIP LOCKED)",
            (finished_before, _PRUNE_CHUNK),
        ).rowcount
        total += deleted
        if deleted < _PRUNE_CHUNK:
            return total


def get_trigger_state(conn: Conn, trigger_id: str) -> TriggerState | None:
    """Return one trigger's state, or ``None``."""
    row = conn.execute(
        f"SELECT {TRIGGER_COLUMNS} FROM trigger_state WHERE trigger_id = %s", (trigger_id,)
    ).fetchone()
    return None if row is None else trigger_from_row(row)


def list_trigger_states(conn: Conn) -> list[TriggerState]:
    """Return every trigger's state, ordered by trigger id."""
    rows = conn.execute(f"SELECT {TRIGGER_COLUMNS} FROM trigger_state ORDER BY trigger_id")
    return [trigger_from_row(row) for row in rows.fetchall()]


def set_trigger_cursor(conn: Conn, trigger_id: str, cursor: datetime, now: datetime) -> None:
    """Move the cursor forward (``max(old, new)``), creating the row if needed."""
    conn.execute(ADVANCE_CURSORS, ([trigger_id], [cursor], [now]))


def set_trigger_paused(
    conn: Conn,
    trigger_id: str,
    *,
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


_SWEEP_NONCES = (
    "DELETE FROM webhook_nonces WHERE (scope, nonce) IN (SELECT scope, nonce "
    "FROM webhook_nonces WHERE expires_at <= %s LIMIT %s FOR UPDATE SKIP LOCKED)"
)
_ADD_NONCES = (
    "INSERT INTO webhook_nonces (scope, nonce, expires_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) "
    "ON CONFLICT (scope, nonce) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE webhook_nonces.expires_at <= %s RETURNING scope, nonce"
)


def add_nonces(conn: Conn, items: Sequence[NonceRequest], now: datetime) -> list[bool]:
    """Record nonces in one transaction; ``False`` for each replay. Sweeps some expired ones.

    A nonce is new when it is absent or its stored copy expired (``expires_at <= now``); one
    upsert decides that atomically, so a concurrent insert of the same nonce on another node
    waits for this transaction and then sees an unexpired row: a replay. A nonce repeated
    within *items* is a replay after its first occurrence.
    """
    firsts: dict[tuple[str, str], NonceRequest] = {}
    for item in items:
        firsts.setdefault((item.scope, item.nonce), item)
    todo = sorted(firsts.items())  # one lock order for every node
    with conn.transaction():
        conn.execute(_SWEEP_NONCES, (now, _NONCE_SWEEP))
        rows = conn.execute(
            _ADD_NONCES,
            (
                [k[0] for k, _ in todo],
                [k[1] for k, _ in todo],
                [i.expires_at for _, i in todo],
                now,
            ),
        ).fetchall()
    fresh = {(row[0], row[1]) for row in rows}
    out: list[bool] = []
    for item in items:
        key = (item.scope, item.nonce)
        out.append(key in fresh and firsts[key] is item)
    return out


def add_nonce(conn: Conn, scope: str, nonce: str, expires_at: datetime, now: datetime) -> bool:
    """Record a nonce; ``False`` when an unexpired copy exists (see :func:`add_nonces`)."""
    return add_nonces(conn, [NonceRequest(scope=scope, nonce=nonce, expires_at=expires_at)], now)[0]
