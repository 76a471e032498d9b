"""The blocking PostgreSQL run operations behind :class:`~stargraph.store.postgres.PostgresStore`.

Each function takes a pooled connection (autocommit; transactions are explicit) and runs in a
worker thread. Statements work on whole batches through ``unnest`` arrays, so one transaction
costs a handful of round trips whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from stargraph._json import dumps
from stargraph.store._pg_exec import Conn
from stargraph.store._pg_rows import RUN_COLUMNS, run_from_row
from stargraph.store._pg_schema import LOCK_NAMESPACE
from stargraph.store.base import (
    TERMINAL_STATUSES,
    Completion,
    EnqueueOutcome,
    EnqueueRequest,
    NewRun,
    Run,
    RunError,
)

__all__ = [
    "claim",
    "complete_many",
    "enqueue_batch",
    "heartbeat",
    "notify",
    "release",
    "request_cancel",
    "requeue_expired",
    "retry",
]

_INSERT = (
    "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_id, "
    "trigger_source, scheduled_fire, enqueued_at, not_before, attempt, max_attempts) "
    "SELECT r, g, k, 'pending', p::jsonb, t, s, f, e, nb, 1, m FROM unnest("
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::int[]) "
    "AS u(r, g, k, p, t, s, f, e, nb, m) "
    "ON CONFLICT (graph_id, idempotency_key) DO NOTHING RETURNING run_id"
)
#: The insert plus a NOTIFY per inserted row (PostgreSQL folds them into one per transaction).
_INSERT_NOTIFY = f"WITH ins AS ({_INSERT}) SELECT run_id, pg_notify(%s, '')::text FROM ins"
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


def notify(conn: Conn, channel: str) -> None:
    """Queue a wake-up on *channel*; delivered to listeners when the transaction commits."""
    conn.execute("SELECT pg_notify(%s, '')", (channel,))


# -- enqueue ----------------------------------------------------------------------------------


def _insert(conn: Conn, runs: Sequence[NewRun], channel: str) -> set[str]:
    columns: list[list[Any]] = [[] for _ in range(10)]
    for run in runs:
        values = (
            run.run_id, run.graph_id, run.idempotency_key, dumps(run.params), run.trigger_id,
            run.trigger_source, run.scheduled_fire, run.enqueued_at, run.not_before,
            run.max_attempts,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    rows = conn.execute(_INSERT_NOTIFY, [*columns, channel]).fetchall()
    return {row[0] for row in rows}


def _resolve(
    conn: Conn, firsts: dict[tuple[str, str], NewRun], channel: str
) -> dict[tuple[str, str], str]:
    """Insert the first request of every key (NOTIFY if any is new); return who holds each key."""
    # Sorted by key, so two nodes inserting overlapping batches lock in the same order.
    todo = sorted(firsts.items())
    holders: dict[tuple[str, str], str] = {}
    for _ in range(3):  # a holder pruned between the conflict and the lookup: insert again
        inserted = _insert(conn, [run for _, run in todo], channel)
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
    conn: Conn, requests: Sequence[EnqueueRequest], channel: str
) -> list[EnqueueOutcome]:
    """Insert every request in one transaction; report which ones already held their key."""
    firsts: dict[tuple[str, str], NewRun] = {}
    for req in requests:
        firsts.setdefault((req.run.graph_id, req.run.idempotency_key), req.run)
    if len(firsts) > 1 or any(req.cursor is not None for req in requests):
        with conn.transaction():
            holders = _resolve(conn, firsts, channel)
            _advance(conn, requests)
    else:  # one run, no cursor: its INSERT statement is the transaction (no BEGIN/COMMIT)
        holders = _resolve(conn, firsts, channel)
    outcomes = []
    for req in requests:
        holder = holders[(req.run.graph_id, req.run.idempotency_key)]
        outcomes.append(EnqueueOutcome(run_id=holder, deduplicated=holder != req.run.run_id))
    return outcomes


# -- claim ------------------------------------------------------------------------------------

_DUE_LIMITED = (
    "SELECT g FROM unnest(%s::text[]) AS g WHERE EXISTS (SELECT 1 FROM runs "
    "WHERE status = 'pending' AND graph_id = g AND not_before <= %s) ORDER BY g"
)
_LOCK_GRAPHS = (
    "SELECT count(pg_advisory_xact_lock(%s, hashtext(%s || g))) FROM unnest(%s::text[]) AS g"
)
_RUNNING = (
    "SELECT graph_id, count(*) FROM runs WHERE status = 'running' "
    "AND graph_id = ANY(%s::text[]) GROUP BY graph_id"
)
_ORDER = "ORDER BY not_before, enqueued_at, run_id"
_CLAIM = (
    "WITH free AS (SELECT run_id, not_before, enqueued_at FROM runs "
    "WHERE status = 'pending' AND not_before <= %(now)s AND graph_id <> ALL(%(limited)s) "
    "AND (%(all)s OR graph_id = ANY(%(only)s)) "
    f"{_ORDER} LIMIT %(limit)s FOR UPDATE SKIP LOCKED), "
    "capped AS (SELECT c.run_id, c.not_before, c.enqueued_at "
    "FROM unnest(%(cap_g)s::text[], %(cap_n)s::int[]) AS l(g, n) CROSS JOIN LATERAL "
    "(SELECT run_id, not_before, enqueued_at FROM runs WHERE status = 'pending' "
    f"AND graph_id = l.g AND not_before <= %(now)s {_ORDER} LIMIT l.n "
    "FOR UPDATE SKIP LOCKED) AS c), "
    "chosen AS (SELECT run_id FROM (SELECT * FROM free UNION ALL SELECT * FROM capped) AS u "
    f"{_ORDER} LIMIT %(limit)s) "
    "UPDATE runs SET status = 'running', started_at = %(now)s, lease_owner = %(owner)s, "
    "lease_expires_at = %(expires)s FROM chosen WHERE runs.run_id = chosen.run_id "
    f"RETURNING {', '.join('runs.' + c for c in RUN_COLUMNS.split(', '))}"
)


def _capacity(
    conn: Conn,
    now: datetime,
    graph_limits: Mapping[str, int],
    only: Sequence[str] | None,
    lock_prefix: str,
) -> dict[str, int]:
    """Lock the limited graphs that have due runs; return how many more each may start.

    The per-graph ``pg_advisory_xact_lock`` serialises claims of one limited graph across
    nodes until commit, and the running count is read *after* the lock (a new snapshot under
    READ COMMITTED), so it includes every claim another node committed before.
    """
    wanted = _limited(graph_limits, only)
    due = [row[0] for row in conn.execute(_DUE_LIMITED, (wanted, now)).fetchall()]
    if not due:
        return {}
    conn.execute(_LOCK_GRAPHS, (LOCK_NAMESPACE, lock_prefix, due))
    running = dict(conn.execute(_RUNNING, (due,)).fetchall())
    return {g: max(0, graph_limits[g] - int(running.get(g, 0))) for g in due}


def claim(
    conn: Conn, *, owner: str, limit: int, now: datetime, lease_seconds: float,
    graph_limits: Mapping[str, int], graph_ids: Sequence[str] | None, lock_prefix: str,
) -> list[Run]:  # fmt: skip
    """Lease up to *limit* due pending runs to *owner* in one transaction, oldest first."""
    if limit <= 0 or (graph_ids is not None and not graph_ids):
        return []
    if not _limited(graph_limits, graph_ids):  # one statement, its own transaction
        rows = _claim_rows(conn, {}, now=now, owner=owner, limit=limit, lease_seconds=lease_seconds,
                           graph_limits=graph_limits, graph_ids=graph_ids)  # fmt: skip
    else:
        with conn.transaction():
            caps = _capacity(conn, now, graph_limits, graph_ids, lock_prefix)
            rows = _claim_rows(conn, caps, now=now, owner=owner, limit=limit,
                               lease_seconds=lease_seconds, graph_limits=graph_limits,
                               graph_ids=graph_ids)  # fmt: skip
    runs = [run_from_row(row) for row in rows]
    runs.sort(key=lambda r: (r.not_before, r.enqueued_at, r.run_id))
    return runs


def _limited(graph_limits: Mapping[str, int], only: Sequence[str] | None) -> list[str]:
    """The limited graphs this claim may touch, sorted (the advisory-lock order)."""
    return sorted(g for g in graph_limits if only is None or g in only)


def _claim_rows(
    conn: Conn, caps: Mapping[str, int], *, now: datetime, owner: str, limit: int,
    lease_seconds: float, graph_limits: Mapping[str, int], graph_ids: Sequence[str] | None,
) -> list[Any]:  # fmt: skip
    """Run the claim statement: unlimited graphs, plus each limited graph up to its cap."""
    open_caps = {g: n for g, n in caps.items() if n > 0}
    params = {
        "now": now, "limited": list(graph_limits), "all": graph_ids is None,
        "only": list(graph_ids or ()), "limit": limit, "owner": owner,
        "cap_g": list(open_caps), "cap_n": list(open_caps.values()),
        "expires": now + timedelta(seconds=lease_seconds),
    }  # fmt: skip
    return conn.execute(_CLAIM, params).fetchall()


# -- leases -----------------------------------------------------------------------------------


def heartbeat(
    conn: Conn, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
) -> tuple[set[str], set[str]]:
    """Extend *owner*'s leases; return ``(still_held, cancel_requested)``."""
    rows = conn.execute(
        "UPDATE runs SET lease_expires_at = %s WHERE status = 'running' AND lease_owner = %s "
        "AND run_id = ANY(%s::text[]) RETURNING run_id, cancel_requested",
        (now + timedelta(seconds=lease_seconds), owner, list(run_ids)),
    ).fetchall()
    return {row[0] for row in rows}, {row[0] for row in rows if row[1]}


