"""SQL text both stores use word for word (the schemas name the columns alike)."""

from __future__ import annotations

__all__ = ["ATTEMPT_COLUMNS", "INTERRUPTED", "LEASE_LOST", "RUN_COLUMNS", "TRIGGER_COLUMNS"]

#: Column order of every ``SELECT`` that a dialect's ``run_from_row`` decodes.
RUN_COLUMNS = (
    "run_id, graph_id, status, idempotency_key, params, trigger_id, trigger_source, "
    "scheduled_fire, enqueued_at, started_at, finished_at, attempt, max_attempts, not_before, "
    "result, error_type, error_message, lease_owner, lease_expires_at, cancel_requested, "
    "interruptions, max_interruptions, retry_of, error_traceback, backfill, trace_context"
)

#: Column order of every ``SELECT`` that a dialect's ``attempt_from_row`` decodes.
ATTEMPT_COLUMNS = (
    "attempt, started_at, finished_at, outcome, error_type, error_message, error_traceback"
)

#: Column order of every ``SELECT`` that a dialect's ``trigger_from_row`` decodes.
TRIGGER_COLUMNS = "trigger_id, cursor, paused, note, updated_at, anchor"

#: The error message of a run whose lease expired (an SQL expression over the run's row).
LEASE_LOST = (
    "'lease of ' || COALESCE(lease_owner, '?') || ' expired before attempt ' || attempt || "
    "' finished (its process stopped or stalled)'"
)

#: The error message of a run failed because it was interrupted once too often (over its row,
#: before ``interruptions`` is incremented).
INTERRUPTED = (
    "'interrupted ' || (interruptions + 1) || ' times (max_interruptions = ' || "
    "max_interruptions || '): its process died or stalled each time (the last lease, of ' || "
    "COALESCE(lease_owner, '?') || ', expired during attempt ' || attempt || '); "
    "if the graph kills its process (out of memory, a crash), fix that, or raise "
    "max_interruptions in [graphs.' || graph_id || ']'"
)
