"""`stargraph serve` processes: kill -9 mid-stream and restart, and two nodes on PostgreSQL.

Every published message must end as exactly one run: none lost, none twice.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from .brokers import URLS, body

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_procs import Proc, free_port  # the conftest provides the ``spawn`` fixture

pytestmark = pytest.mark.slow
N = 200
EXE = str(Path(sys.executable).with_name("stargraph"))
CONFIG = """
[store]
url = "{store}"
[serve]
graceful_timeout = 2
[graphs.on_message]
target = "queue_graphs:noop"
[[queue]]
trigger_id = "queue:test"
kind = "{kind}"
url_env = "TEST_BROKER_URL"
source = "{source}"
graph_id = "on_message"
max_in_flight = 32
redeliver_seconds = 1
"""


def _serve(spawn: Any, tmp_path: Path, kind: str, node: str) -> tuple[Proc, str]:
    port = free_port()
    env = {"TEST_BROKER_URL": URLS[kind], "STARGRAPH_NODE_ID": node}
    argv = [EXE, "serve", "--config", str(tmp_path / "stargraph.toml")]
    proc = spawn([*argv, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], env=env)
    url = f"http://127.0.0.1:{port}"
    proc.wait_ready(url)
    _wait(lambda: _connected(url), 20, "the queue trigger did not connect")
    return proc, url


def _connected(url: str) -> bool:
    items = httpx.get(f"{url}/v1/triggers", timeout=5).json()["items"]
    return any(i["trigger_id"] == "queue:test" and i["details"]["connected"] for i in items)


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.05)


def _setup(tmp_path: Path, kind: str, source: str, store: str) -> None:
    (tmp_path / "queue_graphs.py").write_text("def noop(params, ctx):\n    return None\n")
    cfg = CONFIG.format(store=store, kind=kind, source=source)
    (tmp_path / "stargraph.toml").write_text(cfg)


def _publish_slowly(broker: Any, start: int, stop: int) -> threading.Thread:
    def run() -> None:
        helper = broker.publisher()  # its own connection: clients are not shared across threads
        try:
            for i in range(start, stop):
                helper.publish(body(i=i))
                time.sleep(0.005)
        finally:
            helper.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _sqlite_params(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT params FROM runs WHERE graph_id = 'on_message'").fetchall()
    return sorted(json.loads(p)["i"] for (p,) in rows)


def test_kill_9_mid_stream_then_restart_loses_nothing_and_runs_nothing_twice(
    broker: Any, spawn: Any, tmp_path: Path
) -> None:
    db = tmp_path / "runs.db"
    _setup(tmp_path, broker.kind, broker.source, f"sqlite:///{db}")
    first, _url = _serve(spawn, tmp_path, broker.kind, "node-a")
    publisher = _publish_slowly(broker, 0, N)
    _wait(lambda: len(_sqlite_params(db)) >= 30, 20, "30 runs were not committed")
    first.popen.kill()  # SIGKILL mid-stream: commits and acks are cut wherever they are
    first.popen.wait(10)
    publisher.join(30)
    second, _url = _serve(
        spawn, tmp_path, broker.kind, "node-a" if broker.kind == "mqtt" else "node-b"
    )
    _wait(lambda: len(_sqlite_params(db)) >= N, 30, f"{N} runs were not committed")
    _wait(lambda: broker.unacked() == 0, 20, "the broker still holds unacked messages")
    assert second.terminate() == 0
    assert _sqlite_params(db) == list(range(N))


@pytest.mark.postgres
@pytest.mark.parametrize("broker", ["redis-stream"], indirect=True)
def test_two_nodes_on_one_postgres_store_make_one_run_per_message(
    broker: Any, spawn: Any, tmp_path: Path, postgres_url: str
) -> None:
    _setup(tmp_path, broker.kind, broker.source, postgres_url)
    a, _ = _serve(spawn, tmp_path, broker.kind, "node-a")
    b, _ = _serve(spawn, tmp_path, broker.kind, "node-b")
    broker.publish_many([body(i=i) for i in range(N)])
    import psycopg

    def params() -> list[int]:
        with psycopg.connect(postgres_url) as conn:
            rows = conn.execute("SELECT params FROM runs").fetchall()
        return sorted((p if isinstance(p, dict) else json.loads(p))["i"] for (p,) in rows)

    _wait(lambda: len(params()) >= N, 30, f"{N} runs were not committed")
    _wait(lambda: broker.unacked() == 0, 20, "the broker still holds unacked messages")
    assert a.terminate() == 0 and b.terminate() == 0
    assert params() == list(range(N))
