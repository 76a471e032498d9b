"""PostgreSQL-only fixtures: opened stores ("nodes") on one fresh database, an admin connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")

import psycopg
from _leaks import assert_no_store_leaks

from stargraph.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


def with_options(url: str, **options: Any) -> str:
    """Append Stargraph query options to a store URL."""
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain autocommit connection to the test database (for checks and interference)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
async def node_factory(postgres_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Open PostgresStores on the test database; every one is closed, then nothing may be left."""
    opened: list[PostgresStore] = []

    async def make(**options: Any) -> PostgresStore:
        store = PostgresStore(with_options(postgres_url, **options))
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    await assert_no_store_leaks(postgres_url)


@pytest.fixture
async def node(node_factory: Callable[..., Any]) -> PostgresStore:
    """One opened store."""
    store: PostgresStore = await node_factory()
    return store
