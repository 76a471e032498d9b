"""The PostgreSQL schema, as numbered migrations applied under a transaction-level advisory lock.

Every node runs :func:`migrate` when it opens the store. The first statement of the migration
transaction takes ``pg_advisory_xact_lock`` on a key derived from the schema name, so nodes that
start at once apply the migrations one after the other: the first applies them, the others then
find the schema current and do nothing. The lock is released by the commit (or the rollback).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from stargraph.store._sql.schema import upgrade

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE runs (
    run_id            text PRIMARY KEY,
    graph_id          text NOT NULL,
    idempotency_key   text NOT NULL,
    status            text NOT NULL CHECK (status IN
                          ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    params            jsonb NOT NULL,
    trigger_id        text,
    trigger_source    text NOT NULL,
    scheduled_fire    timestamptz,
    enqueued_at       timestamptz NOT NULL,
    not_before        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    attempt           integer NOT NULL DEFAULT 1,
    max_attempts      integer NOT NULL DEFAULT 1,
    result            jsonb,
    error_type        text,
    error_message     text,
    lease_owner       text,
    lease_expires_at  timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    CONSTRAINT runs_graph_key UNIQUE (graph_id, idempotency_key)
);
CREATE INDEX runs_due ON runs (not_before, enqueued_at, run_id) WHERE status = 'pending';
CREATE INDEX runs_due_graph ON runs (graph_id, not_before, enqueued_at, run_id)
    WHERE status = 'pending';
CREATE INDEX runs_running_graph ON runs (graph_id) WHERE status = 'running';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_listing ON runs (enqueued_at DESC, run_id DESC);
CREATE INDEX runs_listing_graph ON runs (graph_id, enqueued_at DESC, run_id DESC);
CREATE INDEX runs_listing_failed ON runs (enqueued_at DESC, run_id DESC) WHERE status = 'failed';
CREATE INDEX runs_listing_cancelled ON runs (enqueued_at DESC, run_id DESC)
    WHERE status = 'cancelled';
CREATE INDEX runs_finished ON runs (finished_at, status) WHERE finished_at IS NOT NULL;
CREATE TABLE trigger_state (
    trigger_id  text PRIMARY KEY,
    cursor      timestamptz,
    paused      boolean NOT NULL DEFAULT false,
    note        text,
    updated_at  timestamptz
);
CREATE TABLE webhook_nonces (
    scope       text NOT NULL,
    nonce       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX webhook_nonces_expiry ON webhook_nonces (expires_at);
"""

# v2: interruptions (process death costs no attempt), tracebacks, retry links, earlier attempts.
_V2 = """
ALTER TABLE runs ADD COLUMN interruptions integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN max_interruptions integer NOT NULL DEFAULT 3;
ALTER TABLE runs ADD COLUMN retry_of text;
ALTER TABLE runs ADD COLUMN error_traceback text;
CREATE TABLE run_attempts (
    run_id           text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    attempt          integer NOT NULL,
    interruptions    integer NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz NOT NULL,
    outcome          text NOT NULL,
    error_type       text,
    error_message    text,
    error_traceback  text,
    PRIMARY KEY (run_id, attempt, interruptions)
);
"""

# Version 3 (issue 12, time): interval anchors, backfill and buffer_one markers, and the index
# the overlap decision reads (unfinished runs of one trigger).
_V3 = """
ALTER TABLE runs ADD COLUMN backfill boolean NOT NULL DEFAULT false;
ALTER TABLE runs ADD COLUMN buffered boolean NOT NULL DEFAULT false;
ALTER TABLE trigger_state ADD COLUMN anchor timestamptz;
CREATE INDEX runs_trigger_unfinished ON runs (trigger_id, status)
    WHERE status IN ('pending', 'running') AND trigger_id IS NOT NULL;
"""

# Version 4 (issue 16, tracing): the W3C trace context of the enqueue, so an attempt claimed
# later or on another node joins the run's trace (NULL when tracing is off); and the index the
# runs list filtered by trigger reads (the console's Runs page: first page fast at 1M runs).
_V4 = """
ALTER TABLE runs ADD COLUMN trace_context text;
CREATE INDEX runs_trigger_listing ON runs (trigger_id, enqueued_at DESC, run_id DESC)
    WHERE trigger_id IS NOT NULL;
"""

#: ``MIGRATIONS[n - 1]`` brings the schema from version ``n - 1`` to ``n``.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)

#: First key of every advisory lock Stargraph takes (the two-int form); the second is a hash.
LOCK_NAMESPACE = 0x5347  # "SG"


_CREATE = (
    "CREATE TABLE IF NOT EXISTS schema_version "
    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)


def _stamp(version: int) -> tuple[str, tuple[int]]:
    return "INSERT INTO schema_version (version) VALUES (%s)", (version,)


def migrate(conn: psycopg.Connection[tuple[object, ...]], schema: str | None) -> tuple[int, int]:
    """Bring the schema to :data:`SCHEMA_VERSION`; return ``(version_before, version_after)``.

    Runs in one transaction behind ``pg_advisory_xact_lock``, so nodes starting at once apply
    each migration exactly once and each sees either no schema or the complete one.
    """
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (LOCK_NAMESPACE, f"migrate:{schema or ''}"),
        )
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        return upgrade(
            conn, MIGRATIONS, create=_CREATE, stamp=_stamp,
            where=f"PostgreSQL schema {schema or 'public'!r}",
            fix="upgrade Stargraph on every node, or point the store URL at another database "
            "or ?schema=",
        )  # fmt: skip
