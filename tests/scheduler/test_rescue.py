"""Lease rescue across two processes: a SIGKILLed holder's run is picked up by another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from stargraph.scheduler import Graph, RunContext, RunPolicy, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import fast_settings

CHILD = Path(__file__).with_name("lease_child.py")


async def _read_started(proc: subprocess.Popen[str]) -> tuple[str, int]:
    assert proc.stdout is not None
    line = await anyio.to_thread.run_sync(proc.stdout.readline)
    assert line.startswith("STARTED "), f"child said {line!r}"
    _, run_id, attempt = line.split()
    return run_id, int(attempt)


@pytest.mark.slow
async def test_expired_lease_is_rescued_by_another_process(
    store: RunStore, anyio_backend: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), store.url, anyio_backend],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with anyio.fail_after(20):
            run_id, attempt = await _read_started(proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert attempt == 1
    held = await store.get_run(run_id)
    assert held is not None and held.status is RunStatus.running
    assert held.lease_owner is not None and str(proc.pid) in held.lease_owner

    async def finish(params: dict[str, Any], ctx: RunContext) -> dict[str, int]:
        return {"attempt": ctx.attempt, "interruptions": ctx.interruptions}

    graph = Graph(graph_id="block", fn=finish, policy=RunPolicy(max_attempts=2))
    async with Scheduler(store, [graph], settings=fast_settings(lease_seconds=1.0)) as s:
        with anyio.fail_after(15):
            run = await s.wait_run(run_id)
        metrics = s.metrics.render().decode()
    assert run.status is RunStatus.succeeded
    # the process died: no attempt counted, one interruption (seen by the graph)
    assert run.result == {"attempt": 1, "interruptions": 1}
    assert (run.attempt, run.interruptions) == (1, 1)
    assert 'stargraph_runs_interrupted_total{graph_id="block"} 1.0' in metrics
    assert run.idempotency_key == "rescue-me"
