"""Real processes: kill -9 mid-stream, and two processes on one SQLite store (SystemClock).

The same for an interval trigger: every planned fire ``start_at + k * every`` makes one run.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from stargraph.store import open_store
from stargraph.store.base import Run, RunFilter

CHILD = Path(__file__).with_name("cron_child.py")
_ERRS: dict[int, Path] = {}
pytestmark = pytest.mark.slow


async def _spawn(url: str, seconds: float, backend: str, kind: str = "cron") -> Process:
    proc = await _open(url, seconds, backend, kind)
    await _ready(proc)
    return proc


async def _open(url: str, seconds: float, backend: str, kind: str = "cron") -> Process:
    # stderr goes to a file next to the test's database: a chatty child never blocks on a pipe
    path = Path(url.removeprefix("sqlite:///")).with_name(f"child-{len(_ERRS)}.err")
    with path.open("wb") as err:
        proc = await anyio.open_process(
            [sys.executable, str(CHILD), url, str(seconds), backend, kind],
            stdout=subprocess.PIPE,
            stderr=err,
        )
    _ERRS[proc.pid] = path
    return proc


async def _ready(proc: Process) -> None:
    assert proc.stdout is not None
    with anyio.fail_after(20):
        line = b""
        while not line.endswith(b"\n"):
            chunk = await proc.stdout.receive(1)
            line += chunk
    assert line.strip() == b"ready", line


async def _finish(proc: Process) -> dict[str, float]:
    assert proc.stdout is not None
    with anyio.fail_after(30):
        out = b""
        async for chunk in proc.stdout:
            out += chunk
        await proc.wait()
    assert proc.returncode == 0, await _drain(proc)
    counts: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return counts


async def _drain(proc: Process) -> str:
    return _ERRS[proc.pid].read_text(errors="replace")[-3000:]


async def _runs(url: str) -> list[Run]:
    store = open_store(url)
    await store.open()
    try:
        page = await store.list_runs(RunFilter(trigger_id="tick"), limit=10_000, cursor=None)
    finally:
        await store.close()
    return page.items


def _assert_every_second_exactly_once(runs: list[Run], every: int = 1) -> list[datetime]:
    fires = sorted(r.scheduled_fire for r in runs if r.scheduled_fire is not None)
    assert len(fires) == len(runs) == len(set(fires)), "a fire ran twice"
    assert len({r.idempotency_key for r in runs}) == len(runs)
    step = timedelta(seconds=every)
    gaps = [(a, b) for a, b in itertools.pairwise(fires) if b - a != step]
    assert gaps == [], f"fires lost between {gaps}"
    return fires


def _assert_on_grid(runs: list[Run], start: int, every: int) -> None:
    """Every interval run is the fire ``start + k * every`` (k >= 0), each exactly once."""
    fires = _assert_every_second_exactly_once(runs, every)
    offsets = [int(f.timestamp()) - start for f in fires]
    assert all(o >= 0 and o % every == 0 for o in offsets), offsets
    assert {r.idempotency_key for r in runs} == {f"interval:tick:{f.isoformat()}" for f in fires}


async def test_kill_9_mid_stream_loses_and_duplicates_nothing(
    sqlite_url: str, anyio_backend: str
) -> None:
    first = await _spawn(sqlite_url, 60, anyio_backend)
    with anyio.fail_after(15):
        while len(await _runs(sqlite_url)) < 2:
            await anyio.sleep(0.1)
    await anyio.sleep(0.37)  # somewhere inside a second, not on its edge
    first.send_signal(signal.SIGKILL)
    await first.wait()
    before = await _runs(sqlite_url)
    await anyio.sleep(2.2)  # down across two planned fires
    second = await _spawn(sqlite_url, 2.5, anyio_backend)
    await _finish(second)
    runs = await _runs(sqlite_url)
    _assert_every_second_exactly_once(runs)
    last_before = max(r.scheduled_fire for r in before if r.scheduled_fire)
    after = [r for r in runs if r.scheduled_fire and r.scheduled_fire > last_before]
    assert len(after) >= 4  # the downtime's fires (caught up) and the live ones


async def test_two_processes_on_one_store_make_one_run_per_fire(
    sqlite_url: str, anyio_backend: str
) -> None:
    one = await _open(sqlite_url, 4, anyio_backend)  # both start together
    two = await _open(sqlite_url, 4, anyio_backend)
    await _ready(one)
    await _ready(two)
    counts = [await _finish(one), await _finish(two)]
    runs = await _runs(sqlite_url)
    _assert_every_second_exactly_once(runs)
    assert sum(c["enqueued"] for c in counts) == len(runs) >= 3, (counts, len(runs))
    assert sum(c["deduplicated"] for c in counts) >= 2, counts  # both processes really fired


# -- interval triggers ----------------------------------------------------------------------------


async def test_interval_kill_9_makes_each_planned_fire_once(
    sqlite_url: str, anyio_backend: str
) -> None:
    start = int(time.time()) // 2 * 2 + 1 - 4  # an odd anchor in the past: fires on odd seconds
    kind = f"interval:2:{start}"
    first = await _spawn(sqlite_url, 60, anyio_backend, kind)
    with anyio.fail_after(20):
        while len(await _runs(sqlite_url)) < 4:  # the caught-up fires and a live one
            await anyio.sleep(0.1)
    await anyio.sleep(0.37)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    before = await _runs(sqlite_url)
    await anyio.sleep(4.4)  # down across two planned fires
    second = await _spawn(sqlite_url, 4.5, anyio_backend, kind)
    await _finish(second)
    runs = await _runs(sqlite_url)
    _assert_on_grid(runs, start, 2)
    last_before = max(r.scheduled_fire for r in before if r.scheduled_fire)
    after = [r for r in runs if r.scheduled_fire and r.scheduled_fire > last_before]
    assert len(after) >= 4  # the downtime's fires (caught up) and the live ones


async def test_interval_two_processes_share_the_anchor_and_each_fire(
    sqlite_url: str, anyio_backend: str
) -> None:
    # no start_at: both processes must agree on the one anchor persisted by whoever came first
    one = await _open(sqlite_url, 4, anyio_backend, "interval:1")
    two = await _open(sqlite_url, 4, anyio_backend, "interval:1")
    await _ready(one)
    await _ready(two)
    counts = [await _finish(one), await _finish(two)]
    runs = await _runs(sqlite_url)
    assert runs, "no interval fire at all"
    anchor = await _anchor(sqlite_url)
    _assert_on_grid(runs, anchor, 1)
    assert sum(c["enqueued"] for c in counts) == len(runs) >= 3, (counts, len(runs))
    assert sum(c["deduplicated"] for c in counts) >= 2, counts  # both processes really fired


async def _anchor(url: str) -> int:
    store = open_store(url)
    await store.open()
    try:
        now = datetime.now().astimezone()
        anchors = await store.claim_trigger_anchors({"tick": now}, now=now)
    finally:
        await store.close()
    return int(anchors["tick"].timestamp())
