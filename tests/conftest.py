"""Shared fixtures: the backend matrix, fresh SQLite files, and the local PostgreSQL server."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

BACKENDS = [b for b in os.environ.get("STARGRAPH_TEST_BACKENDS", "asyncio,trio").split(",") if b]
PG_ADMIN_URL = os.environ.get("STARGRAPH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Without pytest-xdist (``-p no:xdist``, or not installed) the suite runs in one process:
    accept and ignore the ``--numprocesses``/``--dist`` that pyproject's addopts passes."""
    if not pluginmanager.has_plugin("xdist"):
        group = parser.getgroup("xdist", "pytest-xdist is off: the tests run in one process")
        group.addoption("--numprocesses", help="ignored without pytest-xdist")
        group.addoption("--dist", help="ignored without pytest-xdist")


@pytest.fixture(scope="module", params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs once per backend (asyncio and trio unless narrowed by env)."""
    return str(request.param)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``main()`` and ``configure_logging`` set handlers, filters and levels: undo per test."""
    names = ("stargraph", "stargraph.access", "hypercorn.error", "hypercorn.access")
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, (handlers, filters, level, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.filters[:], lg.level, lg.propagate = handlers, filters, level, propagate


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A store URL for a fresh SQLite file in the test's own folder."""
    return f"sqlite:///{tmp_path / 'stargraph.db'}"


def _pg_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]'"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True):
            return None
    except psycopg.Error as exc:
        return (
            f"PostgreSQL at {PG_ADMIN_URL} is unreachable ({exc.__class__.__name__}); start it "
            "(.ci/run shows how) or point STARGRAPH_TEST_PG at a server"
        )


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The admin URL of the local PostgreSQL server; skips the test when it is unreachable."""
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    return PG_ADMIN_URL


@pytest.fixture
def postgres_url(pg_admin_url: str) -> Iterator[str]:
    """A store URL for a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"sgtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(pg_admin_url)
    params["dbname"] = name
    url = make_conninfo("", **params)
    host, port, user = params.get("host"), params.get("port", 5432), params.get("user")
    yield f"postgresql://{user}@{host}:{port}/{name}" if "://" in pg_admin_url else url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def xdist_group(nodeid: str) -> str:
    """The xdist work unit (``--dist loadgroup``) of the test *nodeid*: its file, so a
    module's fixtures start once, or ``tests/browser`` for the whole browser folder, whose
    servers and Chromium are per session and stop after its last test (tests/browser/conftest.py).
    """
    path = PurePosixPath(nodeid.split("::", 1)[0])
    return "tests/browser" if path.parent == PurePosixPath("tests/browser") else str(path)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with the groups of :func:`xdist_group`, decided from node ids.

    Not with ``xdist_group`` marks: xdist 3.8 hands a mark to the controller by appending
    ``@name`` to the item's ``_nodeid``, which pytest 9.2 no longer reads (node ids are
    structured), so marks added here at collection were silently ignored and every test was
    scheduled on its own (pytest-dev/pytest-xdist#1386). A test that needs a group of its own
    gets it in :func:`xdist_group`.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class Scheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return Scheduling(config, log)
