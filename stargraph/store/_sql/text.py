"""SQL text both stores use word for word (the schemas name the columns alike)."""

from __future__ import annotations

__all__ = ["LEASE_LOST", "RUN_COLUMNS", "TRIGGER_COLUMNS"]

#: Column order of every ``SELECT`` that a dialect's ``run_from_row`` decodes.
RUN_COLUMNS = (
    "run_id, graph_id, status, idempotency_key, params, trigger_id, trigger_source, "
    "scheduled_fire, enqueued_at, started_at, finished_at, attempt, max_attempts, not_before, "
    "result, error_type, error_message, lease_owner, lease_expires_at, cancel_requested, "
    "backfill"
)

#: Column order of every ``SELECT`` that a dialect's ``trigger_from_row`` decodes.
TRIGGER_COLUMNS = "trigger_id, cursor, paused, note, updated_at, anchor"

#: The error message of a run whose lease expired (an SQL expression over the run's row).
LEASE_LOST = (
    "'lease of ' || COALESCE(lease_owner, '?') || ' expired before attempt ' || attempt || "
    "' finished (its process stopped or stalled)'"
)
