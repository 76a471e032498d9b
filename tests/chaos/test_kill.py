"""kill -9 of ``stargraph serve`` at random instants under an enqueue load and 1-second fires.

One campaign per backend and store: SQLite with one node, PostgreSQL with three nodes on one
database (one node killed at a time). The campaign runs once per module and backend; each test
below checks one invariant of its outcome, so a failure names the invariant it broke.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from stargraph.store.base import Run

from ._checks import duplicated, fire_gaps, lost_acks, not_terminal, pg_database
from ._harness import (
    TIME_TRIGGERS,
    Load,
    Node,
    one_backend_in_ci,
    read_runs,
    report,
    seeded,
    size,
    wait_drained,
    write_project,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(size().timeout)]


@attrs.frozen
class Campaign:
    """What one campaign did and what the store holds afterwards."""

    label: str
    seed: int
    kills: int
    codes: dict[str, int]
    acks: dict[str, set[str]]
    runs: list[Run]
    drained: list[Run]
    since: datetime
    until: datetime

    def context(self) -> str:
        return (
            f"{self.label} seed={self.seed} kills={self.kills} acked={len(self.acks)} "
            f"runs={len(self.runs)} answers={dict(self.codes)}"
        )


def run_campaign(label: str, nodes: Sequence[Node], store_url: str, rounds: int) -> Campaign:
    """Start *nodes*, kill one at random instants *rounds* times under load, drain, stop."""
    seed, rng = seeded(label)
    t0 = time.monotonic()
    for node in nodes:
        node.start(wait=False)
    for node in nodes:
        node.wait_ready()
    t1 = time.monotonic()
    since = datetime.now(UTC)
    try:
        with Load([n.url for n in nodes], seed) as load:
            for _ in range(rounds):
                victim = rng.choice(list(nodes))
                victim.wait_ready()  # a node restarted last round may still be starting
                time.sleep(rng.uniform(0.3, 2.5))
                victim.kill9()
                time.sleep(rng.uniform(0.0, 1.5))  # down across zero, one or two fires
                victim.start(wait=len(nodes) == 1)  # the others serve while it starts
            for node in nodes:
                node.wait_ready()
            time.sleep(1.0)
        t2 = time.monotonic()
        drained = wait_drained(store_url, nodes)
        until = datetime.now(UTC) - timedelta(seconds=2)
    finally:
        t3 = time.monotonic()
        for node in nodes:
            node.signal_stop()
        for node in nodes:
            node.stop()
    print(
        f"chaos {label}: start {t1 - t0:.1f}s kills {t2 - t1:.1f}s drain {t3 - t2:.1f}s "
        f"stop {time.monotonic() - t3:.1f}s"
    )
    campaign = Campaign(
        label, seed, rounds, dict(load.codes), dict(load.acks), read_runs(store_url), drained,
        since, until,
    )  # fmt: skip
    print(f"chaos {campaign.context()}")
    fires = [r for r in campaign.runs if r.scheduled_fire is not None]
    report(
        label, kills=rounds, nodes=len(nodes), requests=sum(load.codes.values()),
        answers=dict(load.codes), acked=len(load.acks), runs=len(campaign.runs), fires=len(fires),
        lost=len(lost_acks(campaign.acks, campaign.runs)), duplicated=duplicated(campaign.runs),
        stuck=len(not_terminal(drained)),
        not_succeeded=sum(1 for r in drained if r.finished and r.status != "succeeded"),
        fire_problems=sum(len(fire_gaps(campaign.runs, t, since, until)) for t in TIME_TRIGGERS),
    )  # fmt: skip
    return campaign


@pytest.fixture(scope="module")
def sqlite_campaign(tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> Campaign:
    one_backend_in_ci(anyio_backend, "SQLite kill")
    folder = tmp_path_factory.mktemp(f"kill-sqlite-{anyio_backend}")
    config = write_project(folder)
    url = f"sqlite:///{folder / 'chaos.db'}"
    node = Node(config, url, anyio_backend, "node")
    return run_campaign(f"kill-sqlite-{anyio_backend}", [node], url, size().kill_rounds)


@pytest.fixture(scope="module")
def pg_campaign(
    tmp_path_factory: pytest.TempPathFactory, anyio_backend: str, pg_admin_url: str
) -> Iterator[Campaign]:
    one_backend_in_ci(anyio_backend, "three-node kill")
    folder = tmp_path_factory.mktemp(f"kill-pg-{anyio_backend}")
    config = write_project(folder)
    with pg_database(pg_admin_url) as url:
        nodes = [Node(config, url, anyio_backend, f"node{i}") for i in range(3)]
        yield run_campaign(f"kill-pg-{anyio_backend}", nodes, url, size().pg_kill_rounds)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def campaign(request: pytest.FixtureRequest, anyio_backend: str) -> Campaign:
    """The campaign of this backend on each store (``anyio_backend`` parametrises it)."""
    name = "pg_campaign" if request.param == "postgres" else "sqlite_campaign"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_every_acknowledged_key_exists_exactly_once(campaign: Campaign) -> None:
    assert len(campaign.acks) > 20, f"too little load to mean anything ({campaign.context()})"
    assert lost_acks(campaign.acks, campaign.runs) == [], campaign.context()
    assert duplicated(campaign.runs) == 0, campaign.context()


def test_every_run_reaches_a_terminal_state(campaign: Campaign) -> None:
    stuck = not_terminal(campaign.drained)
    assert stuck == [], f"{len(stuck)} runs stuck ({campaign.context()})"


def test_every_planned_fire_has_exactly_one_run(campaign: Campaign) -> None:
    for trigger in TIME_TRIGGERS:
        gaps = fire_gaps(campaign.runs, trigger, campaign.since, campaign.until)
        assert gaps == [], campaign.context()


def test_every_acknowledged_run_and_fire_succeeds(campaign: Campaign) -> None:
    done = [r for r in campaign.drained if r.finished]
    failed = [f"{r.idempotency_key}: {r.error}" for r in done if r.status != "succeeded"]
    assert failed == [], f"{len(failed)} runs not succeeded ({campaign.context()}): {failed[:3]}"
