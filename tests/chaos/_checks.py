"""The campaign's invariants, as functions that return what they found (empty: held)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from stargraph.store.base import Run

from ._harness import TimeTrigger


def lost_acks(acks: dict[str, set[str]], runs: list[Run]) -> list[str]:
    """Acknowledged keys missing, stored twice, or stored under another run id."""
    by_key: dict[str, list[Run]] = {}
    for run in runs:
        if run.graph_id == "work":
            by_key.setdefault(run.idempotency_key, []).append(run)
    problems = []
    for key, run_ids in acks.items():
        stored = by_key.get(key, [])
        if len(run_ids) != 1:
            problems.append(f"{key} acknowledged under {len(run_ids)} run ids")
        elif len(stored) != 1:
            problems.append(f"{key} acknowledged, stored {len(stored)} times")
        elif stored[0].run_id not in run_ids:
            problems.append(f"{key} stored as {stored[0].run_id}, acknowledged as {run_ids}")
    return problems


def duplicated(runs: list[Run]) -> int:
    """Runs beyond the first for one (graph, key), and fires beyond the first per trigger."""
    keys = Counter((r.graph_id, r.idempotency_key) for r in runs)
    fires = Counter((r.trigger_id, r.scheduled_fire) for r in runs if r.scheduled_fire)
    return sum(n - 1 for n in keys.values()) + sum(n - 1 for n in fires.values())


def fire_gaps(runs: list[Run], trigger: TimeTrigger, since: datetime, until: datetime) -> list[str]:
    """Planned fires of *trigger* in [since, until) without exactly one run."""
    fires = Counter(r.scheduled_fire for r in runs if r.trigger_id == trigger.trigger_id)
    planned = [f for f in fires if f is not None]
    if not planned:
        return [f"{trigger.trigger_id}: no fire at all"]
    step = timedelta(seconds=trigger.period)
    first = min(planned)
    problems = [f"{trigger.trigger_id} {f:%T.%f} ran {n} times" for f, n in fires.items() if n > 1]
    at = first
    while at < until:
        if at >= since and fires.get(at, 0) == 0:
            problems.append(f"{trigger.trigger_id} {at:%T.%f} never ran")
        at += step
    return problems


def not_terminal(runs: list[Run], *, live_grace: float = 5.0) -> list[Run]:
    """Runs still pending or running, except fires of the last *live_grace* seconds."""
    recent = datetime.now(UTC) - timedelta(seconds=live_grace)
    return [
        r
        for r in runs
        if not r.finished and (r.scheduled_fire is None or r.scheduled_fire < recent)
    ]


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one campaign (dropped afterwards); yields its URL."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"sgchaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(admin_url)
    url = (
        f"postgresql://{params.get('user')}@{params.get('host')}:{params.get('port', 5432)}/{name}"
    )
    try:
        yield url
    finally:
        for _ in range(3):
            try:
                with psycopg.connect(admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.Error:
                time.sleep(1)
