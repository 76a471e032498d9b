"""Reads both SQL stores run word for word, over a :class:`Dialect` (blocking, in a worker thread).

Each function takes the backend's connection (``sqlite3.Connection`` or a psycopg connection:
both offer ``execute(sql, params)`` returning a cursor with ``fetchone``/``fetchall``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stargraph.store._sql.dialect import Dialect
from stargraph.store._sql.paging import decode_page_cursor, encode_page_cursor
from stargraph.store._sql.text import ATTEMPT_COLUMNS, RUN_COLUMNS, TRIGGER_COLUMNS
from stargraph.store.base import (
    TERMINAL_STATUSES,
    Attempt,
    Completion,
    Run,
    RunFilter,
    RunPage,
    RunStatus,
    RunTiming,
    TriggerState,
)

__all__ = [
    "finished_since",
    "get_run",
    "get_trigger_state",
    "list_attempts",
    "list_runs",
    "list_trigger_states",
    "unique_terminal",
]


def get_run(conn: Any, d: Dialect, run_id: str) -> Run | None:
    """Return the run with *run_id*, or ``None``."""
    sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = {d.mark}"
    row = conn.execute(sql, (run_id,)).fetchone()
    return None if row is None else d.run_from_row(row)


def list_attempts(conn: Any, d: Dialect, run_id: str) -> list[Attempt]:
    """Return the stored (earlier) attempts of *run_id*, oldest first."""
    sql = (
        f"SELECT {ATTEMPT_COLUMNS} FROM run_attempts WHERE run_id = {d.mark} "
        "ORDER BY attempt, interruptions"
    )
    return [d.attempt_from_row(row) for row in conn.execute(sql, (run_id,)).fetchall()]


def get_trigger_state(conn: Any, d: Dialect, trigger_id: str) -> TriggerState | None:
    """Return one trigger's state, or ``None``."""
    sql = f"SELECT {TRIGGER_COLUMNS} FROM trigger_state WHERE trigger_id = {d.mark}"
    row = conn.execute(sql, (trigger_id,)).fetchone()
    return None if row is None else d.trigger_from_row(row)


def list_trigger_states(conn: Any, d: Dialect) -> list[TriggerState]:
    """Return every trigger's state, ordered by trigger id."""
    rows = conn.execute(f"SELECT {TRIGGER_COLUMNS} FROM trigger_state ORDER BY trigger_id")
    return [d.trigger_from_row(row) for row in rows.fetchall()]


def _where(d: Dialect, flt: RunFilter, cursor: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if flt.status is not None:  # a literal, so the planner can use the per-status indexes
        clauses.append(f"status = '{RunStatus(flt.status).value}'")
    for column, value in (
        ("graph_id", flt.graph_id),
        ("trigger_id", flt.trigger_id),
        ("trigger_source", flt.trigger_source),
    ):
        if value is not None:
            clauses.append(f"{column} = {d.mark}")
            args.append(value)
    for clause, when in (
        ("enqueued_at >=", flt.enqueued_after),
        ("enqueued_at <", flt.enqueued_before),
    ):
        if when is not None:
            clauses.append(f"{clause} {d.mark}")
            args.append(d.time(when))
    if cursor is not None:
        enqueued_at, run_id = decode_page_cursor(cursor)
        clauses.append(f"(enqueued_at, run_id) < ({d.mark}, {d.mark})")
        args += [d.time(enqueued_at), run_id]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_runs(
    conn: Any, d: Dialect, flt: RunFilter, limit: int, cursor: str | None, hint: str = ""
) -> RunPage:
    """Return one page of matching runs, newest first, keyset-paginated.

    *hint* (SQLite's ``INDEXED BY ...``) goes right after the table name.
    """
    where, args = _where(d, flt, cursor)
    rows = conn.execute(
        f"SELECT {RUN_COLUMNS} FROM runs{hint}{where} "
        f"ORDER BY enqueued_at DESC, run_id DESC LIMIT {d.mark}",
        [*args, limit + 1],
    ).fetchall()
    items = [d.run_from_row(row) for row in rows[:limit]]
    last = items[-1] if items and len(rows) > limit else None
    next_cursor = None if last is None else encode_page_cursor(last.enqueued_at, last.run_id)
    return RunPage(items=items, next_cursor=next_cursor)


def finished_since(conn: Any, d: Dialect, since: datetime, limit: int) -> list[RunTiming]:
    """Return the times of up to *limit* runs finished at or after *since*, newest first."""
    rows = conn.execute(
        "SELECT trigger_id, trigger_source, status, scheduled_fire, enqueued_at, started_at, "
        f"finished_at FROM runs WHERE finished_at IS NOT NULL AND finished_at >= {d.mark} "
        f"ORDER BY finished_at DESC LIMIT {d.mark}",
        (d.time(since), limit),
    ).fetchall()
    return [_timing(d, row) for row in rows]


def _timing(d: Dialect, row: Sequence[Any]) -> RunTiming:
    enqueued, finished = d.read_time(row[4]), d.read_time(row[6])
    assert enqueued is not None and finished is not None  # NOT NULL / selected non-null
    return RunTiming(
        trigger_id=row[0], trigger_source=row[1], status=RunStatus(row[2]),
        scheduled_fire=d.read_time(row[3]), enqueued_at=enqueued,
        started_at=d.read_time(row[5]), finished_at=finished,
    )  # fmt: skip


def unique_terminal(completions: Sequence[Completion]) -> list[Completion]:
    """Check every status is terminal; keep the first completion of each run (first wins)."""
    firsts: dict[str, Completion] = {}
    for item in completions:
        if item.status not in TERMINAL_STATUSES:
            raise ValueError(
                f"Completion of run {item.run_id!r} has status {item.status.value!r}; "
                "use succeeded, failed or cancelled"
            )
        firsts.setdefault(item.run_id, item)
    return list(firsts.values())
