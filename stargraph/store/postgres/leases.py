"""Blocking PostgreSQL lease operations: claim, heartbeat, complete, retry, release, rescue, cancel.

Each function takes a pooled connection (autocommit; transactions are explicit) and runs in a
worker thread. Claims use ``FOR UPDATE SKIP LOCKED``; statements work on whole batches through
``unnest`` arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from stargraph._json import dumps
from stargraph.store._sql.text import INTERRUPTED, LEASE_LOST, RUN_COLUMNS
from stargraph.store.base import Completion, Run, RunError, attempt_outcome
from stargraph.store.postgres.enqueue import Notice, notify
from stargraph.store.postgres.exec import Conn
from stargraph.store.postgres.rows import run_from_row
from stargraph.store.postgres.schema import LOCK_NAMESPACE

# No __all__: the public surface is the LeaseSQL/QuerySQL protocol of _sql/base.py.


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
    "AND (NOT buffered OR NOT EXISTS (SELECT 1 FROM runs AS r WHERE r.trigger_id = "
    "runs.trigger_id AND r.status = 'running')) "
    "AND (%(all)s OR graph_id = ANY(%(only)s)) "
    f"{_ORDER} LIMIT %(limit)s FOR UPDATE SKIP LOCKED), "
    "capped AS (SELECT c.run_id, c.not_before, c.enqueued_at "
    "FROM unnest(%(cap_g)s::text[], %(cap_n)s::int[]) AS l(g, n) CROSS JOIN LATERAL "
    "(SELECT run_id, not_before, enqueued_at FROM runs WHERE status = 'pending' "
    "AND graph_id = l.g AND not_before <= %(now)s "
    "AND (NOT buffered OR NOT EXISTS (SELECT 1 FROM runs AS r WHERE r.trigger_id = "
    "runs.trigger_id AND r.status = 'running')) "
    f"{_ORDER} LIMIT l.n "
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
    "error_message = c.em, error_traceback = c.tb, finished_at = %s, lease_owner = NULL, "
    "lease_expires_at = NULL "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) "
    "AS c(id, s, r, et, em, tb) "
    "WHERE runs.run_id = c.id AND runs.status = 'running' AND runs.lease_owner = %s "
    "RETURNING runs.run_id"
)


def complete_many(
    conn: Conn, *, owner: str, completions: Sequence[Completion], now: datetime
) -> set[str]:
    """Record terminal outcomes (one per run) for runs *owner* still leases, in one statement."""
    columns = (
        [c.run_id for c in completions],
        [c.status.value for c in completions],
        [None if c.result is None else dumps(c.result) for c in completions],
        [c.error.type if c.error else None for c in completions],
        [c.error.message if c.error else None for c in completions],
        [c.error.traceback if c.error else None for c in completions],
    )
    rows = conn.execute(_COMPLETE, (now, *columns, owner)).fetchall()
    return {row[0] for row in rows}


def retry(
    conn: Conn, *, run_id: str, owner: str, not_before: datetime, error: RunError,
    now: datetime, notice: Notice,
) -> bool:  # fmt: skip
    """Send *owner*'s run back to pending with ``attempt + 1``; False if the lease was lost.

    The failed attempt is kept as a ``run_attempts`` row in the same transaction.
    """
    outcome = attempt_outcome("failed", error)
    with conn.transaction():
        conn.execute(
            f"INSERT INTO run_attempts ({_ATTEMPT_INSERT}) SELECT run_id, attempt, interruptions, "
            "started_at, %s, %s, %s, %s, %s FROM runs "
            "WHERE run_id = %s AND status = 'running' AND lease_owner = %s FOR UPDATE",
            (now, outcome, error.type, error.message, error.traceback, run_id, owner),
        )
        cur = conn.execute(
            "UPDATE runs SET status = 'pending', attempt = attempt + 1, not_before = %s, "
            "error_type = %s, error_message = %s, error_traceback = %s, started_at = NULL, "
            "lease_owner = NULL, lease_expires_at = NULL WHERE run_id = %s "
            "AND status = 'running' AND lease_owner = %s",
            (not_before, error.type, error.message, error.traceback, run_id, owner),
        )
        if cur.rowcount == 1 and not_before <= now:
            notify(conn, notice)
    return cur.rowcount == 1


def release(conn: Conn, *, owner: str, run_ids: Sequence[str], notice: Notice) -> int:
    """Return *owner*'s leased runs to pending, attempt unchanged; return how many."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE runs SET status = 'pending', started_at = NULL, lease_owner = NULL, "
            "lease_expires_at = NULL WHERE status = 'running' AND lease_owner = %s "
            "AND run_id = ANY(%s::text[])",
            (owner, list(run_ids)),
        )
        if cur.rowcount:
            notify(conn, notice)
    return cur.rowcount


