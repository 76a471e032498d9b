"""Runs, triggers and plugins as the JSON the API and the CLI's ``--json`` print."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stargraph.store.base import Attempt, Run, RunError
    from stargraph.triggers.control import TriggerInfo

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "attempt_to_json",
    "error_to_json",
    "iso",
    "plugin_to_json",
    "run_to_json",
    "trigger_to_json",
]

#: Runs per page when no limit is given: ``GET /v1/runs`` and ``stargraph runs list``.
DEFAULT_LIST_LIMIT = 50


def iso(value: datetime | None) -> str | None:
    """Return *value* as ISO-8601 in UTC with an explicit ``+00:00`` offset, or ``None``."""
    return None if value is None else value.astimezone(UTC).isoformat()


def run_to_json(run: Run, attempts: Sequence[Attempt] | None = None) -> dict[str, Any]:
    """Return the API's view of *run* (DESIGN §6 field names, plus a few extras).

    *attempts* (see :func:`~stargraph.store.base.attempt_history`) adds an ``attempts`` list;
    the run list leaves it out to stay light.
    """
    body = {
        "run_id": run.run_id,
        "graph_id": run.graph_id,
        "status": str(run.status),
        "idempotency_key": run.idempotency_key,
        "params": run.params,
        "trigger_id": run.trigger_id,
        "trigger_source": run.trigger_source,
        "scheduled_fire": iso(run.scheduled_fire),
        "not_before": iso(run.not_before),
        "backfill": run.backfill,
        "enqueued_at": iso(run.enqueued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "interruptions": run.interruptions,
        "max_interruptions": run.max_interruptions,
        "retry_of": run.retry_of,
        "cancel_requested": run.cancel_requested,
        "result": run.result,
        "error": error_to_json(run.error),
    }
    if attempts is not None:
        body["attempts"] = [attempt_to_json(item) for item in attempts]
    return body


def error_to_json(error: RunError | None) -> dict[str, Any] | None:
    """Return ``{type, message, traceback}`` (traceback may be null), or ``None``."""
    if error is None:
        return None
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def attempt_to_json(attempt: Attempt) -> dict[str, Any]:
    """Return the API's view of one attempt of a run."""
    return {
        "number": attempt.number,
        "started_at": iso(attempt.started_at),
        "finished_at": iso(attempt.finished_at),
        "outcome": attempt.outcome,
        "error": error_to_json(attempt.error),
    }


def trigger_to_json(info: TriggerInfo, plugin: str, state: str) -> dict[str, Any]:
    """Return the API's view of one trigger id hosted by *plugin* (in *state*)."""
    return {
        "trigger_id": info.trigger_id,
        "plugin": plugin,
        "kind": info.kind,
        "state": state,
        "paused": info.paused,
        "last_fire": iso(info.last_fire),
        "next_fire": iso(info.next_fire),
        "graph_id": info.graph_id,
        "note": info.note,
        "schedule": info.schedule,
        "tz": info.tz,
        "error": info.error,
        "details": dict(info.details),
    }


def plugin_to_json(name: str, state: str, error: str | None) -> dict[str, Any]:
    """Return the API's view of one registered plugin."""
    return {"name": name, "state": state, "error": error}
