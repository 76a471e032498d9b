"""Value conversions shared by the SQL stores: exact UTC microsecond times, JSON text, run rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from stargraph._json import JSONValue, dumps
from stargraph.store.base import Run, RunError, RunStatus, TriggerState

__all__ = [
    "RUN_COLUMNS",
    "TRIGGER_COLUMNS",
    "from_us",
    "from_us_opt",
    "json_text",
    "run_from_row",
    "to_us",
    "to_us_opt",
    "trigger_from_row",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

#: Column order of every ``SELECT`` that :func:`run_from_row` decodes.
RUN_COLUMNS = (
    "run_id, graph_id, status, idempotency_key, params, trigger_id, trigger_source, "
    "scheduled_fire, enqueued_at, started_at, finished_at, attempt, max_attempts, not_before, "
    "result, error_type, error_message, lease_owner, lease_expires_at, cancel_requested"
)

#: Column order of every ``SELECT`` that :func:`trigger_from_row` decodes.
TRIGGER_COLUMNS = "trigger_id, cursor, paused, note, updated_at"


def to_us(value: datetime) -> int:
    """Return an aware datetime as integer microseconds since the Unix epoch (exact)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware UTC datetime")
    return (value - EPOCH) // _ONE_US


def to_us_opt(value: datetime | None) -> int | None:
    """:func:`to_us`, passing ``None`` through."""
    return None if value is None else to_us(value)


def from_us(value: int) -> datetime:
    """Return microseconds since the epoch as an aware UTC datetime (exact inverse of to_us)."""
    return EPOCH + timedelta(microseconds=value)


# Rows decoded together share instants (a claim's start and lease expiry, a run's enqueue and
# due time): datetimes are immutable, so decoding reuses them.
_from_us_cached = lru_cache(maxsize=4096)(from_us)
_STATUSES = {status.value: status for status in RunStatus}


def from_us_opt(value: int | None) -> datetime | None:
    """:func:`from_us`, passing ``None`` through."""
    return None if value is None else from_us(value)


def json_text(value: JSONValue) -> str | None:
    """Serialise a run result; ``None`` is stored as SQL NULL."""
    return None if value is None else dumps(value)


def run_from_row(row: Sequence[Any]) -> Run:
    """Decode one row selected with :data:`RUN_COLUMNS`."""
    at = _from_us_cached
    error = None if row[15] is None else RunError(type=row[15], message=row[16] or "")
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
    )


def trigger_from_row(row: Sequence[Any]) -> TriggerState:
    """Decode one row selected with :data:`TRIGGER_COLUMNS`."""
    return TriggerState(
        trigger_id=row[0],
        cursor=from_us_opt(row[1]),
        paused=bool(row[2]),
        note=row[3],
        updated_at=from_us_opt(row[4]),
    )
