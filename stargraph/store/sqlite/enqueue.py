"""Blocking SQLite enqueue: insert runs, advance cron cursors, record webhook nonces (one tx)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from stargraph._json import dumps
from stargraph.store._sql.micros import to_us, to_us_opt
from stargraph.store._sql.overlap import decide, unfinished_sql
from stargraph.store.base import Enqueued, EnqueueRequest
from stargraph.store.sqlite import leases
from stargraph.store.sqlite.tx import bump, chunks, insert_rows, marks, write_tx

__all__ = ["ADVANCE_CURSOR", "enqueue_batch"]

_INSERT_RUN = (
    "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id, "
    "trigger_source, scheduled_fire, enqueued_at, not_before, attempt, max_attempts, "
    "max_interruptions, retry_of, backfill, buffered, trace_context) "
    "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (graph_id, idempotency_key) DO NOTHING"
)
ADVANCE_CURSOR = (
    "INSERT INTO trigger_state (trigger_id, cursor, paused, updated_at) VALUES (?, ?, 0, ?) "
    "ON CONFLICT (trigger_id) DO UPDATE SET "
    "cursor = MAX(COALESCE(cursor, excluded.cursor), excluded.cursor), "
    "updated_at = excluded.updated_at"
)
_ADD_NONCE = (
    "INSERT INTO webhook_nonces (scope, nonce, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (scope, nonce) DO NOTHING"
)


def _insert_row(
    req: EnqueueRequest, buffered: bool, enqueued: int, fire: int | None
) -> tuple[Any, ...]:
    """The insert row of *req*, given its ``enqueued_at`` and ``scheduled_fire`` in microseconds."""
    run = req.run
    due = enqueued if run.not_before is run.enqueued_at else to_us(run.not_before)
    return (
        run.run_id, run.graph_id, run.idempotency_key, dumps(run.params) if run.params else "{}",
        run.trigger_id,
        run.trigger_source, fire, enqueued, due, run.max_attempts,
        run.max_interruptions, run.retry_of, int(run.backfill), int(buffered), run.trace_context,
    )  # fmt: skip


def _batch_rows(
    requests: Sequence[EnqueueRequest],
) -> tuple[list[tuple[Any, ...]], list[tuple[str, int, int]]]:
    """The insert rows and cursor-advance rows of *requests*, converting each time once.

    A burst's fires share one fire-time object (their ``scheduled_fire`` and cursor), and a
    run's ``enqueued_at`` serves its row and its cursor advance.
    """
    rows, advances = [], []
    last: datetime | None = None
    last_us: int | None = None
    for req in requests:
        run = req.run
        enqueued = to_us(run.enqueued_at)
        if run.scheduled_fire is not last:
            last, last_us = run.scheduled_fire, to_us_opt(run.scheduled_fire)
        rows.append(_insert_row(req, False, enqueued, last_us))
        if (cursor := req.cursor) is not None:
            at = last_us if cursor.cursor is last and last_us is not None else to_us(cursor.cursor)
            advances.append((cursor.trigger_id, at, enqueued))
    return rows, advances


def enqueue_batch(conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
    """Insert every request in one transaction; report which ones already held their key.

    Requests with an overlap policy are decided one by one after the plain ones, in the same
    transaction (:mod:`stargraph.store._sql.overlap`).
    """
    if any(req.overlap not in (None, "allow") for req in requests):
        return _with_overlap(conn, requests)
    return _plain_batch(conn, requests)


def _with_overlap(conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
    plain = [i for i, req in enumerate(requests) if req.overlap in (None, "allow")]
    outcomes: dict[int, Enqueued] = {}
    with write_tx(conn):
        if plain:
            done = _plain_batch(conn, [requests[i] for i in plain])
            outcomes.update(zip(plain, done, strict=True))
        for i, req in enumerate(requests):
            if i not in outcomes:
                outcomes[i] = _overlap_one(conn, req)
    return [outcomes[i] for i in range(len(requests))]


def _overlap_one(conn: sqlite3.Connection, req: EnqueueRequest) -> Enqueued:
    """Decide and insert one fire under its overlap policy (inside the caller's transaction)."""
    run = req.run
    row = conn.execute(
        "SELECT run_id FROM runs WHERE graph_id = ? AND idempotency_key = ?",
        (run.graph_id, run.idempotency_key),
    ).fetchone()
    if row is not None:
        outcome = Enqueued(run_id=row[0], deduplicated=True)
    else:
        rows = conn.execute(unfinished_sql("?"), (run.trigger_id,)).fetchall()
        decision = decide(req.overlap or "allow", rows)
        if decision.insert:
            row = _insert_row(
                req, decision.buffered, to_us(run.enqueued_at), to_us_opt(run.scheduled_fire)
            )
            conn.execute(_INSERT_RUN, row)
            bump(conn, {"pending": 1})
            for run_id in decision.cancel:
                leases.request_cancel(conn, run_id=run_id, now=run.enqueued_at)
            outcome = Enqueued(run_id=run.run_id, deduplicated=False)
        else:
            outcome = Enqueued(run_id=decision.blocker or "", deduplicated=False, skipped=True)
    if req.cursor is not None:
        conn.execute(ADVANCE_CURSOR, (req.cursor.trigger_id, to_us(req.cursor.cursor),
                                      to_us(run.enqueued_at)))  # fmt: skip
    return outcome


def _plain_batch(conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
    rows, advances = _batch_rows(requests)
    with write_tx(conn):
        inserted = insert_rows(conn, _INSERT_RUN, rows)
        bump(conn, {"pending": inserted})
        if inserted == len(requests):
            outcomes = [Enqueued(run_id=r.run.run_id, deduplicated=False) for r in requests]
        else:
            outcomes = _outcomes(conn, requests)
        if advances:
            insert_rows(conn, ADVANCE_CURSOR, advances)
        if any(req.nonce is not None for req in requests):
            outcomes = _record_nonces(conn, requests, outcomes)
    return outcomes


def _record_nonces(
    conn: sqlite3.Connection, requests: Sequence[EnqueueRequest], outcomes: list[Enqueued]
) -> list[Enqueued]:
    """Sweep expired nonces, record the requests' ones; mark each replay on its outcome."""
    now = max(to_us(req.run.enqueued_at) for req in requests if req.nonce is not None)
    conn.execute("DELETE FROM webhook_nonces WHERE expires_at <= ?", (now,))
    marked = list(outcomes)
    for index, req in enumerate(requests):
        if (n := req.nonce) is not None:
            cur = conn.execute(_ADD_NONCE, (n.scope, n.nonce, to_us(n.expires_at)))
            if cur.rowcount != 1:
                marked[index] = attrs.evolve(marked[index], replay=True)
    return marked


def _outcomes(conn: sqlite3.Connection, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
    """Outcomes of a batch where some inserts did nothing: look up only those keys' holders."""
    ids = [req.run.run_id for req in requests]
    present: set[str] = set()
    for part in chunks(ids):
        rows = conn.execute(f"SELECT run_id FROM runs WHERE run_id IN ({marks(len(part))})", part)
        present.update(row[0] for row in rows)
    return [
        Enqueued(run_id=req.run.run_id, deduplicated=False)
        if req.run.run_id in present
        else _holder(conn, req)
        for req in requests
    ]


def _holder(conn: sqlite3.Connection, req: EnqueueRequest) -> Enqueued:
    """Report which run holds the request's key (its own run if this request inserted it)."""
    row = conn.execute(
        "SELECT run_id FROM runs WHERE graph_id = ? AND idempotency_key = ?",
        (req.run.graph_id, req.run.idempotency_key),
    ).fetchone()
    holder: str = row[0]
    return Enqueued(run_id=holder, deduplicated=holder != req.run.run_id)
