"""Scheduler fixtures: a real SQLite store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stargraph.store import RunStore, open_store


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[RunStore]:
    """An opened SQLite store on a fresh file."""
    s = open_store(sqlite_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
