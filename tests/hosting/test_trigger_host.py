"""TriggerHost: per-plugin task groups, bounded lifecycle calls, crash isolation and restarts."""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pluggy
import pytest
from _settings import HANG_BOUND

from stargraph.errors import StargraphRuntimeError
from stargraph.hosting import HostOptions, PluginState, PluginTaskGroup, TriggerHost
from stargraph.lifecycle import LifecycleState
from stargraph.metrics import Metrics
from stargraph.plugin import TriggerAdapter, build_plugin_manager, hookimpl, hookspecs
from stargraph.triggers.manual import ManualTrigger

FAST = HostOptions(
    init_timeout=1,
    routes_timeout=1,
    start_timeout=1,
    stop_timeout=1,
    backoff_initial=0.05,
    backoff_factor=2,
    max_restarts=3,
)


class Ticker:
    """The anyio-native form: a loop in deps['task_group'] that ticks until cancelled."""

    def __init__(self, crashes: int = 0, hang: str = "", fail: str = "") -> None:
        self.crashes_left = crashes
        self.hang, self.fail = hang, fail
        self.calls: list[str] = []
        self.ticks = 0
        self.starts: list[float] = []
        self.loop_cancelled_before_stop: list[bool] = []
        self._loop_live = False

    def _maybe(self, hook: str) -> None:
        self.calls.append(hook)
        if self.fail == hook:
            raise ValueError(f"{hook} refused")

    def init(self, deps: dict[str, Any]) -> None:
        self._maybe("init")
        self.deps = deps

    async def start(self) -> None:
        self._maybe("start")
        self.starts.append(anyio.current_time())
        if self.hang == "start":
            await anyio.sleep_forever()
        self.deps["task_group"].start_soon(self._loop)

    async def stop(self) -> None:
        self.loop_cancelled_before_stop.append(not self._loop_live)
        self._maybe("stop")
        if self.hang == "stop":
            await anyio.sleep_forever()

    def routes(self) -> list[str]:
        self._maybe("routes")
        return [f"bp-{id(self)}"]

    async def _loop(self) -> None:
        self._loop_live = True
        try:
            while True:
                await anyio.sleep(0.01)
                self.ticks += 1
                if self.crashes_left and self.ticks % 3 == 0:
                    self.crashes_left -= 1
                    raise RuntimeError(f"tick {self.ticks} went wrong")
        finally:
            self._loop_live = False


