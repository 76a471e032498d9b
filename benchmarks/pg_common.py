"""Shared helpers of the ``pg_*`` benchmarks: a fresh database per measurement, medians.

The server is the one in ``STARGRAPH_TEST_PG`` (default: the local PostgreSQL as ``postgres``).
"""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_URL = os.environ.get("STARGRAPH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_db() -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = f"sgbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def median(values: list[float]) -> float:
    """The median of *values*."""
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """The *pct* percentile (nearest rank) of *values*."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]
