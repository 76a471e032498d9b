"""Store fixtures: a fresh store per test, for SQLite and (when available) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _leaks import assert_no_store_leaks

from stargraph.store import RunStore, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A URL for a fresh, empty database of each store kind."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    pytest.importorskip("stargraph.store.postgres", reason="psycopg is not installed")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[RunStore]:
    """An opened store on a fresh database; teardown checks no store left a thread or connection."""
    s = open_store(store_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
    await assert_no_store_leaks(store_url)  # after other_store closed too (it depends on store)


@pytest.fixture
async def other_store(store_url: str, store: RunStore) -> AsyncIterator[RunStore]:
    """A second store on the same database: another "node" of the same deployment."""
    s = open_store(store_url)
    await s.open()
    try:
        yield s
    finally:
        await s.close()