_ATTEMPT_INSERT = (
    "run_id, attempt, interruptions, started_at, finished_at, outcome, error_type, "
    "error_message, error_traceback"
)
_OVER = "interruptions >= max_interruptions"
# One statement: lock the expired runs (SKIP LOCKED), keep each interrupted execution that
# will run again as a run_attempts row (values as they were), then move the runs.
_REQUEUE = (
    "WITH expired AS (SELECT run_id AS id FROM runs WHERE status = 'running' "
    "AND lease_expires_at < %(now)s FOR UPDATE SKIP LOCKED), "
    f"kept AS (INSERT INTO run_attempts ({_ATTEMPT_INSERT}) "
    "SELECT run_id, attempt, interruptions, started_at, %(now)s, 'interrupted', 'LeaseExpired', "
    f"{LEASE_LOST}, NULL FROM runs WHERE run_id IN (SELECT id FROM expired) "
    f"AND NOT cancel_requested AND NOT ({_OVER})) "
    "UPDATE runs SET "
    "status = CASE WHEN cancel_requested THEN 'cancelled' "
    f"WHEN {_OVER} THEN 'failed' ELSE 'pending' END, "
    "interruptions = CASE WHEN cancel_requested THEN interruptions ELSE interruptions + 1 END, "
    f"finished_at = CASE WHEN cancel_requested OR {_OVER} THEN %(now)s END, "
    f"started_at = CASE WHEN cancel_requested OR {_OVER} THEN started_at END, "
    "error_type = CASE WHEN cancel_requested THEN error_type "
    f"WHEN {_OVER} THEN 'Interrupted' ELSE 'LeaseExpired' END, "
    "error_message = CASE WHEN cancel_requested THEN error_message "
    f"WHEN {_OVER} THEN {INTERRUPTED} ELSE {LEASE_LOST} END, "
    "error_traceback = CASE WHEN cancel_requested THEN error_traceback END, "
    "lease_owner = NULL, lease_expires_at = NULL "
    "FROM expired WHERE runs.run_id = expired.id RETURNING runs.graph_id, runs.status"
)


def requeue_expired(conn: Conn, *, now: datetime, notice: Notice) -> list[tuple[str, str]]:
    """Rescue runs whose lease expired: pending with interruptions + 1, or failed past the cap.

    The attempt counter is unchanged (process death costs no attempt); the interrupted
    execution is kept as a ``run_attempts`` row. A run whose cancellation was requested ends
    ``cancelled`` instead of running again. ``SKIP LOCKED`` lets several nodes rescue at once
    without waiting on each other. Returns ``(graph_id, new status)`` per run.
    """
    with conn.transaction():
        rows = conn.execute(_REQUEUE, {"now": now}).fetchall()
        if any(row[1] == "pending" for row in rows):
            notify(conn, notice)
    return [(row[0], row[1]) for row in rows]


def request_cancel(conn: Conn, *, run_id: str, now: datetime) -> Run | None:
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
