"""URL options, connection errors, the ?schema= option and migrations racing from processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from stargraph.errors import ConfigError, StoreError
from stargraph.store import open_store
from stargraph.store.postgres import PostgresStore
from stargraph.store.postgres.exec import parse_url
from stargraph.store.postgres.schema import SCHEMA_VERSION

from ._helpers import new_run, req

pytestmark = pytest.mark.postgres

TABLES = {"runs", "run_attempts", "trigger_state", "webhook_nonces", "schema_version"}


def test_url_options_are_split_from_libpq_options() -> None:
    s = parse_url(
        "postgresql://u:secret@db.example:6543/app?sslmode=disable&schema=sg"
        "&pool_min_size=2&pool_max_size=7&pool_timeout=2.5"
    )
    assert (s.schema, s.pool_min_size, s.pool_max_size, s.pool_timeout) == ("sg", 2, 7, 2.5)
    assert s.where == "db.example:6543/app"
    assert "schema" not in s.conninfo and "sslmode=disable" in s.conninfo
    spaced = parse_url("postgresql://u@h/db?options=-c%20synchronous_commit%3Doff&schema=x")
    assert "options=-c%20synchronous_commit%3Doff" in spaced.conninfo  # never "+" for a space
    assert "secret" not in repr(s)


@pytest.mark.parametrize(
    ("query", "word"),
    [("pool_max_size=0", "pool_max_size"), ("pool_timeout=soon", "pool_timeout"),
     ("pool_min_size=5&pool_max_size=2", "pool_min_size=5"), ("listen=maybe", "listen"),
     ("schema=" + "s" * 41, "too long")],
)  # fmt: skip
def test_bad_url_options_raise_config_error(query: str, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        PostgresStore(f"postgresql://u@h/db?{query}")


def test_without_psycopg_the_module_import_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # "not installed"
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)
    monkeypatch.delitem(sys.modules, "stargraph.store.postgres")  # restored afterwards
    with pytest.raises(ConfigError, match=r"pip install 'stargraph\[postgres\]'"):
        importlib.import_module("stargraph.store.postgres")


def test_open_store_dispatches_postgres_urls() -> None:
    assert isinstance(open_store("postgres://u@h/db"), PostgresStore)


async def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    store = PostgresStore("postgresql://u:hunter2@127.0.0.1:1/nodb")
    with anyio.fail_after(5), pytest.raises(StoreError) as info:
        await store.open()
    assert "127.0.0.1:1/nodb" in str(info.value) and "hunter2" not in str(info.value)
    with pytest.raises(StoreError, match="not open"):
        await store.ping()


def _tables(admin: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = admin.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchall()
    return {row[0] for row in rows}


async def test_a_bad_libpq_option_fails_fast_with_its_own_message(postgres_url: str) -> None:
    store = PostgresStore(postgres_url + "?options=-c%20no_such_setting%3D1")
    with anyio.fail_after(5), pytest.raises(StoreError, match="no_such_setting"):
        await store.open()


async def test_libpq_options_reach_the_server(postgres_url: str) -> None:
    store = PostgresStore(postgres_url + "?options=-c%20synchronous_commit%3Doff")
    await store.open()
    try:
        value = await store._run(  # the pooled connections carry the option
            lambda conn: conn.execute("SHOW synchronous_commit").fetchone()[0], what="show"
        )
        assert value == "off"
    finally:
        await store.close()


async def test_schema_option_isolates_deployments(
    node_factory: Callable[..., Any], admin: psycopg.Connection[Any]
) -> None:
    plain: PostgresStore = await node_factory()
    other: PostgresStore = await node_factory(schema="tenant_b")
    await plain.enqueue_batch([req(new_run("r1"))])
    outcome = (await other.enqueue_batch([req(new_run("r2", key="key-r1"))]))[0]
    assert not outcome.deduplicated  # same key, another deployment
    assert await other.get_run("r1") is None
    assert _tables(admin, "tenant_b") == TABLES
    assert _tables(admin, "public") == TABLES
    assert other.channel != plain.channel


async def test_a_newer_schema_is_refused(postgres_url: str, admin: psycopg.Connection[Any]) -> None:
    store = PostgresStore(postgres_url)
    await store.open()
    await store.close()
    admin.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        await PostgresStore(postgres_url).open()


@pytest.mark.slow
@pytest.mark.parametrize("schema", [None, "sg_race"])
def test_three_processes_migrating_at_once(
    postgres_url: str, admin: psycopg.Connection[Any], schema: str | None, anyio_backend: str
) -> None:
    url = postgres_url if schema is None else f"{postgres_url}?schema={schema}"
    script = Path(__file__).with_name("_migrate_node.py")
    start_at = time.time() + 1.5  # every process imports first, then all open at once
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(start_at), anyio_backend],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "opened"
    rows = admin.execute(f"SELECT version FROM {schema or 'public'}.schema_version").fetchall()
    assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    assert _tables(admin, schema or "public") == TABLES