_COMPLETE = (
    "UPDATE runs SET status = c.s, result = c.r::jsonb, error_type = c.et, "
    "error_message = c.em, finished_at = %s, lease_owner = NULL, lease_expires_at = NULL "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
    "AS c(id, s, r, et, em) "
    "WHERE runs.run_id = c.id AND runs.status = 'running' AND runs.lease_owner = %s "
    "RETURNING runs.run_id"
)


def complete_many(
    conn: Conn, *, owner: str, completions: Sequence[Completion], now: datetime
) -> set[str]:
    """Record terminal outcomes for the runs *owner* still leases, in one statement."""
    firsts: dict[str, Completion] = {}
    for item in completions:
        if item.status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Completion of run {item.run_id!r} has status {item.status.value!r}; "
                "use succeeded, failed or cancelled"
            )
        firsts.setdefault(item.run_id, item)
    items = list(firsts.values())
    columns = (
        [c.run_id for c in items],
        [c.status.value for c in items],
        [None if c.result is None else dumps(c.result) for c in items],
        [c.error.type if c.error else None for c in items],
        [c.error.message if c.error else None for c in items],
    )
    rows = conn.execute(_COMPLETE, (now, *columns, owner)).fetchall()
    return {row[0] for row in rows}


def retry(
    conn: Conn, *, run_id: str, owner: str, not_before: datetime, error: RunError,
    now: datetime, channel: str,
) -> bool:  # fmt: skip
    """Send *owner*'s run back to pending with ``attempt + 1``; False if the lease was lost."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, not_before = %s, "
            "error_type = %s, error_message = %s, started_at = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE run_id = %s AND status = 'running' "
            "AND lease_owner = %s",
            (not_before, error.type, error.message, run_id, owner),
        )
        if cur.rowcount == 1 and not_before <= now:
            notify(conn, channel)
    return cur.rowcount == 1


def release(conn: Conn, *, owner: str, run_ids: Sequence[str], channel: str) -> int:
    """Return *owner*'s leased runs to pending, attempt unchanged; return how many."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE runs SET status = 'pending', started_at = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE status = 'running' AND lease_owner = %s "
            "AND run_id = ANY(%s::text[])",
            (owner, list(run_ids)),
        )
        if cur.rowcount:
            notify(conn, channel)
    return cur.rowcount


