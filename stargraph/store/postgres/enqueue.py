"""Blocking PostgreSQL enqueue: insert runs, advance cron cursors, record webhook nonces.

Each function takes a pooled connection (autocommit; transactions are explicit) and runs in a
worker thread. Statements work on whole batches through ``unnest`` arrays, so one transaction
costs a handful of round trips whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from stargraph._json import dumps
from stargraph.store._sql.overlap import decide, unfinished_sql
from stargraph.store.base import Enqueued, EnqueueRequest, NewRun
from stargraph.store.postgres.exec import Conn
from stargraph.store.postgres.schema import LOCK_NAMESPACE

__all__ = ["ADVANCE_CURSORS", "Notice", "enqueue_batch", "notify"]

_INTO = (
    "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id, "
    "trigger_source, scheduled_fire, enqueued_at, not_before, attempt, max_attempts, "
    "max_interruptions, retry_of, backfill, buffered, trace_context) "
)
_CONFLICT = " ON CONFLICT (graph_id, idempotency_key) DO NOTHING RETURNING run_id"
_INSERT = (
    f"{_INTO}SELECT r, g, k, 'pending', p::jsonb, t, s, f, e, nb, 1, m, mi, ro, bf, bu, tc "
    "FROM unnest("
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::int[], %s::int[], %s::text[], "
    "%s::bool[], %s::bool[], %s::text[]) "
    f"AS u(r, g, k, p, t, s, f, e, nb, m, mi, ro, bf, bu, tc){_CONFLICT}"
)
#: One run from scalar parameters: psycopg adapts arrays in Python, so the ``unnest`` form
#: costs a single enqueue about twice the client CPU of the whole statement.
_INSERT_ONE = (
    f"{_INTO}VALUES (%s, %s, %s, 'pending', %s::jsonb, %s, %s, %s::timestamptz, "
    f"%s::timestamptz, %s::timestamptz, 1, %s::int, %s::int, %s, %s::bool, %s::bool, %s)"
    f"{_CONFLICT}"
)
#: An insert plus one NOTIFY if any row was inserted: the uncorrelated sub-select is an
#: InitPlan, evaluated once, when the first inserted row is returned (never for no row).
_NOTIFY = "WITH ins AS ({}) SELECT run_id, (SELECT pg_notify(%s, %s))::text FROM ins"
_INSERT_NOTIFY = _NOTIFY.format(_INSERT)
_INSERT_ONE_NOTIFY = _NOTIFY.format(_INSERT_ONE)
_HOLDERS = (
    "SELECT runs.graph_id, runs.idempotency_key, runs.run_id FROM runs "
    "JOIN unnest(%s::text[], %s::text[]) AS u(g, k) "
    "ON runs.graph_id = u.g AND runs.idempotency_key = u.k"
)
ADVANCE_CURSORS = (
    "INSERT INTO trigger_state (trigger_id, cursor, paused, updated_at) "
    "SELECT t, c, false, u FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) "
    "AS a(t, c, u) ON CONFLICT (trigger_id) DO UPDATE SET "
    "cursor = GREATEST(trigger_state.cursor, excluded.cursor), updated_at = excluded.updated_at"
)


@attrs.frozen(kw_only=True)
class Notice:
    """How a store announces new work: its ``NOTIFY`` channel, and its node id as the payload
    (so its own listener can tell its own notifications from other nodes')."""

    channel: str
    node: str


def notify(conn: Conn, notice: Notice) -> None:
    """Queue a wake-up; delivered to listeners when the transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (notice.channel, notice.node))


# -- enqueue ----------------------------------------------------------------------------------


def _row(run: NewRun, buffered: bool) -> tuple[Any, ...]:
    return (
        run.run_id, run.graph_id, run.idempotency_key, dumps(run.params), run.trigger_id,
        run.trigger_source, run.scheduled_fire, run.enqueued_at, run.not_before,
        run.max_attempts, run.max_interruptions, run.retry_of, run.backfill, buffered,
        run.trace_context,
    )  # fmt: skip


def _insert(conn: Conn, runs: Sequence[NewRun], notice: Notice, buffered: bool = False) -> set[str]:
    rows = [_row(run, buffered) for run in runs]
    if not rows:
        return set()
    if len(rows) == 1:
        query, params = _INSERT_ONE_NOTIFY, list(rows[0])
    else:
        query, params = _INSERT_NOTIFY, [list(column) for column in zip(*rows, strict=True)]
    found = conn.execute(query, [*params, notice.channel, notice.node]).fetchall()
    return {row[0] for row in found}


def _resolve(
    conn: Conn, firsts: dict[tuple[str, str], NewRun], notice: Notice
) -> dict[tuple[str, str], str]:
    """Insert the first request of every key (NOTIFY if any is new); return who holds each key."""
    # Sorted by key, so two nodes inserting overlapping batches lock in the same order.
    todo = sorted(firsts.items())
    holders: dict[tuple[str, str], str] = {}
    for _ in range(3):  # a holder pruned between the conflict and the lookup: insert again
        inserted = _insert(conn, [run for _, run in todo], notice)
        holders.update((key, run.run_id) for key, run in todo if run.run_id in inserted)
        todo = [(key, run) for key, run in todo if key not in holders]
        if not todo:
            break
        rows = conn.execute(_HOLDERS, ([k[0] for k, _ in todo], [k[1] for k, _ in todo])).fetchall()
        holders.update(((g, k), run_id) for g, k, run_id in rows)
        todo = [(key, run) for key, run in todo if key not in holders]
        if not todo:
            break
    return holders


def _advance(conn: Conn, requests: Sequence[EnqueueRequest]) -> None:
    """Advance each trigger's cursor once, to the latest of its requests (deadlock-free order)."""
    latest: dict[str, tuple[datetime, datetime]] = {}
    for req in requests:
        if req.cursor is None:
            continue
        seen = latest.get(req.cursor.trigger_id)
        if seen is None or req.cursor.cursor > seen[0]:
            latest[req.cursor.trigger_id] = (req.cursor.cursor, req.run.enqueued_at)
    if latest:
        ids = sorted(latest)
        conn.execute(
            ADVANCE_CURSORS, (ids, [latest[i][0] for i in ids], [latest[i][1] for i in ids])
        )


def enqueue_batch(
    conn: Conn, *, requests: Sequence[EnqueueRequest], notice: Notice
) -> list[Enqueued]:
    """Insert every request in one transaction; report which ones already held their key."""
    if any(req.overlap not in (None, "allow") for req in requests):
        with conn.transaction():
            return _with_overlap(conn, requests, notice)
    firsts: dict[tuple[str, str], NewRun] = {}
    for req in requests:
        firsts.setdefault((req.run.graph_id, req.run.idempotency_key), req.run)
    replays: set[int] = set()
    if len(firsts) > 1 or any(req.cursor or req.nonce for req in requests):
        with conn.transaction():
            holders = _resolve(conn, firsts, notice)
            _advance(conn, requests)
            replays = _record_nonces(conn, requests)
    else:  # one run, no side-write: its INSERT statement is the transaction (no BEGIN/COMMIT)
        holders = _resolve(conn, firsts, notice)
    outcomes = []
    for index, req in enumerate(requests):
        holder = holders[(req.run.graph_id, req.run.idempotency_key)]
        outcomes.append(
            Enqueued(run_id=holder, deduplicated=holder != req.run.run_id, replay=index in replays)
        )
    return outcomes


def _with_overlap(conn: Conn, requests: Sequence[EnqueueRequest], notice: Notice) -> list[Enqueued]:
    """A batch with overlap policies (inside the caller's transaction): lock each trigger of an
    overlap request (sorted: one lock order for every node), then the plain requests as a batch
    and the overlap ones one by one, each deciding on what the locked trigger has unfinished."""
    ids = sorted({req.run.trigger_id or "" for req in requests if _has_overlap(req)})
    conn.execute(_LOCK_TRIGGERS, (LOCK_NAMESPACE, ids))
    plain = [i for i, req in enumerate(requests) if not _has_overlap(req)]
    outcomes: dict[int, Enqueued] = {}
    if plain:
        done = enqueue_batch(conn, requests=[requests[i] for i in plain], notice=notice)
        outcomes.update(zip(plain, done, strict=True))
    for i, req in enumerate(requests):
        if i not in outcomes:
            outcomes[i] = _overlap_one(conn, req, notice)
    return [outcomes[i] for i in range(len(requests))]


def _has_overlap(req: EnqueueRequest) -> bool:
    return req.overlap not in (None, "allow")


def _overlap_one(conn: Conn, req: EnqueueRequest, notice: Notice) -> Enqueued:
    run = req.run
    key = ([run.graph_id], [run.idempotency_key])
    row = conn.execute(_HOLDERS, key).fetchone()
    if row is not None:
        outcome = Enqueued(run_id=row[2], deduplicated=True)
    else:
        rows = conn.execute(unfinished_sql("%s"), (run.trigger_id,)).fetchall()
        decision = decide(req.overlap or "allow", [(r[0], r[1]) for r in rows])
        if decision.insert:
            _insert(conn, [run], notice, decision.buffered)
            for run_id in decision.cancel:
                _cancel(conn, run_id, run.enqueued_at)
            outcome = Enqueued(run_id=run.run_id, deduplicated=False)
        else:
            outcome = Enqueued(run_id=decision.blocker or "", deduplicated=False, skipped=True)
    _advance(conn, [req])
    return outcome


def _cancel(conn: Conn, run_id: str, now: datetime) -> None:
    """Cancel a pending run at once, flag a running one (as ``request_cancel`` does)."""
    conn.execute(
        "UPDATE runs SET status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END, "
        "finished_at = CASE WHEN status = 'pending' THEN %s ELSE finished_at END, "
        "cancel_requested = (status = 'running') WHERE run_id = %s "
        "AND status IN ('pending', 'running')",
        (now, run_id),
    )


_LOCK_TRIGGERS = (
    "SELECT count(pg_advisory_xact_lock(%s, hashtext('overlap:' || t))) "
    "FROM unnest(%s::text[]) AS t"
)

_NONCE_SWEEP = 500  # expired nonces deleted per enqueue transaction at most
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


def _record_nonces(conn: Conn, requests: Sequence[EnqueueRequest]) -> set[int]:
    """Record the requests' nonces (inside the enqueue transaction); return the replays' indexes.

    A nonce is new when it is absent or its stored copy expired (``expires_at <= now``, now
    being the latest ``enqueued_at``); one upsert decides that atomically, so a concurrent
    insert of the same nonce on another node waits for this transaction and then sees an
    unexpired row: a replay. A nonce repeated within the batch is a replay after its first.
    """
    firsts: dict[tuple[str, str], int] = {}
    for index, req in enumerate(requests):
        if req.nonce is not None:
            firsts.setdefault((req.nonce.scope, req.nonce.nonce), index)
    if not firsts:
        return set()
    now = max(requests[i].run.enqueued_at for i in firsts.values())
    todo = sorted(firsts)  # one lock order for every node
    expires = [requests[firsts[key]].nonce.expires_at for key in todo]  # type: ignore[union-attr]
    conn.execute(_SWEEP_NONCES, (now, _NONCE_SWEEP))
    rows = conn.execute(
        _ADD_NONCES, ([k[0] for k in todo], [k[1] for k in todo], expires, now)
    ).fetchall()
    fresh = {firsts[(row[0], row[1])] for row in rows}
    return {i for i, req in enumerate(requests) if req.nonce is not None and i not in fresh}
