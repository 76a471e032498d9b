"""Blocking SQLite operations behind :class:`~stargraph.store.sqlite.SQLiteStore`: enqueue, claim.

Every function takes the store's one connection (``isolation_level=None``) and runs in the
store's worker thread; writes happen inside :func:`write_tx` (``BEGIN IMMEDIATE``), which
serialises writers across processes. Every write that changes a run's status also adjusts
the ``run_counts`` table in the same transaction (:func:`bump`), so counting runs by status
never scans ``runs``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from stargraph._json import dumps
from stargraph.store._rows import RUN_COLUMNS, run_from_row, to_us, to_us_opt
from stargraph.store.base import EnqueueOutcome, EnqueueRequest, Run, RunStatus

__all__ = [
    "ADVANCE_CURSOR",
    "bump",
    "chunks",
    "claim",
    "enqueue_batch",
    "marks",
    "run_group",
    "status_counts",
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
    """Run the block in one ``BEGIN IMMEDIATE`` transaction; roll back on any exception.

    Inside a group transaction (:func:`run_group`), the block joins it: the group's savepoint
    undoes the block on an exception and the group's ``COMMIT`` makes it durable.
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


# -- enqueue ----------------------------------------------------------------------------------


def _insert_row(req: EnqueueRequest) -> tuple[Any, ...]:
    run = req.run
    enqueued = to_us(run.enqueued_at)
    due = enqueued if run.not_before is run.enqueued_at else to_us(run.not_before)
    return (
        run.run_id, run.graph_id, run.idempotency_key, dumps(run.params) if run.params else "{}",
        run.trigger_id,
        run.trigger_source, to_us_opt(run.scheduled_fire), enqueued, due, run.max_attempts,
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
        inserted = conn.executemany(_INSERT_RUN, rows).rowcount
        bump(conn, {"pending": inserted})
        if inserted == len(requests):
            outcomes = [EnqueueOutcome(run_id=r.run.run_id, deduplicated=False) for r in requests]
        else:
            outcomes = _outcomes(conn, requests)
        if advances:
            conn.executemany(ADVANCE_CURSOR, advances)
    return outcomes


def _outcomes(conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
    """Outcomes of a batch where some inserts did nothing: look up only those keys' holders."""
    ids = [req.run.run_id for req in requests]
    present: set[str] = set()
    for part in chunks(ids):
        rows = conn.execute(f"SELECT run_id FROM runs WHERE run_id IN ({marks(len(part))})", part)
        present.update(row[0] for row in rows)
    return [
        EnqueueOutcome(run_id=req.run.run_id, deduplicated=False)
        if req.run.run_id in present
        else _holder(conn, req)
        for req in requests
    ]


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
            "SELECT graph_id, COUNT(*) FROM runs INDEXED BY runs_lease "
            "WHERE status = 'running' GROUP BY graph_id"
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
    sql = (
        "SELECT run_id, graph_id, not_before, enqueued_at FROM runs INDEXED BY runs_due "
        "WHERE status = 'pending'"
    )
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
        bump(conn, {"pending": -len(claimed), "running": len(claimed)})
    return [claimed[run_id] for run_id in picked]


def status_counts(conn: sqlite3.Connection) -> dict[RunStatus, int]:
    """Return the number of runs in every status (zero included), from ``run_counts``."""
    counts = dict.fromkeys(RunStatus, 0)
    for status, count in conn.execute("SELECT status, n FROM run_counts"):
        counts[RunStatus(status)] = int(count)
    return counts