_LEASE_LOST = (
    "'lease of ' || COALESCE(lease_owner, '?') || ' expired before attempt ' || attempt || "
    "' finished (its process stopped or stalled)'"
)
_REQUEUE = (
    "WITH expired AS (SELECT run_id FROM runs WHERE status = 'running' "
    "AND lease_expires_at < %(now)s FOR UPDATE SKIP LOCKED) "
    "UPDATE runs SET "
    "status = CASE WHEN cancel_requested THEN 'cancelled' "
    "WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, "
    "attempt = CASE WHEN cancel_requested OR attempt >= max_attempts THEN attempt "
    "ELSE attempt + 1 END, "
    "finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN %(now)s END, "
    "started_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN started_at END, "
    "error_type = CASE WHEN cancel_requested THEN error_type ELSE 'LeaseExpired' END, "
    f"error_message = CASE WHEN cancel_requested THEN error_message ELSE {_LEASE_LOST} END, "
    "lease_owner = NULL, lease_expires_at = NULL "
    "FROM expired WHERE runs.run_id = expired.run_id RETURNING runs.status"
)


def requeue_expired(conn: Conn, *, now: datetime, channel: str) -> int:
    """Rescue runs whose lease expired: pending with attempt + 1, or failed when exhausted.

    A run whose cancellation was requested ends ``cancelled`` instead of running again.
    ``SKIP LOCKED`` lets several nodes rescue at once without waiting on each other.
    """
    with conn.transaction():
        rows = conn.execute(_REQUEUE, {"now": now}).fetchall()
        if any(row[0] == "pending" for row in rows):
            notify(conn, channel)
    return len(rows)


def request_cancel(conn: Conn, run_id: str, *, now: datetime) -> Run | None:
    """Cancel a pending run at once, flag a running one; return the run as it now stands."""
    with conn.transaction():
        conn.execute(
            "UPDATE runs SET status = CASE status WHEN 'pending' THEN 'cancelled' ELSE status END, "
            "finished_at = CASE status WHEN 'pending' THEN %s ELSE finished_at END, "
            "cancel_requested = CASE status WHEN 'running' THEN true ELSE cancel_requested END "
            "WHERE run_id = %s AND status IN ('pending', 'running')",
            (now, run_id),
        )
        row = conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,))
        found = row.fetchone()
    return None if found is None else run_from_row(found)
