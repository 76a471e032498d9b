"""Three ``stargraph serve`` processes on one PostgreSQL database: one queue, no leader.

Every node runs the same config (graphs, a per-second cron trigger, two per-second interval
triggers, one of them ``overlap = "skip"`` over a slow graph, and a signed webhook). The
tests talk to the nodes over HTTP and check the outcome in the database.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest

from stargraph.triggers.webhook import sign

from ._cluster import SECRET, Node, write_config

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Cluster:
    def __init__(self, url: str, config: Path, backend: str, nodes: list[Node]) -> None:
        self.url = url
        self.config = config
        self.backend = backend
        self.nodes = nodes


@pytest.fixture(scope="module")
def cluster_db(pg_admin_url: str, anyio_backend: str) -> Iterator[str]:
    """A fresh database per backend, shared by the module's tests."""
    name = f"sgnodes_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def cluster(
    cluster_db: str, anyio_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    config = write_config(tmp_path_factory.mktemp("cluster"))
    nodes = [Node(config, cluster_db, anyio_backend, f"node{i}") for i in range(3)]
    try:
        for node in nodes:
            node.wait_ready()
        yield Cluster(cluster_db, config, anyio_backend, nodes)
    finally:
        for node in nodes:
            node.stop()


async def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    def run() -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute(sql.encode(), params).fetchall()

    return await anyio.to_thread.run_sync(run)


async def wait_rows(
    url: str, sql: str, *params: Any, until: Callable[[list[tuple[Any, ...]]], bool]
) -> list[tuple[Any, ...]]:
    """Poll *sql* until *until(rows)* holds (callers bound this with fail_after)."""
    while True:
        rows = await query(url, sql, *params)
        if until(rows):
            return rows
        await anyio.sleep(0.2)


def all_succeeded(count: int) -> Callable[[list[tuple[Any, ...]]], bool]:
    return lambda rows: len(rows) == count and all(r[1] == "succeeded" for r in rows)


async def test_duplicate_enqueues_from_every_node_make_one_run(cluster: Cluster) -> None:
    keys = [f"dup-{i}" for i in range(15)]
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    async with httpx.AsyncClient(timeout=30) as client:

        async def post(node: Node, key: str) -> None:
            body = {"graph_id": "echo", "idempotency_key": key}
            response = await client.post(f"{node.url}/v1/runs", json=body)
            assert response.status_code == 202, response.text
            answers[key].append(response.json())

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for key in keys:
                    for node in cluster.nodes:
                        tg.start_soon(post, node, key)
    for key in keys:
        assert len({a["run_id"] for a in answers[key]}) == 1, answers[key]
        assert sorted(a["deduplicated"] for a in answers[key]) == [False, True, True]
    with anyio.fail_after(60):
        rows = await wait_rows(
            cluster.url,
            "SELECT run_id, status, attempt FROM runs "
            "WHERE graph_id = 'echo' AND idempotency_key LIKE 'dup-%%'",
            until=all_succeeded(len(keys)),
        )
    assert all(attempt == 1 for _, _, attempt in rows)  # each ran exactly once


def _max_overlap(windows: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    level = peak = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start
        level += step
        peak = max(peak, level)
    return peak


async def test_graph_concurrency_holds_across_nodes(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        with anyio.fail_after(60):
            for i in range(12):
                node = cluster.nodes[i % 3]
                body = {"graph_id": "limited", "idempotency_key": f"lim-{i}",
                        "params": {"sleep": 0.4}}  # fmt: skip
                response = await client.post(f"{node.url}/v1/runs", json=body)
                assert response.status_code == 202, response.text
    with anyio.fail_after(90):
        rows = await wait_rows(
            cluster.url,
            "SELECT run_id, status, result FROM runs WHERE graph_id = 'limited'",
            until=all_succeeded(12),
        )
    windows = [(r[2]["start"], r[2]["end"]) for r in rows]
    assert _max_overlap(windows) == 2  # reached, never exceeded (concurrency = 2)


async def test_every_cron_fire_makes_exactly_one_run(cluster: Cluster) -> None:
    with anyio.fail_after(60):
        await wait_rows(
            cluster.url,
            "SELECT scheduled_fire FROM runs WHERE trigger_id = 'cron:tick'",
            until=lambda rows: len(rows) >= 5,
        )
    rows = await query(
        cluster.url,
        "SELECT scheduled_fire, status, attempt, idempotency_key FROM runs "
        "WHERE trigger_id = 'cron:tick' ORDER BY scheduled_fire",
    )
    fires = [row[0] for row in rows]
    assert len(set(fires)) == len(fires)
    # every planned second from the first fire on has its run: none lost, none doubled
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(fires))
    cursor = await query(
        cluster.url, "SELECT cursor FROM trigger_state WHERE trigger_id = 'cron:tick'"
    )
    assert cursor and cursor[0][0] >= fires[-1]
    finished = [row for row in rows if row[1] in ("succeeded", "failed")]
    assert finished and all(row[1] == "succeeded" and row[2] == 1 for row in finished)


async def test_every_interval_fire_makes_exactly_one_run(cluster: Cluster) -> None:
    with anyio.fail_after(60):
        await wait_rows(
            cluster.url,
            "SELECT scheduled_fire FROM runs WHERE trigger_id = 'interval:tick'",
            until=lambda rows: len(rows) >= 5,
        )
    rows = await query(
        cluster.url,
        "SELECT scheduled_fire, idempotency_key, trigger_source FROM runs "
        "WHERE trigger_id = 'interval:tick' ORDER BY scheduled_fire",
    )
    fires = [row[0] for row in rows]
    assert len(set(fires)) == len(fires)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(fires))
    [(anchor,)] = await query(
        cluster.url, "SELECT anchor FROM trigger_state WHERE trigger_id = 'interval:tick'"
    )
    assert anchor is not None and fires[0] >= anchor  # one anchor, shared by the three nodes
    assert all((f - anchor) % timedelta(seconds=1) == timedelta(0) for f in fires)
    assert {r[1] for r in rows} == {f"interval:interval:tick:{f.isoformat()}" for f in fires}
    assert {r[2] for r in rows} == {"interval"}


