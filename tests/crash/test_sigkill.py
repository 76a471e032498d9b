"""SIGKILL at a random moment loses no acknowledged enqueue and strands no run.

A child process enqueues a stream of keyed runs (8 producers, every tenth key a duplicate) and
executes them, printing each acknowledgement after its commit. The parent kills it with
SIGKILL at a random moment, restarts a scheduler on the same SQLite file, and checks that
every acknowledged key exists exactly once, under the acknowledged run id, and that every
run (pending, or running under the dead process's lease) completes.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import anyio
import pytest

from stargraph.scheduler import Scheduler, SchedulerSettings
from stargraph.store import RunStatus, open_store

from .crash_child import graph

CHILD = Path(__file__).with_name("crash_child.py")


def _run_child_and_kill(
    url: str, backend: str, kill_after: float, max_attempts: int = 5
) -> tuple[list[str], int]:
    """Start the child, SIGKILL it *kill_after* seconds after its first ack; return the lines."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), url, backend, str(max_attempts)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    data = bytearray()
    first_ack: float | None = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            data += chunk
            if first_ack is None and b"ACK " in data:
                first_ack = time.monotonic()
            if first_ack is not None and time.monotonic() - first_ack >= kill_after:
                break
            if not chunk:
                time.sleep(0.002)
        else:
            pytest.fail(f"child never acknowledged anything: {bytes(data[:300])!r}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    os.set_blocking(fd, True)
    data += proc.stdout.read()  # lines printed before the kill are acknowledged
    proc.stdout.close()
    text = data.decode()
    complete = text[: text.rfind("\n") + 1]  # a torn last line was never fully printed
    return complete.splitlines(), proc.returncode


def _rows(db: Path) -> dict[str, list[tuple[str, str]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT idempotency_key, run_id, status FROM runs").fetchall()
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, run_id, status in rows:
        by_key[key].append((run_id, status))
    return by_key


@pytest.mark.slow
async def test_sigkill_loses_no_acknowledged_run(tmp_path: Path, anyio_backend: str) -> None:
    await _crash_and_recover(tmp_path, anyio_backend, max_attempts=5)


@pytest.mark.slow
async def test_sigkill_costs_no_attempt(tmp_path: Path, anyio_backend: str) -> None:
    """With the default max_attempts = 1, every acknowledged run still ends ``succeeded``.

    Runs executing when the process died are requeued with their attempt unchanged (one
    interruption), not failed.
    """
    interrupted = await _crash_and_recover(tmp_path, anyio_backend, max_attempts=1)
    assert interrupted, "no run was executing at the kill: the test proved nothing"


async def _crash_and_recover(tmp_path: Path, anyio_backend: str, *, max_attempts: int) -> int:
    """Kill the child mid-load, restart on its file; return how many runs were interrupted."""
    seed = random.randrange(1_000_000)
    kill_after = random.Random(seed).uniform(0.3, 2.0)
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    lines, code = await anyio.to_thread.run_sync(
        _run_child_and_kill, url, anyio_backend, kill_after, max_attempts
    )
    assert code == -signal.SIGKILL, f"seed={seed}"
    acks: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        tag, key, run_id, _kind = line.split()
        assert tag == "ACK"
        acks[key].add(run_id)
    assert len(acks) > 10, f"too few acks before the kill (seed={seed})"

    before = _rows(db)
    store = open_store(url)
    await store.open()
    try:
        settings = SchedulerSettings(lease_seconds=1.0, poll_interval=0.05, max_concurrent_runs=32)
        async with Scheduler(store, [graph(max_attempts)], settings=settings):
            with anyio.fail_after(60):
                while True:
                    counts = await store.count_by_status()
                    if not counts.get(RunStatus.pending) and not counts.get(RunStatus.running):
                        break
                    await anyio.sleep(0.1)
    finally:
        await store.close()

    after = _rows(db)
    context = f"seed={seed} kill_after={kill_after:.2f}s acked={len(acks)} rows={len(after)}"
    stranded = sum(1 for runs in before.values() for _, st in runs if st in {"pending", "running"})
    print(f"crash test: {context} stranded_before_restart={stranded}")
    for key, run_ids in acks.items():
        assert len(run_ids) == 1, f"{key} acknowledged under two run ids ({context})"
        assert key in after, f"acknowledged {key} is missing ({context})"
        assert len(after[key]) == 1, f"{key} stored twice ({context})"
        assert after[key][0][0] in run_ids, f"{key} has another run id ({context})"
    statuses = {status for runs in after.values() for _, status in runs}
    assert statuses == {"succeeded"}, f"{statuses} ({context}, stranded={stranded})"
    with sqlite3.connect(db) as conn:
        (interrupted,) = conn.execute(
            "SELECT count(*) FROM runs WHERE interruptions > 0"
        ).fetchone()
    return int(interrupted)
