"""Plugin faults next to the bundled cron trigger, in one runtime, on both backends.

Five faulty plugins: one whose ``start`` raises, one that hangs in ``start``, one that hangs in
``stop``, one that blocks the event loop with ``time.sleep`` and one that leaks a thousand
never-ending tasks. The cron trigger beside them must keep its fire precision (measured against
a runtime without them), every fire must still run once, each faulty plugin must be isolated and
reported, and shutdown must stay bounded.
"""

from __future__ import annotations

import logging
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import attrs
import pluggy
import pytest

from stargraph.hosting import HostOptions, PluginState
from stargraph.plugin import TriggerAdapter, build_plugin_manager
from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.store import open_store
from stargraph.store.base import Run, RunFilter
from stargraph.triggers.cron import CronSpec

from ._checks import fire_gaps
from ._harness import TimeTrigger, report, seeded, size

pytestmark = [pytest.mark.slow, pytest.mark.timeout(size().timeout)]
OPTIONS = HostOptions(
    init_timeout=2, start_timeout=1, stop_timeout=1, backoff_initial=0.2, max_restarts=2
)
FIRE_LAG_BOUND = 1.0  # seconds: a fire committed later than this after its instant is late
SHUTDOWN_DEADLINE = 20.0  # seconds the runtime may take to leave, hung plugins included
BLOCK_SECONDS = 0.2  # the blocker's time.sleep, once a second
TICK = TimeTrigger("cron:tick", 1.0, "")


class RaisesInStart:
    def init(self, deps: dict[str, Any]) -> None:
        pass

    def start(self) -> None:
        raise RuntimeError("chaos: start refused")

    def stop(self) -> None:
        pass

    def routes(self) -> list[Any]:
        return []


class HangsInStart(RaisesInStart):
    async def start(self) -> None:  # type: ignore[override]
        await anyio.sleep_forever()


class HangsInStop(RaisesInStart):
    def start(self) -> None:
        pass

    async def stop(self) -> None:  # type: ignore[override]
        await anyio.sleep_forever()


class BlocksTheLoop(RaisesInStart):
    def init(self, deps: dict[str, Any]) -> None:
        self.deps = deps

    def start(self) -> None:
        self.deps["task_group"].start_soon(self._block)

    async def _block(self) -> None:
        while True:
            time.sleep(BLOCK_SECONDS)  # the fault: a synchronous call on the event loop
            await anyio.sleep(1.0 - BLOCK_SECONDS)


class LeaksTasks(BlocksTheLoop):
    def start(self) -> None:
        self.alive = 0
        for _ in range(1000):
            self.deps["task_group"].start_soon(self._forever)

    async def _forever(self) -> None:
        self.alive += 1
        try:
            await anyio.sleep_forever()
        finally:
            self.alive -= 1


FAULTY = {
    "chaos:raises-in-start": RaisesInStart,
    "chaos:hangs-in-start": HangsInStart,
    "chaos:hangs-in-stop": HangsInStop,
    "chaos:blocks-the-loop": BlocksTheLoop,
    "chaos:leaks-tasks": LeaksTasks,
}


@attrs.frozen
class Phase:
    """One runtime's cron fires, plugin statuses, log events and shutdown time."""

    runs: list[Run]
    lags: list[float]
    statuses: dict[str, tuple[PluginState, str | None, int]]
    events: list[str]
    shutdown: float
    leaked_alive: int
    since: datetime
    until: datetime

    def summary(self) -> str:
        lags = sorted(self.lags) or [0.0]
        return (
            f"fires={len(self.lags)} lag median={statistics.median(lags) * 1000:.0f}ms "
            f"max={lags[-1] * 1000:.0f}ms shutdown={self.shutdown:.1f}s statuses={self.statuses}"
        )


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


def _manager(faulty: bool) -> tuple[pluggy.PluginManager, dict[str, Any]]:
    pm = build_plugin_manager()
    objects = {name: cls() for name, cls in FAULTY.items()} if faulty else {}
    for name, obj in objects.items():
        pm.register(TriggerAdapter(obj), name=name)  # type: ignore[arg-type]
    return pm, objects


