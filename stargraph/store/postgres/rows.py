"""PostgreSQL rows (native ``timestamptz`` and ``jsonb`` columns) and the store's dialect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from stargraph.store._sql.dialect import Dialect
from stargraph.store.base import Attempt, Run, RunError, RunStatus, TriggerState

__all__ = ["DIALECT", "attempt_from_row", "run_from_row", "trigger_from_row", "utc"]


def _utc(value: datetime) -> datetime:
    """Return *value* with ``datetime.UTC`` as its tzinfo (the session zone is UTC already)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def utc(value: datetime | None) -> datetime | None:
    """:func:`_utc`, passing ``None`` through."""
    return None if value is None else _utc(value)


def run_from_row(row: Sequence[Any]) -> Run:
    """Decode one row selected with :data:`~stargraph.store._sql.text.RUN_COLUMNS`."""
    error = RunError.from_columns(row[15], row[16], row[23])
    return Run(
        run_id=row[0],
        graph_id=row[1],
        status=RunStatus(row[2]),
        idempotency_key=row[3],
        params=row[4],
        trigger_id=row[5],
        trigger_source=row[6],
        scheduled_fire=utc(row[7]),
        enqueued_at=_utc(row[8]),
        started_at=utc(row[9]),
        finished_at=utc(row[10]),
        attempt=row[11],
        max_attempts=row[12],
        not_before=_utc(row[13]),
        result=row[14],
        error=error,
        lease_owner=row[17],
        lease_expires_at=utc(row[18]),
        cancel_requested=bool(row[19]),
        interruptions=row[20],
        max_interruptions=row[21],
        retry_of=row[22],
        backfill=bool(row[24]),
    )


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    """Decode one row selected with :data:`~stargraph.store._sql.text.ATTEMPT_COLUMNS`."""
    return Attempt(
        number=row[0], started_at=utc(row[1]), finished_at=utc(row[2]), outcome=row[3],
        error=RunError.from_columns(row[4], row[5], row[6]),
    )  # fmt: skip


def trigger_from_row(row: Sequence[Any]) -> TriggerState:
    """Decode one row selected with :data:`~stargraph.store._sql.text.TRIGGER_COLUMNS`."""
    return TriggerState(
        trigger_id=row[0], cursor=utc(row[1]), paused=bool(row[2]), note=row[3],
        updated_at=utc(row[4]), anchor=utc(row[5]),
    )  # fmt: skip


def _same(value: datetime) -> datetime:
    return value


DIALECT = Dialect(
    mark="%s", time=_same, read_time=utc, run_from_row=run_from_row,
    trigger_from_row=trigger_from_row, attempt_from_row=attempt_from_row,
)  # fmt: skip
