"""Schema version 4: a store at version 3 (with runs) is upgraded in place on both stores."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from stargraph.store import open_store
from stargraph.store._sql.schema import upgrade

pytestmark = pytest.mark.anyio

_ROW = (  # a pending run as version 3 stores it
    "INSERT INTO runs (run_id, graph_id, idempotency_key, status, params, trigger_source, "
    "enqueued_at, not_before) VALUES ('old', 'g', 'k', 'pending', '{}', 'manual', {t}, {t})"
)


def _at_v3_sqlite(url: str) -> None:
    from stargraph.store.sqlite import schema

    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    upgrade(conn, schema.MIGRATIONS[:3], create=schema._CREATE, stamp=schema._stamp,
            where="test", fix="none")  # fmt: skip
    conn.execute(_ROW.replace("{t}", "1700000000000000"))
    conn.close()


def _at_v3_postgres(url: str) -> None:
    import psycopg

    from stargraph.store.postgres import schema

    with psycopg.connect(url, autocommit=True) as conn:
        upgrade(conn, schema.MIGRATIONS[:3], create=schema._CREATE, stamp=schema._stamp,
                where="test", fix="none")  # fmt: skip
        conn.execute(_ROW.replace("{t}", "now()"))


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_version_3_is_upgraded_and_its_runs_have_no_trace_context(
    request: pytest.FixtureRequest, kind: str
) -> None:
    url = str(request.getfixturevalue(f"{kind}_url"))
    prepare: Any = {"sqlite": _at_v3_sqlite, "postgres": _at_v3_postgres}[kind]
    prepare(url)
    store = open_store(url)
    await store.open()
    try:
        run = await store.get_run("old")
    finally:
        await store.close()
    assert run is not None and run.trace_context is None and run.status == "pending"
    versions: list[Any]
    if kind == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            versions = conn.execute("SELECT version FROM schema_version").fetchall()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            versions = conn.execute("SELECT version FROM schema_version").fetchall()
    assert [v[0] for v in versions] == [1, 2, 3, 4]