async def _work(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep(0.01)


async def run_phase(folder: Path, faulty: bool) -> Phase:
    spec = CronSpec(trigger_id=TICK.trigger_id, schedule="* * * * * *", graph_id="tick")
    pm, objects = _manager(faulty)
    handler = _Events()
    logging.getLogger("stargraph").addHandler(handler)
    since = datetime.now(UTC)
    try:
        runtime = Runtime(
            f"sqlite:///{folder / ('faulty.db' if faulty else 'baseline.db')}",
            graphs=[Graph(graph_id="tick", fn=_work)],
            deps={"cron_specs": [spec]},
            plugin_manager=pm,
            host_options=OPTIONS,
            graph_entry_points=False,
        )
        async with runtime:
            await anyio.sleep(size().plugin_seconds)
            statuses = {s.name: (s.state, s.error, s.restarts) for s in runtime.host.statuses()}
            until = datetime.now(UTC) - timedelta(seconds=1.5)
            left = time.monotonic()
        shutdown = time.monotonic() - left
    finally:
        logging.getLogger("stargraph").removeHandler(handler)
    runs = await _read(folder / ("faulty.db" if faulty else "baseline.db"))
    lags = [(r.enqueued_at - r.scheduled_fire).total_seconds() for r in runs if r.scheduled_fire]
    leaked = getattr(objects.get("chaos:leaks-tasks"), "alive", 0)
    return Phase(runs, lags, statuses, handler.lines, shutdown, leaked, since, until)


async def _read(db: Path) -> list[Run]:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        page = await store.list_runs(
            RunFilter(trigger_id=TICK.trigger_id), limit=10_000, cursor=None
        )
    finally:
        await store.close()
    return page.items


_PHASES: dict[tuple[str, bool], Phase] = {}


async def phase(tmp_path: Path, backend: str, faulty: bool) -> Phase:
    """Each phase runs once per backend; later tests reuse it."""
    if (backend, faulty) not in _PHASES:
        seeded(f"plugins-{backend}-{'faulty' if faulty else 'baseline'}")
        _PHASES[backend, faulty] = await run_phase(tmp_path, faulty)
        done = _PHASES[backend, faulty]
        label = f"plugins-{backend}-{'faulty' if faulty else 'baseline'}"
        print(f"chaos {label}: {done.summary()}")
        lags = sorted(done.lags) or [0.0]
        report(
            label, faulty_plugins=len(FAULTY) if faulty else 0, fires=len(done.lags),
            lag_median_ms=round(statistics.median(lags) * 1000, 1),
            lag_max_ms=round(lags[-1] * 1000, 1), shutdown_s=round(done.shutdown, 2),
            fire_problems=len(fire_gaps(done.runs, TICK, done.since, done.until)),
            statuses={k: [str(v[0]), v[1], v[2]] for k, v in done.statuses.items()},
        )  # fmt: skip
    return _PHASES[backend, faulty]


async def test_other_triggers_keep_their_fire_precision(tmp_path: Path, anyio_backend: str) -> None:
    base = await phase(tmp_path, anyio_backend, faulty=False)
    hit = await phase(tmp_path, anyio_backend, faulty=True)
    for one in (base, hit):
        assert fire_gaps(one.runs, TICK, one.since, one.until) == [], one.summary()
        assert len(one.lags) >= size().plugin_seconds - 2, one.summary()
    assert max(hit.lags) < FIRE_LAG_BOUND, f"faulty {hit.summary()} / baseline {base.summary()}"


async def test_faulty_plugins_are_isolated_and_reported(tmp_path: Path, anyio_backend: str) -> None:
    hit = await phase(tmp_path, anyio_backend, faulty=True)
    states = {name: status[0] for name, status in hit.statuses.items()}
    assert states["stargraph:stargraph.triggers:cron"] == PluginState.running, hit.summary()
    for name in ("chaos:raises-in-start", "chaos:hangs-in-start"):
        state, error, restarts = hit.statuses[name]
        assert state in {PluginState.failed, PluginState.restarting}, hit.summary()
        assert error and restarts >= 1, hit.summary()
    assert "chaos: start refused" in str(hit.statuses["chaos:raises-in-start"][1])
    assert states["chaos:leaks-tasks"] == PluginState.running, hit.summary()
    assert hit.leaked_alive == 0, f"{hit.leaked_alive} leaked tasks outlived the runtime"
    assert hit.shutdown < SHUTDOWN_DEADLINE, hit.summary()
    stop_hang = [e for e in hit.events if "chaos:hangs-in-stop" in e]
    assert stop_hang, f"the plugin that hung in stop() was never reported: {hit.events[-5:]}"


@pytest.mark.xfail(
    strict=True,
    reason="issue 11 chaos finding (not a numbered defect): nothing detects or names a plugin "
    "that blocks the event loop with a synchronous call",
)
async def test_a_plugin_blocking_the_loop_is_reported(tmp_path: Path, anyio_backend: str) -> None:
    hit = await phase(tmp_path, anyio_backend, faulty=True)
    named = [e for e in hit.events if "chaos:blocks-the-loop" in e]
    assert named, f"no log event names the blocking plugin: {hit.summary()}"
