"""Teardown leak checks for the store fixtures: no store thread, no PostgreSQL connection left.

Imported as ``_leaks`` by ``tests/store/conftest.py`` and ``tests/postgres/conftest.py``
(pytest puts ``tests/`` on ``sys.path``, the folder above those packages).
"""

from __future__ import annotations

import sys
import threading
import time

import anyio

__all__ = ["assert_no_store_leaks"]

_GRACE = 5.0  # seconds a closing server backend or an exiting thread may take


def store_threads() -> list[str]:
    """Threads still running store code, or a psycopg pool's own threads (named by the pool)."""
    found: list[str] = []
    names = {t.ident: t.name for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        name = names.get(ident, "?")
        if name.startswith("stargraph-"):
            found.append(name)
            continue
        at = frame
        while at is not None:
            if "stargraph/store/" in at.f_code.co_filename.replace("\\", "/"):
                found.append(f"{name} in {at.f_code.co_name}")
                break
            at = at.f_back
    return found


def pg_connections(url: str) -> list[str]:
    """Client connections a store opened (they all set an application_name) to *url*'s db."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    dbname = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND application_name <> ''",
            (dbname,),
        ).fetchall()
    return [str(row[0]) for row in rows]


async def assert_no_store_leaks(url: str) -> None:
    """Wait (bounded) until the closed stores left nothing behind; fail naming what is left."""
    postgres = not url.startswith("sqlite")
    deadline = time.monotonic() + _GRACE
    while True:
        threads = store_threads()
        conns = await anyio.to_thread.run_sync(pg_connections, url) if postgres else []
        if not threads and not conns:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"store fixture teardown: leaked threads {threads}, connections {conns}"
            )
        await anyio.sleep(0.05)
