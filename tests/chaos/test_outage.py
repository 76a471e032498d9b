"""The store unavailable under load: SQLite on a full disk, PostgreSQL connections terminated.

While it lasts the API answers clear 503s with ``Retry-After`` and ``/readyz`` says not ready;
afterwards it recovers without a restart, nothing acknowledged is lost and SQLite's
``PRAGMA integrity_check`` is ``ok``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from stargraph.store.base import Run

from ._checks import duplicated, lost_acks, not_terminal, pg_database
from ._harness import (
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
from ._phases import Probe, phase_codes, wait_ready_again, wait_recovered

pytestmark = [pytest.mark.slow, pytest.mark.timeout(size().timeout)]
TMPFS_BYTES = 32 * 1024 * 1024


@attrs.frozen
class Outage:
    """What the clients saw before, during and after one outage, and the store afterwards."""

    label: str
    seed: int
    faults: int
    during: Counter[str]
    after: Counter[str]
    retry_after: Counter[str]
    probes: dict[str, Counter[str]]
    bodies: dict[str, str]
    recovered_in: float
    ready_again_in: float | None
    restarted: bool
    acks: dict[str, set[str]]
    runs: list[Run]
    drained: list[Run]
    integrity: str = "n/a"

    def context(self) -> str:
        return (
            f"{self.label} seed={self.seed} faults={self.faults} during={dict(self.during)} "
            f"after={dict(self.after)} probes={self.probes} bodies={self.bodies}"
        )


@pytest.fixture(scope="module")
def tmpfs(tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> Iterator[Path]:
    """A small tmpfs of its own for each backend's disk-full outage."""
    one_backend_in_ci(anyio_backend, "disk-full")
    mnt = tmp_path_factory.mktemp(f"tmpfs-{anyio_backend}")
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mnt)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        pytest.skip(f"disk-full scenario needs `mount -t tmpfs` (root): {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into *folder* until the file system is full; return it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for chunk in (b"\0" * (1 << 20), b"\0" * (1 << 12), b"\0"):
            try:
                while os.write(fd, chunk):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def run_outage(label: str, node: Node, url: str, fault: object) -> tuple[Outage, Load]:
    seed, rng = seeded(label)
    node.start()
    pid = node.pid
    try:
        with Load([node.url], seed) as load, Probe(node.url) as probe:
            time.sleep(1.5)
            start = Counter(load.codes)
            probe.phase = "during"
            faults = fault(rng)  # type: ignore[operator]
            during = phase_codes(load, start)
            probe.phase = "after"
            recovered_in = wait_recovered(load)
            start = Counter(load.codes)
            time.sleep(1.5)
            after = phase_codes(load, start)
        ready_again_in = wait_ready_again(node.url)
        drained = wait_drained(url, [node])
        restarted = not node.alive() or node.pid != pid
    finally:
        node.stop()
    outage = Outage(
        label, seed, faults, during, after, Counter(load.retry_after), dict(probe.seen),
        dict(load.bodies), recovered_in, ready_again_in, restarted, dict(load.acks),
        read_runs(url), drained,
    )  # fmt: skip
    print(f"chaos {outage.context()}")
    report(
        label, faults=faults, requests=sum(load.codes.values()), acked=len(load.acks),
        during=dict(during), after=dict(after), recovered_in=round(recovered_in, 2),
        ready_again_in=ready_again_in,
        lost=len(lost_acks(outage.acks, outage.runs)), duplicated=duplicated(outage.runs),
        stuck=len(not_terminal(drained)), restarted=restarted,
    )  # fmt: skip
    return outage, load


@pytest.fixture(scope="module")
def disk_full(tmp_path_factory: pytest.TempPathFactory, tmpfs: Path, anyio_backend: str) -> Outage:
    folder = tmp_path_factory.mktemp(f"diskfull-{anyio_backend}")
    disk = tmpfs
    db = disk / "chaos.db"
    url = f"sqlite:///{db}"

    def fault(rng: object) -> int:
        filler = fill(disk)
        try:
            time.sleep(size().outage_seconds)
        finally:
            filler.unlink()
        return 1

    outage, _ = run_outage(
        f"disk-full-{anyio_backend}",
        Node(write_project(folder, triggers=()), url, anyio_backend, "node"),
        url,
        fault,
    )
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    report(f"disk-full-{anyio_backend}-integrity", integrity=integrity)
    return attrs.evolve(outage, integrity=integrity)


@pytest.fixture(scope="module")
def pg_terminated(
    tmp_path_factory: pytest.TempPathFactory, anyio_backend: str, pg_admin_url: str
) -> Iterator[Outage]:
    import psycopg

    one_backend_in_ci(anyio_backend, "pg_terminate_backend")
    folder = tmp_path_factory.mktemp(f"pgterm-{anyio_backend}")
    with pg_database(pg_admin_url) as url:
        dbname = url.rsplit("/", 1)[1]

        def fault(rng: object) -> int:
            killed = 0
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                for _ in range(size().pg_terminations):
                    row = conn.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (dbname,),
                    ).fetchone()
                    killed += row[0] if row else 0
                    time.sleep(rng.uniform(0.1, 0.6))  # type: ignore[attr-defined]
            return killed

        node = Node(write_project(folder, triggers=()), url, anyio_backend, "node")
        yield run_outage(f"pg-terminate-{anyio_backend}", node, url, fault)[0]