async def test_overlap_skip_holds_across_nodes(cluster: Cluster) -> None:
    """A 1 s interval over a 1.5 s graph with ``skip``: never two unfinished runs at once."""
    unfinished = (
        "SELECT count(*) FROM runs WHERE trigger_id = 'interval:skip' "
        "AND status IN ('pending', 'running')"
    )
    succeeded = (
        "SELECT count(*) FROM runs WHERE trigger_id = 'interval:skip' AND status = 'succeeded'"
    )
    [(before,)] = await query(cluster.url, succeeded)
    peak = 0
    with anyio.fail_after(90):
        while True:
            [(count,)] = await query(cluster.url, unfinished)  # one snapshot of the store
            peak = max(peak, count)
            assert count <= 1, f"{count} unfinished runs of interval:skip at once"
            [(done,)] = await query(cluster.url, succeeded)
            if done >= before + 3:  # watched across three more runs
                break
            await anyio.sleep(0.1)
    assert peak == 1  # a run really was unfinished while the checks ran
    rows = await query(
        cluster.url,
        "SELECT scheduled_fire, result FROM runs WHERE trigger_id = 'interval:skip' "
        "AND status = 'succeeded' ORDER BY scheduled_fire",
    )
    windows = [(r[1]["start"], r[1]["end"]) for r in rows]
    assert _max_overlap(windows) == 1
    [(cursor,)] = await query(
        cluster.url, "SELECT cursor FROM trigger_state WHERE trigger_id = 'interval:skip'"
    )
    # fires were skipped (fewer runs than planned seconds) and the cursor moved past them
    planned = int((cursor - rows[0][0]).total_seconds()) + 1
    assert cursor >= rows[-1][0] and len(rows) < planned, (len(rows), planned)


async def test_a_webhook_replay_to_another_node_is_refused(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as client:

        async def deliver(node: Node, body: bytes, headers: dict[str, str]) -> httpx.Response:
            headers = {**headers, "content-type": "application/json"}
            return await client.post(f"{node.url}/v1/webhooks/hook", content=body, headers=headers)

        body = json.dumps({"n": 1}).encode()
        headers = sign("stargraph", SECRET, body)
        with anyio.fail_after(30):
            first = await deliver(cluster.nodes[0], body, headers)
            assert first.status_code == 202, first.text
            replay = await deliver(cluster.nodes[1], body, headers)
        assert replay.status_code == 409, replay.text
        assert replay.json()["error"]["code"] == "duplicate_nonce"

        body = json.dumps({"n": 2}).encode()
        headers = sign("stargraph", SECRET, body)
        codes: list[int] = []

        async def race(node: Node) -> None:
            codes.append((await deliver(node, body, headers)).status_code)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for node in cluster.nodes:
                    tg.start_soon(race, node)
        assert sorted(codes) == [202, 409, 409]
    rows = await query(cluster.url, "SELECT run_id FROM runs WHERE graph_id = 'hook'")
    assert len(rows) == 2


async def test_runs_of_a_killed_node_are_rescued_and_finished_by_the_others(
    cluster: Cluster,
) -> None:
    victim = Node(cluster.config, cluster.url, cluster.backend, "victim")
    try:
        await anyio.to_thread.run_sync(victim.wait_ready)
        owned = f"%:{victim.pid}:%"
        held: list[tuple[Any, ...]] = []
        async with httpx.AsyncClient(timeout=30) as client:
            with anyio.fail_after(60):
                for i in range(40):
                    body = {"graph_id": "slow", "idempotency_key": f"slow-{i}",
                            "params": {"sleep": 3}}  # fmt: skip
                    response = await client.post(f"{victim.url}/v1/runs", json=body)
                    assert response.status_code == 202, response.text
                    held = await query(
                        cluster.url,
                        "SELECT run_id FROM runs WHERE graph_id = 'slow' AND status = 'running' "
                        "AND lease_owner LIKE %s",
                        owned,
                    )
                    if held:
                        break
        assert held, "the victim never claimed a slow run"
        victim.kill()
    finally:
        victim.stop()
    total = len(await query(cluster.url, "SELECT 1 FROM runs WHERE graph_id = 'slow'"))
    with anyio.fail_after(90):
        rows = await wait_rows(
            cluster.url,
            "SELECT run_id, status, attempt, result, interruptions FROM runs "
            "WHERE graph_id = 'slow'",
            until=all_succeeded(total),
        )
    by_id = {row[0]: row for row in rows}
    for (run_id,) in held:
        _, status, attempt, result, interruptions = by_id[run_id]
        assert status == "succeeded" and attempt == 1  # a dead process costs no attempt
        assert interruptions >= 1  # 1 unless a survivor stalled too
        assert result["pid"] in {node.pid for node in cluster.nodes}