class SyncHooks:
    """A hookimpl plugin with sync hooks and no background work."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def trigger_init(self, deps: dict[str, Any]) -> None:
        self.calls.append("init")

    @hookimpl
    def trigger_start(self, deps: dict[str, Any]) -> None:
        self.calls.append("start")

    @hookimpl
    def trigger_stop(self, deps: dict[str, Any]) -> None:
        self.calls.append("stop")


def manager(**plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins.items():
        has_hooks = isinstance(plugin, SyncHooks)
        pm.register(plugin if has_hooks else TriggerAdapter(plugin), name=name)  # type: ignore[arg-type]
    return pm


def states(host: TriggerHost) -> dict[str, PluginState]:
    return {s.name: s.state for s in host.statuses()}


async def wait_for(predicate: Any, timeout: float = 5) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


async def test_lifecycle_order_deps_and_routes() -> None:
    a, b, hooks = Ticker(), Ticker(), SyncHooks()
    shared = {"scheduler": object(), "fswatch_path": "/in"}
    pm = manager(a=a, b=b, h=hooks)
    async with TriggerHost(pm, shared, options=FAST) as host:
        assert host.routes == [f"bp-{id(a)}", f"bp-{id(b)}"]  # load order
        assert states(host) == {"a": "running", "b": "running", "h": "running"}
        await wait_for(lambda: a.ticks > 2 and b.ticks > 2)
        assert a.deps is not b.deps and a.deps["task_group"] is not b.deps["task_group"]
        assert isinstance(a.deps["task_group"], PluginTaskGroup)
        assert a.deps["scheduler"] is shared["scheduler"] and a.deps["fswatch_path"] == "/in"
        assert "task_group" not in shared
        assert [(n, type(o).__name__) for n, o in host.triggers()] == [
            ("a", "Ticker"),
            ("b", "Ticker"),
            ("h", "SyncHooks"),
        ]
    assert a.calls == ["init", "routes", "start", "stop"]
    assert hooks.calls == ["init", "start", "stop"]
    assert a.loop_cancelled_before_stop == [True]  # scope cancelled first, then stop()
    assert set(states(host).values()) == {PluginState.stopped}
    with pytest.raises(StargraphRuntimeError, match="usable only while the plugin runs"):
        a.deps["task_group"].start_soon(anyio.sleep, 1)


async def test_background_crash_restarts_with_backoff_and_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky, steady = Ticker(crashes=2), Ticker()
    with caplog.at_level(logging.INFO, logger="stargraph.triggers"):
        async with TriggerHost(manager(flaky=flaky, steady=steady), options=FAST) as host:
            seen: set[PluginState] = set()

            def settled() -> bool:
                seen.add(states(host)["flaky"])
                return len(flaky.starts) == 3 and flaky.ticks > 9

            await wait_for(settled)
            status = {s.name: s for s in host.statuses()}["flaky"]
            assert status.state == "running" and status.restarts == 2
            assert status.error == "RuntimeError: tick 6 went wrong"
            assert PluginState.restarting in seen
            assert steady.calls == ["init", "routes", "start"]  # never disturbed
    gaps = [b - a for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # exponential backoff
    assert flaky.calls.count("stop") == 3  # cleanup after each crash, and at shutdown
    crashed = [r.stargraph for r in caplog.records if r.getMessage() == "trigger.crashed"]  # type: ignore[attr-defined]
    assert [c["message"] for c in crashed] == ["tick 3 went wrong", "tick 6 went wrong"]
    assert all(c["plugin"] == "flaky" and c["error_type"] == "RuntimeError" for c in crashed)


async def test_crashing_forever_ends_failed_after_the_limit() -> None:
    doomed, steady = Ticker(crashes=100), Ticker()
    options = HostOptions(backoff_initial=0.01, max_restarts=2, stop_timeout=1)
    async with TriggerHost(manager(doomed=doomed, steady=steady), options=options) as host:
        await wait_for(lambda: states(host)["doomed"] == PluginState.failed)
        assert len(doomed.starts) == 3
        assert states(host)["steady"] == "running"
        ticks = steady.ticks
        await wait_for(lambda: steady.ticks > ticks + 2)
    assert states(host) == {"doomed": "failed", "steady": "stopped"}


async def test_raise_in_init_fails_only_that_plugin() -> None:
    bad, good = Ticker(fail="init"), Ticker()
    pm = manager(bad=bad, good=good, manual=ManualTrigger())
    async with TriggerHost(pm, {}, options=FAST) as host:
        status = {s.name: s for s in host.statuses()}
        assert status["bad"].state == "failed"
        assert status["bad"].error == "trigger_init: ValueError: init refused"
        assert status["manual"].error == (
            "trigger_init: StargraphRuntimeError: ManualTrigger.init(deps) requires "
            "deps['scheduler']"
        )
        assert status["good"].state == "running"
        assert host.routes == [f"bp-{id(good)}"]
        assert [n for n, _ in host.triggers()] == ["good"]
    assert bad.calls == ["init"]  # never started, so never stopped


async def test_failing_routes_fails_the_plugin_before_start() -> None:
    bad, good = Ticker(fail="routes"), Ticker()
    async with TriggerHost(manager(bad=bad, good=good), options=FAST) as host:
        assert states(host) == {"bad": "failed", "good": "running"}
        assert host.routes == [f"bp-{id(good)}"]
    assert bad.calls == ["init", "routes"]


async def test_hang_in_start_is_bounded() -> None:
    hung, good = Ticker(hang="start"), Ticker()
    options = HostOptions(start_timeout=0.2, max_restarts=0)
    began = time.monotonic()
    async with TriggerHost(manager(hung=hung, good=good), options=options) as host:
        assert time.monotonic() - began < HANG_BOUND
        status = {s.name: s for s in host.statuses()}
        assert status["hung"].state == "failed"
        assert status["hung"].error == (
            "trigger_start: TimeoutError: trigger_start did not return within 0.2 s"
        )
        assert status["good"].state == "running"
    assert hung.calls == ["init", "routes", "start", "stop"]  # stop cleans up a half start


async def test_raise_in_start_is_retried_then_failed() -> None:
    bad = Ticker(fail="start")
    async with TriggerHost(manager(bad=bad), options=FAST) as host:
        await wait_for(lambda: states(host)["bad"] == PluginState.failed)
    assert bad.calls.count("start") == FAST.max_restarts + 1


async def test_hang_in_stop_is_bounded_and_others_still_stop() -> None:
    hung, good, hooks = Ticker(hang="stop"), Ticker(), SyncHooks()
    options = HostOptions(stop_timeout=0.2)
    async with TriggerHost(manager(hung=hung, good=good, h=hooks), options=options) as host:
        pass
    assert states(host) == {"hung": "failed", "good": "stopped", "h": "stopped"}
    assert {s.name: s.error for s in host.statuses()}["hung"] == (
        "trigger_stop: TimeoutError: trigger_stop did not return within 0.2 s"
    )
    assert good.calls[-1] == "stop" and hooks.calls[-1] == "stop"


async def test_shutdown_is_bounded_with_several_misbehaving_plugins() -> None:
    plugins = {f"hung{i}": Ticker(hang="stop") for i in range(10)}
    plugins["bad"] = Ticker(fail="stop")
    options = HostOptions(stop_timeout=0.3)
    async with TriggerHost(manager(**plugins), options=options) as host:
        began = time.monotonic()
    serial = 10 * options.stop_timeout  # what stopping the hung plugins one by one would take
    assert time.monotonic() - began < serial  # concurrent (~0.3 s) and each bounded
    assert set(states(host).values()) == {PluginState.failed}


async def test_outer_cancellation_still_stops_every_plugin() -> None:
    a, hooks = Ticker(), SyncHooks()
    with anyio.move_on_after(0.2) as scope:
        async with TriggerHost(manager(a=a, h=hooks), options=FAST) as host:
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert a.calls[-1] == "stop" and hooks.calls[-1] == "stop"
    assert states(host) == {"a": "stopped", "h": "stopped"}


@pytest.mark.timeout(15)  # the defect this guards against was a busy loop, not a wait
async def test_cancelled_by_an_enclosing_task_group_through_an_exit_stack() -> None:
    """Regression: exiting the host's task group as if nothing had been raised, while a
    cancellation unwound the stack, gave asyncio a cyclic ``__context__`` chain that anyio
    walked forever (only pytest-timeout's signal breaks that loop, hence the time check)."""
    a, hooks = Ticker(), SyncHooks()

    async def serve(*, task_status: Any) -> None:
        async with AsyncExitStack() as stack:  # how the Runtime holds its host
            below = await stack.enter_async_context(anyio.create_task_group())  # a scheduler
            below.start_soon(anyio.sleep_forever)
            stack.callback(below.cancel_scope.cancel)
            host = await stack.enter_async_context(TriggerHost(manager(a=a, h=hooks), options=FAST))
            task_status.started(host)
            await anyio.sleep_forever()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            host = await tg.start(serve)
            await wait_for(lambda: a.ticks > 2)
            began = time.monotonic()
            tg.cancel_scope.cancel()
    assert time.monotonic() - began < HANG_BOUND
    assert states(host) == {"a": "stopped", "h": "stopped"}
    assert a.calls[-1] == "stop" and hooks.calls[-1] == "stop"


async def test_body_exception_propagates_after_stopping() -> None:
    a = Ticker()
    with pytest.raises(KeyError):
        async with TriggerHost(manager(a=a), options=FAST):
            raise KeyError("boom")
    assert a.calls[-1] == "stop"


async def test_task_group_is_not_usable_in_init() -> None:
    class Eager(Ticker):
        def init(self, deps: dict[str, Any]) -> None:
            deps["task_group"].start_soon(anyio.sleep, 1)

    async with TriggerHost(manager(eager=Eager()), options=FAST) as host:
        (status,) = host.statuses()
        assert status.state == "failed" and "not in init()" in (status.error or "")


async def test_metrics_gauge_follows_state() -> None:
    metrics = Metrics()

    def gauge(plugin: str, state: str) -> float | None:
        return metrics.registry.get_sample_value(
            "stargraph_trigger_state", {"plugin": plugin, "state": state}
        )

    async with TriggerHost(
        manager(a=Ticker(), bad=Ticker(fail="init")), {"metrics": metrics}, options=FAST
    ):
        assert gauge("a", "running") == 1 and gauge("a", "stopped") == 0
        assert gauge("bad", "failed") == 1 and gauge("bad", "running") == 0
    assert gauge("a", "stopped") == 1 and gauge("a", "running") == 0


async def test_host_is_single_use() -> None:
    host = TriggerHost(manager(), options=FAST)
    assert host.state is LifecycleState.new
    async with host:
        assert host.state is LifecycleState.running
    assert host.state is LifecycleState.stopped
    with pytest.raises(StargraphRuntimeError, match="only once"):
        async with host:
            pass


async def test_plugin_tasks_are_named_and_a_failed_start_unwinds() -> None:
    a = Ticker()
    host = TriggerHost(manager(a=a), options=FAST)
    async with host:
        assert "stargraph.trigger:a" in {t.name for t in anyio.get_running_tasks()}
    assert "stargraph.trigger:a" not in {t.name for t in anyio.get_running_tasks()}

    class Boom(Exception):
        pass

    b = Ticker()
    broken = TriggerHost(manager(b=b, c=Ticker()), options=FAST)

    async def start_all(tg: Any) -> None:
        await tg.start(broken._supervisor.run, broken._hosted[0], name="stargraph.trigger:b")
        raise Boom("starting c failed")

    broken._start_all = start_all  # type: ignore[method-assign]
    with pytest.raises(Boom, match="starting c failed"):  # unwrapped, not in a group
        async with broken:
            raise AssertionError("the body must not run after a failed start")
    assert broken.state is LifecycleState.stopped
    assert b.calls[-1] == "stop" and states(broken)["b"] == PluginState.stopped
    assert "stargraph.trigger:b" not in {t.name for t in anyio.get_running_tasks()}


async def test_statuses_include_disabled_and_load_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "sg_t_host-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sg-t-host\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[stargraph.triggers]\nbroken = sgt_host_missing:X\noff = sgt_host_missing:Y\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = build_plugin_manager(disable=["sg-t-host:stargraph.triggers:off"])
    async with TriggerHost(pm, {"scheduler": object()}, options=FAST) as host:
        status = {s.name: s for s in host.statuses()}
        assert status["sg-t-host:stargraph.triggers:broken"].state == "load_failed"
        assert "sgt_host_missing" in (status["sg-t-host:stargraph.triggers:broken"].error or "")
        assert status["sg-t-host:stargraph.triggers:off"].state == "disabled"
        assert status["stargraph:stargraph.triggers:manual"].state == "running"
        manual = dict(host.triggers())["stargraph:stargraph.triggers:manual"]
        assert isinstance(manual, ManualTrigger)


async def test_a_plugin_that_ends_its_own_task_group_is_stopped_not_restarted() -> None:
    class OneShot(Ticker):
        async def start(self) -> None:
            self.calls.append("start")
            await self.deps["task_group"].start(self._once)

        async def _once(self, *, task_status: Any) -> None:
            task_status.started()
            await anyio.sleep(0.05)
            self.deps["task_group"].cancel_scope.cancel()

    one = OneShot()
    async with TriggerHost(manager(one=one, other=Ticker()), options=FAST) as host:
        await wait_for(lambda: states(host)["one"] == PluginState.stopped)
        await anyio.sleep(0.2)
        assert states(host) == {"one": "stopped", "other": "running"}
    assert one.calls == ["init", "routes", "start", "stop"]


async def test_a_long_healthy_run_resets_the_restart_count() -> None:
    flaky = Ticker(crashes=4)  # crashes every third tick (~30 ms), four times
    options = HostOptions(backoff_initial=0.01, max_restarts=1, stable_after=0.02)
    async with TriggerHost(manager(flaky=flaky), options=options) as host:
        await wait_for(lambda: flaky.crashes_left == 0 and len(flaky.starts) == 5)
        status = host.statuses()[0]
        assert status.state == "running" and status.restarts == 1  # never two in a row


async def test_async_hookimpls_are_awaited_by_the_host() -> None:
    log: list[str] = []

    class AsyncHooks:
        @hookimpl
        async def trigger_init(self, deps: dict[str, Any]) -> None:
            await anyio.sleep(0)
            log.append("init")

        @hookimpl
        async def trigger_start(self, deps: dict[str, Any]) -> None:
            deps["task_group"].start_soon(self._loop)
            log.append("start")

        @hookimpl
        async def trigger_stop(self, deps: dict[str, Any]) -> None:
            await anyio.sleep(0)
            log.append("stop")

        @hookimpl
        async def trigger_routes(self) -> list[str]:
            return ["async-hooks-bp"]

        async def _loop(self) -> None:
            try:
                await anyio.sleep_forever()
            finally:
                log.append("loop cancelled")

    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    pm.register(AsyncHooks(), name="ah")
    async with TriggerHost(pm, options=FAST) as host:
        assert host.routes == ["async-hooks-bp"] and states(host) == {"ah": "running"}
    assert log == ["init", "start", "loop cancelled", "stop"]
