"""The SQLite schema, as numbered migrations applied in one ``BEGIN IMMEDIATE`` transaction.

Times are INTEGER microseconds since the Unix epoch (UTC); params and results are JSON TEXT.
``run_counts`` holds the number of runs per status, kept exact by the store's write paths.
"""

from __future__ import annotations

import sqlite3
import time

from stargraph.store._sql.schema import upgrade

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

_V1 = """
CREATE TABLE runs (
    run_id            TEXT PRIMARY KEY,
    graph_id          TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL,
    status            TEXT NOT NULL,
    params            TEXT NOT NULL,
    trigger_id        TEXT,
    trigger_source    TEXT NOT NULL,
    scheduled_fire    INTEGER,
    enqueued_at       INTEGER NOT NULL,
    not_before        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    attempt           INTEGER NOT NULL DEFAULT 1,
    max_attempts      INTEGER NOT NULL DEFAULT 1,
    result            TEXT,
    error_type        TEXT,
    error_message     TEXT,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (graph_id, idempotency_key)
);
CREATE INDEX runs_due ON runs (not_before, enqueued_at, run_id) WHERE status = 'pending';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX runs_listing ON runs (enqueued_at DESC, run_id DESC);
CREATE INDEX runs_graph_listing ON runs (graph_id, enqueued_at DESC, run_id DESC);
CREATE INDEX runs_failed_listing ON runs (enqueued_at DESC, run_id DESC)
    WHERE status = 'failed';
CREATE INDEX runs_cancelled_listing ON runs (enqueued_at DESC, run_id DESC)
    WHERE status = 'cancelled';
CREATE TABLE trigger_state (
    trigger_id  TEXT PRIMARY KEY,
    cursor      INTEGER,
    paused      INTEGER NOT NULL DEFAULT 0,
    note        TEXT,
    updated_at  INTEGER
);
CREATE TABLE webhook_nonces (
    scope       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
) WITHOUT ROWID;
CREATE INDEX webhook_nonces_expiry ON webhook_nonces (expires_at);
CREATE TABLE run_counts (
    status  TEXT PRIMARY KEY,
    n       INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO run_counts (status, n) VALUES
    ('pending', 0), ('running', 0), ('succeeded', 0), ('failed', 0), ('cancelled', 0);
"""

# v2: interruptions (process death costs no attempt), tracebacks, retry links, earlier attempts.
_V2 = """
ALTER TABLE runs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN max_interruptions INTEGER NOT NULL DEFAULT 3;
ALTER TABLE runs ADD COLUMN retry_of TEXT;
ALTER TABLE runs ADD COLUMN error_traceback TEXT;
CREATE TABLE run_attempts (
    run_id           TEXT NOT NULL,
    attempt          INTEGER NOT NULL,
    interruptions    INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    error_type       TEXT,
    error_message    TEXT,
    error_traceback  TEXT,
    PRIMARY KEY (run_id, attempt, interruptions)
) WITHOUT ROWID;
"""

# Version 3 (issue 12, time): interval anchors, backfill and buffer_one markers, and the index
# the overlap decision reads (unfinished runs of one trigger).
_V3 = """
ALTER TABLE runs ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN buffered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trigger_state ADD COLUMN anchor INTEGER;
CREATE INDEX runs_trigger_unfinished ON runs (trigger_id, status)
    WHERE status IN ('pending', 'running') AND trigger_id IS NOT NULL;
"""

# Version 4 (issue 16, tracing): the W3C trace context of the enqueue, so an attempt claimed
# later or on another node joins the run's trace (NULL when tracing is off); and the index the
# runs list filtered by trigger reads (the console's Runs page: first page fast at 1M runs).
_V4 = """
ALTER TABLE runs ADD COLUMN trace_context TEXT;
CREATE INDEX runs_trigger_listing ON runs (trigger_id, enqueued_at DESC, run_id DESC)
    WHERE trigger_id IS NOT NULL;
"""

#: ``MIGRATIONS[n - 1]`` brings the schema from version ``n - 1`` to ``n``.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


_CREATE = (
    "CREATE TABLE IF NOT EXISTS schema_version "
    "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
)


def _stamp(version: int) -> tuple[str, tuple[int, int]]:
    sql = "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"
    return sql, (version, time.time_ns() // 1000)


def migrate(conn: sqlite3.Connection, path: str) -> tuple[int, int]:
    """Bring the schema to :data:`SCHEMA_VERSION`; return ``(version_before, version_after)``.

    Runs in one ``BEGIN IMMEDIATE`` transaction, so processes opening the same file at once
    serialise here and each sees either no schema or the complete one.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        versions = upgrade(
            conn, MIGRATIONS, create=_CREATE, stamp=_stamp, where=f"SQLite database {path}",
            fix="upgrade Stargraph or point the store URL at another file",
        )  # fmt: skip
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return versions