@pytest.fixture(params=["disk_full", pytest.param("pg_terminated", marks=pytest.mark.postgres)])
def outage(request: pytest.FixtureRequest, anyio_backend: str) -> Outage:
    """The outage of this backend on each store (``anyio_backend`` parametrises it)."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_the_fault_was_real(outage: Outage) -> None:
    assert outage.faults > 0, outage.context()
    assert sum(outage.during.values()) > 10, f"too little load ({outage.context()})"


def test_recovers_without_restart(outage: Outage) -> None:
    assert not outage.restarted, outage.context()
    assert outage.after.get("202", 0) > 5, outage.context()


def test_no_error_once_recovered(outage: Outage, request: pytest.FixtureRequest) -> None:
    if outage.label.startswith("pg-terminate"):
        request.applymarker(
            pytest.mark.xfail(
                strict=False,  # it takes a pooled connection killed but not yet reused
                reason="issue 11 chaos finding (not a numbered defect): a pooled PostgreSQL "
                "connection terminated during the outage fails the first request that uses "
                "it after recovery (the pool does not check connections on checkout)",
            )
        )
    assert set(outage.after) == {"202"}, f"errors after recovery ({outage.context()})"


def test_health_answers_throughout(outage: Outage) -> None:
    for phase, seen in outage.probes.items():
        bad = {k: n for k, n in seen.items() if k.startswith("/healthz") and k != "/healthz 200"}
        assert bad == {}, f"/healthz {phase}: {bad} ({outage.context()})"


def test_nothing_acknowledged_is_lost_or_corrupted(outage: Outage) -> None:
    assert lost_acks(outage.acks, outage.runs) == [], outage.context()
    assert duplicated(outage.runs) == 0, outage.context()
    assert not_terminal(outage.drained) == [], outage.context()
    assert outage.integrity in {"ok", "n/a"}, outage.integrity


def test_refused_writes_are_503_with_retry_after(outage: Outage) -> None:
    refused = {code: n for code, n in outage.during.items() if code != "202"}
    assert refused, f"no write was refused: the outage did not show ({outage.context()})"
    assert set(refused) == {"503"}, outage.context()
    assert outage.retry_after.get("503", 0) >= refused["503"], outage.context()


def test_readyz_reports_the_outage_and_the_recovery(
    outage: Outage, request: pytest.FixtureRequest
) -> None:
    if outage.label.startswith("disk-full"):
        during = outage.probes.get("during", Counter())
        assert any(k.startswith("/readyz 503") for k in during), outage.context()
    # A terminated PostgreSQL connection is replaced at once: ready again is what counts.
    assert outage.ready_again_in is not None, f"/readyz never 200 again ({outage.context()})"
