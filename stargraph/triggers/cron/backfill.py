"""Backfill: enqueue one run per planned fire of a cron or interval trigger in a time range.

Each run gets the key the live fire would have had (``fire_key``), so fires that already ran
are deduplicated and nothing runs twice. The overlap policy does not apply; runs are marked
``backfill`` (``trigger_source`` stays the trigger's kind); a future instant in the range waits
until its instant (``not_before``). See ``docs/time.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import attrs

from stargraph.errors import InvalidParams
from stargraph.store.base import EnqueueRequest, NewRun, RunStore
from stargraph.triggers.cron.interval import TimeSpec
from stargraph.triggers.cron.loop import fire_key
from stargraph.triggers.cron.policy import next_fire
from stargraph.triggers.cron.schedule import from_epoch, to_epoch

__all__ = ["BACKFILL_LIMIT", "DRY_RUN_LIST", "Backfill", "plan_fires", "run_backfill"]

BACKFILL_LIMIT = 10_000  # planned fires per call at most
DRY_RUN_LIST = 1_000  # instants a dry run lists at most
_CHUNK = 500  # runs per enqueue transaction


@attrs.frozen(kw_only=True)
class Backfill:
    """The outcome of one backfill call (``instants`` only for a dry run)."""

    planned: int
    enqueued: int = 0
    deduplicated: int = 0
    first: datetime | None = None
    last: datetime | None = None
    instants: tuple[datetime, ...] | None = None


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidParams(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def plan_fires(spec: TimeSpec, start: datetime, end: datetime) -> list[int]:
    """Planned fires of *spec* in [start, end] (epoch seconds); InvalidParams when the range is
    inverted or holds more than :data:`BACKFILL_LIMIT` fires."""
    start, end = _aware(start, "from"), _aware(end, "to")
    if start > end:
        raise InvalidParams(
            f"from {start.isoformat()} is after to {end.isoformat()}; give an inclusive range"
        )
    fires: list[int] = []
    f, top = next_fire(spec, to_epoch(start) - 1), to_epoch(end)
    while f is not None and f <= top:
        if len(fires) == BACKFILL_LIMIT:
            raise InvalidParams(
                f"the range {start.isoformat()}..{end.isoformat()} holds more than "
                f"{BACKFILL_LIMIT} planned fires of {spec.trigger_id!r} (the limit per call); "
                "split it into smaller ranges"
            )
        fires.append(f)
        f = next_fire(spec, f)
    return fires


async def run_backfill(
    spec: TimeSpec,
    fires: list[int],
    *,
    store: RunStore,
    now: datetime,
    max_attempts: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Backfill:
    """Enqueue a run per fire in chunks (one transaction each); count new and deduplicated."""
    enqueued = deduplicated = 0
    for start in range(0, len(fires), _CHUNK):
        requests = [_request(spec, f, now, max_attempts) for f in fires[start : start + _CHUNK]]
        for outcome in await store.enqueue_batch(requests):
            deduplicated += outcome.deduplicated
            enqueued += not outcome.deduplicated
        progress(min(start + _CHUNK, len(fires)), len(fires))
    return Backfill(
        planned=len(fires),
        enqueued=enqueued,
        deduplicated=deduplicated,
        first=from_epoch(fires[0]) if fires else None,
        last=from_epoch(fires[-1]) if fires else None,
    )


def _request(spec: TimeSpec, fire: int, now: datetime, max_attempts: int) -> EnqueueRequest:
    when = from_epoch(fire)
    run = NewRun(
        run_id=uuid.uuid4().hex,
        graph_id=spec.graph_id,
        idempotency_key=fire_key(spec.trigger_id, fire, kind=spec.kind),
        params=dict(spec.params),
        trigger_id=spec.trigger_id,
        trigger_source=spec.kind,
        scheduled_fire=when,
        enqueued_at=now,
        not_before=max(now, when),
        max_attempts=max_attempts,
        backfill=True,
    )
    return EnqueueRequest(run=run)


def dry_run(fires: list[int]) -> Backfill:
    """The plan only: the full count and at most :data:`DRY_RUN_LIST` instants."""
    return Backfill(
        planned=len(fires),
        first=from_epoch(fires[0]) if fires else None,
        last=from_epoch(fires[-1]) if fires else None,
        instants=tuple(from_epoch(f) for f in fires[:DRY_RUN_LIST]),
    )
