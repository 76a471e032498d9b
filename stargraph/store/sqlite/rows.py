"""SQLite values and rows: exact UTC microsecond integers, JSON text, and the store's dialect."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from stargraph.store._sql.dialect import Dialect
from stargraph.store._sql.micros import from_us, from_us_opt, to_us
from stargraph.store.base import Attempt, Run, RunError, RunStatus, TriggerState

__all__ = ["DIALECT", "attempt_from_row", "run_from_row", "trigger_from_row"]

# Rows decoded together share instants (a claim's start and lease expiry, a run's enqueue and
# due time): datetimes are immutable, so decoding reuses them.
_from_us_cached = lru_cache(maxsize=4096)(from_us)
_STATUSES = {status.value: status for status in RunStatus}


def run_from_row(row: Sequence[Any]) -> Run:
    """Decode one row selected with :data:`RUN_COLUMNS`."""
    at = _from_us_cached
    error = RunError.from_columns(row[15], row[16], row[23])
    params = row[4]
    return Run(
        run_id=row[0],
        graph_id=row[1],
        status=_STATUSES[row[2]],
        idempotency_key=row[3],
        params={} if params == "{}" else json.loads(params),
        trigger_id=row[5],
        trigger_source=row[6],
        scheduled_fire=None if row[7] is None else at(row[7]),
        enqueued_at=at(row[8]),
        started_at=None if row[9] is None else at(row[9]),
        finished_at=None if row[10] is None else at(row[10]),
        attempt=row[11],
        max_attempts=row[12],
        not_before=at(row[13]),
        result=None if row[14] is None else json.loads(row[14]),
        error=error,
        lease_owner=row[17],
        lease_expires_at=None if row[18] is None else at(row[18]),
        cancel_requested=bool(row[19]),
        interruptions=row[20],
        max_interruptions=row[21],
        retry_of=row[22],
        backfill=bool(row[24]),
    )


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    """Decode one row selected with :data:`~stargraph.store._sql.text.ATTEMPT_COLUMNS`."""
    return Attempt(
        number=row[0], started_at=from_us_opt(row[1]), finished_at=from_us_opt(row[2]),
        outcome=row[3], error=RunError.from_columns(row[4], row[5], row[6]),
    )  # fmt: skip


def trigger_from_row(row: Sequence[Any]) -> TriggerState:
    """Decode one row selected with :data:`TRIGGER_COLUMNS`."""
    return TriggerState(
        trigger_id=row[0],
        cursor=from_us_opt(row[1]),
        paused=bool(row[2]),
        note=row[3],
        updated_at=from_us_opt(row[4]),
        anchor=from_us_opt(row[5]),
    )


DIALECT = Dialect(
    mark="?", time=to_us, read_time=from_us_opt, run_from_row=run_from_row,
    trigger_from_row=trigger_from_row, attempt_from_row=attempt_from_row,
)  # fmt: skip
