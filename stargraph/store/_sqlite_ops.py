"""The blocking SQLite operations behind :class:`~stargraph.store.sqlite.SQLiteStore`.

Every function takes the store's one connection (``isolation_level=None``) and runs in the
store's worker thread; writes happen inside :func:`write_tx` (``BEGIN IMMEDIATE``), which
serialises writers across processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from stargraph._json import dumps
from stargraph.store._rows import RUN_COLUMNS, run_from_row, to_us, to_us_opt
from stargraph.store.base import (
    TERMINAL_STATUSES,
    Completion,
    EnqueueOutcome,
    EnqueueRequest,
    Run,
    RunError,
    RunStatus,
)

__all__ = [
    "claim",
    "complete_many",
    "enqueue_batch",
    "heartbeat",
    "release",
    "request_cancel",
    "requeue_expired",
    "retry",
    "write_tx",
]

_CHUNK = 500  # ids per ``IN (...)`` list, far below SQLite's bound-variable limit

_INSERT_RUN = (
    "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id, "
    "trigger_source, scheduled_fire, enqueued_at, not_before, attempt, max_attempts) "
    "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (graph_id, idempotency_key) DO NOTHING"
)
ADVANCE_CURSOR = (
    "INSERT INTO trigger_state (trigger_id, cursor, paused, updated_at) VALUES (?, ?, 0, ?) "
    "ON CONFLICT (trigger_id) DO UPDATE SET "
    "cursor = MAX(COALESCE(cursor, excluded.cursor), excluded.cursor), "
    "updated_at = excluded.updated_at"
)


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one ``BEGIN IMMEDIATE`` transaction; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Split *ids* into slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def marks(count: int) -> str:
    """Return ``?, ?, ...`` with *count* placeholders."""
    return ", ".join("?" * count)


# -- enqueue ----------------------------------------------------------------------------------


def _insert_row(req: EnqueueRequest) -> tuple[Any, ...]:
    run = req.run
    return (
        run.run_id, run.graph_id, run.idempotency_key, dumps(run.params), run.trigger_id,
        run.trigger_source, to_us_opt(run.scheduled_fire), to_us(run.enqueued_at),
        to_us(run.not_before), run.max_attempts,
    )  # fmt: skip


def enqueue_batch(
    conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]
) -> list[EnqueueOutcome]:
    """Insert every request in one transaction; report which ones already held their key."""
    rows = [_insert_row(req) for req in requests]
    advances = [
        (req.cursor.trigger_id, to_us(req.cursor.cursor), to_us(req.run.enqueued_at))
        for req in requests
        if req.cursor is not None
    ]
    with write_tx(conn):
        before = conn.total_changes
        conn.executemany(_INSERT_RUN, rows)
        inserted = conn.total_changes - before
        if inserted == len(requests):
            outcomes = [EnqueueOutcome(run_id=r.run.run_id, deduplicated=False) for r in requests]
        else:
            outcomes = [_holder(conn, req) for req in requests]
        if advances:
            conn.executemany(ADVANCE_CURSOR, advances)
    return outcomes


def _holder(conn: sqlite3.Connection, req: EnqueueRequest) -> EnqueueOutcome:
    """Report which run holds the request's key (its own run if this request inserted it)."""
    row = conn.execute(
        "SELECT run_id FROM runs WHERE graph_id = ? AND idempotency_key = ?",
        (req.run.graph_id, req.run.idempotency_key),
    ).fetchone()
    holder: str = row[0]
    return EnqueueOutcome(run_id=holder, deduplicated=holder != req.run.run_id)


# -- claim ------------------------------------------------------------------------------------


def _remaining(conn: sqlite3.Connection, graph_limits: Mapping[str, int]) -> dict[str, int]:
    """Return how many more runs each limited graph may start, deployment-wide."""
    if not graph_limits:
        return {}
    running = dict(
        conn.execute(
            "SELECT graph_id, COUNT(*) FROM runs WHERE status = 'running' GROUP BY graph_id"
        ).fetchall()
    )
    return {g: limit - int(running.get(g, 0)) for g, limit in graph_limits.items()}


def _due_page(
    conn: sqlite3.Connection,
    now_us: int,
    need: int,
    skip: set[str],
    only: Sequence[str] | None,
    after: tuple[int, int, str] | None,
) -> list[tuple[str, str, int, int]]:
    sql = "SELECT run_id, graph_id, not_before, enqueued_at FROM runs WHERE status = 'pending'"
    sql += " AND not_before <= ?"
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
    if limit <= 0 or (graph_ids is not None and not graph_ids):
        return []
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
    "finished_at = ?, lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ?"
)


def _check_terminal(completions: Sequence[Completion]) -> None:
    for item in completions:
        if item.status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Completion of run {item.run_id!r} has status {item.status.value!r}; "
                "use succeeded, failed or cancelled"
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
        error.type if error else None, error.message if error else None, now_us, item.run_id,
    )  # fmt: skip


def complete_many(
    conn: sqlite3.Connection, *, owner: str, completions: Sequence[Completion], now: datetime
) -> set[str]:
    """Record terminal outcomes for the runs *owner* still leases, in one transaction."""
    _check_terminal(completions)
    now_us = to_us(now)
    with write_tx(conn):
        held = _held(conn, owner, [item.run_id for item in completions])
        rows = [_completion_row(item, now_us) for item in completions if item.run_id in held]
        conn.executemany(_COMPLETE, rows)
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
        cur = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, not_before = ?, "
            "error_type = ?, error_message = ?, started_at = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE run_id = ? AND status = 'running' AND lease_owner = ?",
            (to_us(not_before), error.type, error.message, run_id, owner),
        )
    return cur.rowcount == 1


def release(conn: sqlite3.Connection, *, owner: str, run_ids: Sequence[str]) -> int:
    """Return *owner*'s leased runs to pending, attempt unchanged; return how many."""
    count = 0
    with write_tx(conn):
        for part in chunks(list(run_ids)):
            cur = conn.execute(
                "UPDATE runs SET status = 'pending', started_at = NULL, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE status = 'running' AND lease_owner = ? "
                f"AND run_id IN ({marks(len(part))})",
                (owner, *part),
            )
            count += cur.rowcount
    return count


_EXPIRED = "status = 'running' AND lease_expires_at < ?"
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
    return cancelled + failed + requeued


def request_cancel(conn: sqlite3.Connection, run_id: str, *, now: datetime) -> Run | None:
    """Cancel a pending run at once, flag a running one; return the run as it now stands."""
    select = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?"
    with write_tx(conn):
        conn.execute(
            "UPDATE runs SET status = CASE status WHEN 'pending' THEN 'cancelled' ELSE status END, "
            "finished_at = CASE status WHEN 'pending' THEN ? ELSE finished_at END, "
            "cancel_requested = CASE status WHEN 'running' THEN 1 ELSE cancel_requested END "
            "WHERE run_id = ? AND status IN ('pending', 'running')",
            (to_us(now), run_id),
        )
        row = conn.execute(select, (run_id,)).fetchone()
    return None if row is None else run_from_row(row)


def status_counts(conn: sqlite3.Connection) -> dict[RunStatus, int]:
    """Return the number of runs in every status (zero included)."""
    counts = dict.fromkeys(RunStatus, 0)
    for status, count in conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"):
        counts[RunStatus(status)] = int(count)
    return counts
