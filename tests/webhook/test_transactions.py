"""One verified webhook delivery costs exactly one store transaction, on SQLite and PostgreSQL.

The run and the replay nonce commit together (DESIGN §5b): the test counts the write
transactions that touch ``runs`` (an insert) or ``webhook_nonces``, as the database saw them.
Claims and completions of the run (updates) are other transactions and are not counted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest

from .conftest import Stack, webhook_stack
from .test_e2e import signed, spec

_DELIVERY_WRITE = re.compile(r"^\s*(INSERT INTO runs|\S+ .*webhook_nonces)", re.I | re.S)


@contextmanager
def sqlite_transactions(st: Stack) -> Iterator[Callable[[], int]]:
    """Trace the store's connection; yield a function counting delivery write transactions."""
    statements: list[str] = []
    lock = threading.Lock()

    def trace(sql: str) -> None:
        with lock:
            statements.append(sql)

    conn: Any = st.store._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(trace)

    def count() -> int:
        with lock:
            seen = list(statements)
        total, in_tx, wrote = 0, False, False
        for sql in seen:
            word = sql.split(None, 1)[0].upper()
            if word == "BEGIN":
                in_tx, wrote = True, False
            elif word in ("COMMIT", "END"):
                total, in_tx = total + wrote, False
            elif _DELIVERY_WRITE.match(sql):
                wrote = True
                total += not in_tx  # an autocommit write is a transaction of its own
        return total

    try:
        yield count
    finally:
        conn.set_trace_callback(None)


_PG_SETUP = """
CREATE TABLE sg_txlog (xid xid8 NOT NULL, tbl text NOT NULL);
CREATE FUNCTION sg_log_tx() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO sg_txlog VALUES (pg_current_xact_id(), TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER sg_runs AFTER INSERT ON runs FOR EACH STATEMENT EXECUTE FUNCTION sg_log_tx();
CREATE TRIGGER sg_nonces AFTER INSERT OR UPDATE OR DELETE ON webhook_nonces
    FOR EACH STATEMENT EXECUTE FUNCTION sg_log_tx();
"""


@contextmanager
def pg_transactions(url: str) -> Iterator[Callable[[], int]]:
    """Log the transaction id of every statement that writes ``runs``/``webhook_nonces``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_PG_SETUP)  # type: ignore[arg-type]

        def count() -> int:
            row = conn.execute("SELECT count(DISTINCT xid) FROM sg_txlog").fetchone()
            return int(row[0]) if row else 0

        yield count


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


async def test_a_verified_delivery_commits_once(store_url: str) -> None:
    sp = spec("stargraph")
    async with webhook_stack(store_url, [sp]) as st:
        counting = (
            sqlite_transactions(st)
            if store_url.startswith("sqlite")
            else pg_transactions(store_url)
        )
        with counting as transactions, anyio.fail_after(20):
            assert transactions() == 0
            body = b'{"count": "commits"}'
            headers = signed("stargraph", body)
            r = await st.post(sp.path, body, headers)
            assert r.status_code == 202 and r.json()["deduplicated"] is False, r.text
            assert transactions() == 1  # run + nonce: one commit (it was two before)
            r = await st.post(sp.path, body, headers)  # a replay: refused in one transaction too
            assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_nonce"
            assert transactions() == 2
            assert await st.run_count() == 1
