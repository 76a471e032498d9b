"""SQLite-specific behaviour: URLs, pragmas, migrations, several processes on one file."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stargraph.errors import ConfigError, InvalidCursor, StoreError
from stargraph.store import Run, RunFilter, RunStatus, RunStore, open_store
from stargraph.store._sql.micros import from_us, to_us
from stargraph.store._sql.paging import decode_page_cursor, encode_page_cursor
from stargraph.store.sqlite import SQLiteStore, parse_sqlite_url
from stargraph.store.sqlite.schema import SCHEMA_VERSION
from stargraph.store.sqlite.tx import insert_rows

from ._helpers import at, new_run, req

WORKER = Path(__file__).with_name("_worker.py")


# -- URLs ---------------------------------------------------------------------------------------


def test_url_forms() -> None:
    assert parse_sqlite_url("sqlite:///stargraph.db").path == "stargraph.db"
    assert parse_sqlite_url("sqlite:///./data/x.db").path == "./data/x.db"
    assert parse_sqlite_url("sqlite:////var/lib/sg.db").path == "/var/lib/sg.db"
    assert parse_sqlite_url("sqlite:///my%20runs.db").path == "my runs.db"
    opts = parse_sqlite_url("sqlite:///x.db?synchronous=NORMAL&busy_timeout=250")
    assert (opts.synchronous, opts.busy_timeout_ms) == ("normal", 250)
    default = parse_sqlite_url("sqlite:///x.db")
    assert (default.synchronous, default.busy_timeout_ms) == ("full", 5000)


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("sqlite://x.db", "sqlite:///relative"),
        ("sqlite:///", "sqlite:///relative"),
        ("sqlite:///x.db?synchronous=off", "synchronous='off'"),
        ("sqlite:///x.db?busy_timeout=soon", "busy_timeout='soon'"),
        ("sqlite:///x.db?journal=delete", "journal"),
    ],
)
def test_bad_urls_name_the_problem(url: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("?", r"\?")):
        parse_sqlite_url(url)


def test_open_store_dispatches_on_scheme() -> None:
    assert isinstance(open_store("sqlite:///x.db"), SQLiteStore)
    with pytest.raises(ConfigError, match="Unsupported store URL 'mysql://u:\\*\\*\\*@h/db'"):
        open_store("mysql://u:secret@h/db")
    with pytest.raises(ConfigError):
        open_store("stargraph.db")
    postgres = pytest.importorskip("stargraph.store.postgres")
    for url in ("postgresql://u@h:5432/db", "postgres://u@h/db"):
        assert isinstance(open_store(url), postgres.PostgresStore)  # not connected yet


async def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'nope' / 'x.db'}")
    with pytest.raises(StoreError, match="does not exist"):
        await store.open()


async def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database, just notes\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.db"):
        await open_store(f"sqlite:///{tmp_path / 'notes.db'}").open()


async def test_call_before_open_is_a_clear_error(sqlite_url: str) -> None:
    with pytest.raises(StoreError, match="not open"):
        await open_store(sqlite_url).get_run("r1")


# -- file settings and schema -------------------------------------------------------------------


def _path(url: str) -> str:
    return parse_sqlite_url(url).path


async def test_pragmas_and_contract_tables(sqlite_url: str) -> None:
    for query, expected in (("", 2), ("?synchronous=normal", 1)):
        store = SQLiteStore(sqlite_url + query)
        await store.open()
        conn = store._conn
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == expected
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        await store.close()
    with sqlite3.connect(_path(sqlite_url)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
    assert {"runs", "trigger_state", "webhook_nonces", "schema_version"} <= names
    # each migration applied once, not again on the second open
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


async def test_newer_schema_is_refused(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    await store.close()
    with sqlite3.connect(_path(sqlite_url)) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        await open_store(sqlite_url).open()


async def test_data_survives_reopen(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    await store.enqueue_batch([req(new_run("r1", params={"x": 1}))])
    await store.close()
    await store.open()  # the same object opens again after close
    assert await store.get_run("r1") is not None
    await store.close()
    store = open_store(sqlite_url)
    await store.open()
    run = await store.get_run("r1")
    await store.close()
    assert run is not None and run.params == {"x": 1} and run.enqueued_at == at(0)


async def test_cancelled_caller_leaves_the_store_usable(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.enqueue_batch([req(new_run("r1"))])
    assert scope.cancelled_caught
    await store.enqueue_batch([req(new_run("r2"))])
    assert await store.get_run("r2") is not None
    await store.close()


async def test_open_under_cancellation_does_not_lose_the_connection(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.open()  # shielded: completes, so no connection is left behind unowned
        await anyio.sleep(1)  # the cancellation lands at the next checkpoint
    assert scope.cancelled_caught
    await store.ping()
    await store.close()


async def test_naive_datetime_is_refused(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    await store.open()
    with pytest.raises(ValueError, match="naive datetime"):
        await store.next_due() or await store.prune(finished_before=datetime(2026, 1, 1))
    await store.close()


# -- value encodings ----------------------------------------------------------------------------

_aware = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(_aware)
def test_times_round_trip_exactly(value: datetime) -> None:
    assert from_us(to_us(value)) == value
    assert to_us(value + timedelta(microseconds=1)) == to_us(value) + 1


@given(_aware, st.text(min_size=1))
def test_page_cursor_round_trips(value: datetime, run_id: str) -> None:
    assert decode_page_cursor(encode_page_cursor(value, run_id)) == (value, run_id)


def test_forged_cursor_is_refused() -> None:
    import base64

    forged = base64.urlsafe_b64encode(b"v9:12:r1").decode()
    for bad in (forged, "", "%%%", base64.urlsafe_b64encode(b"v1:x:r1").decode()):
        with pytest.raises(InvalidCursor, match="next_cursor"):
            decode_page_cursor(bad)


# -- multi-row writes ---------------------------------------------------------------------------

_UPSERT = (
    "INSERT INTO t (k, v, n) VALUES (?, ?, 1) "
    "ON CONFLICT (k) DO UPDATE SET v = MAX(v, excluded.v), n = n + 1"
)


def _table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, n INTEGER)")
    return conn


@given(st.lists(st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 99)), max_size=600))
def test_insert_rows_does_what_executemany_does(rows: list[tuple[str, int]]) -> None:
    plain, multi = _table(), _table()
    for sql in (_UPSERT, _UPSERT.partition(" ON CONFLICT")[0] + " ON CONFLICT DO NOTHING"):
        expected = plain.executemany(sql, rows).rowcount
        assert insert_rows(multi, sql, rows) == expected
        query = "SELECT k, v, n FROM t ORDER BY k"
        assert multi.execute(query).fetchall() == plain.execute(query).fetchall()


def test_insert_rows_stays_under_the_bound_variable_limit() -> None:
    conn = _table()
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 20)  # 6 rows of 3 at most
    rows = [(f"k{i}", i) for i in range(300)]
    assert insert_rows(conn, _UPSERT, rows) == 300
    assert conn.execute("SELECT COUNT(*), SUM(v) FROM t").fetchone() == (300, sum(range(300)))


def test_insert_rows_needs_a_values_group() -> None:
    with pytest.raises(ValueError, match="VALUES"):
        insert_rows(_table(), "INSERT INTO t SELECT ?, 1, 1", [("a",)])


# -- several processes on one file --------------------------------------------------------------


def _spawn(url: str, owner: str, backend: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, owner, backend],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _run_workers(url: str, count: int) -> list[list[str]]:
    """Start *count* workers, release them together, and return what each claimed."""
    procs = [_spawn(url, f"proc-{i}", ("asyncio", "trio")[i % 2]) for i in range(count)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0] * count
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


async def test_processes_sharing_a_file_never_claim_a_run_twice(sqlite_url: str) -> None:
    total = 600
    store = open_store(sqlite_url)
    await store.open()
    past = datetime.now(UTC) - timedelta(minutes=1)
    runs = [
        attrs.evolve(new_run(f"r{i:04}"), enqueued_at=past, not_before=past) for i in range(total)
    ]
    await store.enqueue_batch([req(r) for r in runs])
    with anyio.fail_after(90):
        claimed = await anyio.to_thread.run_sync(_run_workers, sqlite_url, 3)
    everything = [run_id for part in claimed for run_id in part]
    assert len(everything) == len(set(everything)) == total
    assert sum(1 for part in claimed if part) >= 2, "the workers did not overlap"
    counts = await store.count_by_status()
    await store.close()
    assert counts[RunStatus.succeeded] == total


async def test_processes_opening_a_fresh_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with anyio.fail_after(90):
        claimed = await anyio.to_thread.run_sync(_run_workers, url, 4)
    assert claimed == [[]] * 4
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        versions = conn.execute("SELECT version FROM schema_version").fetchall()
        assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


# -- run_counts stays exact -----------------------------------------------------------------------


async def test_status_counts_match_the_rows_after_every_kind_of_write(sqlite_url: str) -> None:
    from stargraph.store import Completion, RunError

    store = open_store(sqlite_url)
    await store.open()
    err = RunError(type="E", message="m")
    runs = [new_run(f"r{i:02}", enqueued=i, max_attempts=1 + i % 2) for i in range(20)]
    await store.enqueue_batch([req(r) for r in runs] + [req(new_run("dup", key="key-r00"))])
    claimed = [r.run_id for r in await _claim(store, 12, now=100)]
    done = [Completion(run_id=i, status=RunStatus.succeeded) for i in claimed[:4]]
    done += [Completion(run_id=claimed[4], status=RunStatus.failed, error=err)] * 2
    done += [Completion(run_id="r19", status=RunStatus.succeeded)]  # not leased: ignored
    await store.complete_many(owner="a", completions=done, now=at(101))
    await store.retry(run_id=claimed[5], owner="a", not_before=at(102), error=err, now=at(101))
    await store.release(owner="a", run_ids=[claimed[6], claimed[6], "r19"], now=at(101))
    await store.request_cancel(claimed[7], now=at(101))
    await store.request_cancel("r19", now=at(101))
    await store.requeue_expired(now=at(500))  # cancelled, failed, or pending again
    await store.prune(finished_before=at(102))
    counts = await store.count_by_status()
    await store.close()
    with sqlite3.connect(_path(sqlite_url)) as conn:
        actual = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))
    assert {s.value: n for s, n in counts.items() if n} == actual
    assert sum(counts.values()) < 20  # the prune deleted some


async def _claim(store: RunStore, limit: int, now: float) -> list[Run]:
    return await store.claim(owner="a", limit=limit, now=at(now), lease_seconds=30, graph_limits={})


async def test_prune_works_through_a_backlog_in_chunks(sqlite_url: str) -> None:
    from stargraph.store import Completion
    from stargraph.store.sqlite.queries import PRUNE_CHUNK

    total = PRUNE_CHUNK + PRUNE_CHUNK // 2
    store = open_store(sqlite_url)
    await store.open()
    await store.enqueue_batch([req(new_run(f"r{i:05}")) for i in range(total + 3)])
    claimed = await _claim(store, total, now=1)
    done = [Completion(run_id=r.run_id, status=RunStatus.succeeded) for r in claimed]
    assert len(await store.complete_many(owner="a", completions=done, now=at(2))) == total
    assert await store.prune(finished_before=at(3)) == total
    counts = await store.count_by_status()
    await store.close()
    assert counts[RunStatus.succeeded] == 0 and counts[RunStatus.pending] == 3


# -- crash durability -------------------------------------------------------------------------


def _enqueue_then_kill(url: str, seconds: float) -> int:
    """Run the enqueuer, SIGKILL it after *seconds*, return the last acknowledged run index."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_enqueuer.py")), url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(seconds)
    finally:
        proc.kill()
    out, _ = proc.communicate(timeout=30)
    acks = [line.split() for line in out.splitlines() if line.startswith("ack ")]
    return int(acks[-1][2]) if acks else -1


@pytest.mark.parametrize("synchronous", ["full", "normal"])
async def test_acknowledged_runs_survive_sigkill(sqlite_url: str, synchronous: str) -> None:
    url = f"{sqlite_url}?synchronous={synchronous}"
    with anyio.fail_after(60):
        last = await anyio.to_thread.run_sync(_enqueue_then_kill, url, random.uniform(0.4, 1.2))
    assert last >= 49, "the child acknowledged nothing before it was killed"
    store = open_store(url)
    await store.open()
    try:
        for i in (0, last // 2, last):
            run = await store.get_run(f"r{i:06}")
            assert run is not None and run.params == {"i": i}
        counts = await store.count_by_status()
        page = await store.list_runs(RunFilter(), limit=1, cursor=None)
    finally:
        await store.close()
    assert counts[RunStatus.pending] >= last + 1  # every acknowledged run, maybe a batch more
    assert counts[RunStatus.pending] % 50 == 0  # whole batches only: nothing half-committed
    assert page.items[0].run_id == f"r{counts[RunStatus.pending] - 1:06}"


async def test_status_listing_is_the_same_through_either_index(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stargraph.store.sqlite import queries as _sqlite_queries

    store = open_store(sqlite_url)
    await store.open()
    await store.enqueue_batch([req(new_run(f"r{i:02}", enqueued=i % 7)) for i in range(30)])
    await _claim(store, 5, now=100)

    async def pages(status: RunStatus) -> list[str]:
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await store.list_runs(RunFilter(status=status), limit=4, cursor=cursor)
            seen += [r.run_id for r in page.items]
            if (cursor := page.next_cursor) is None:
                return seen

    sorted_small = await pages(RunStatus.pending)  # sorts the claim index (small backlog)
    monkeypatch.setattr(_sqlite_queries, "_SORT_PENDING_UP_TO", 0)
    scanned = await pages(RunStatus.pending)  # scans newest-first (large backlog)
    running = await pages(RunStatus.running)
    await store.close()
    assert sorted_small == scanned and len(scanned) == 25
    assert len(running) == 5 and not set(running) & set(scanned)


async def test_a_write_queued_behind_a_closing_store_fails_with_store_error(
    sqlite_url: str,
) -> None:
    """The group's next leader finds the store closed: StoreError, never a stopped thread's."""
    store = SQLiteStore(sqlite_url)
    await store.open()
    entered = threading.Event()

    def slow(conn: sqlite3.Connection) -> int:
        entered.set()
        time.sleep(0.2)
        return 1

    results: list[object] = []

    async def write(fn: Any) -> None:
        try:
            results.append(await store._run(fn, what="test", write=True))
        except Exception as exc:
            results.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, slow)
        await anyio.to_thread.run_sync(entered.wait, 5)
        tg.start_soon(write, lambda conn: 2)  # queued while the first commits
        await anyio.wait_all_tasks_blocked()
        await store.close()
    assert results[0] == 1
    assert isinstance(results[1], StoreError) and "not open" in str(results[1])
