"""The isolating dispatcher: one bad plugin never stops the others, sync or async, hung or not."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import anyio
import pluggy
import pytest
from _settings import HANG_BOUND

from stargraph.errors import StargraphRuntimeError
from stargraph.plugin import TriggerAdapter, hookimpl, hookspecs
from stargraph.plugin.triggers_dispatcher import (
    acollect_trigger_routes,
    adispatch_trigger_lifecycle,
    collect_trigger_routes,
    dispatch_trigger_lifecycle,
    flatten_routes,
)


class Hooks:
    """A hookimpl plugin whose every hook records its call and may raise."""

    def __init__(self, tag: str, log: list[str], fail: bool = False) -> None:
        self.tag, self.log, self.fail = tag, log, fail

    def _act(self, hook: str) -> str:
        self.log.append(f"{self.tag}.{hook}")
        if self.fail:
            raise RuntimeError(f"{self.tag} exploded in {hook}")
        return f"{self.tag}-{hook}"

    @hookimpl
    def trigger_init(self, deps: dict[str, Any]) -> str:
        return self._act("init")

    @hookimpl
    def trigger_start(self, deps: dict[str, Any]) -> str:
        return self._act("start")

    @hookimpl
    def trigger_routes(self) -> list[str]:
        self._act("routes")
        return [f"{self.tag}-bp"]


class AsyncTrigger:
    """A Trigger with async methods; ``hang`` makes init and start never return."""

    def __init__(self, log: list[str], hang: bool = False) -> None:
        self.log, self.hang = log, hang

    async def init(self, deps: dict[str, Any]) -> str:
        self.log.append("async.init")
        if self.hang:
            await anyio.sleep_forever()
        await anyio.sleep(0)
        return "async-init"

    async def start(self) -> None:
        self.log.append("async.start")

    async def stop(self) -> None:
        self.log.append("async.stop")

    async def routes(self) -> list[str]:
        return ["async-bp"]


def manager(*plugins: tuple[str, object]) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


def test_one_bad_plugin_among_several(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    pm = manager(("a", Hooks("a", log)), ("b", Hooks("b", log, fail=True)), ("c", Hooks("c", log)))
    with caplog.at_level(logging.INFO, logger="stargraph.triggers"):
        results = dispatch_trigger_lifecycle(pm, "trigger_init", {"scheduler": object()})
    assert log == ["a.init", "b.init", "c.init"]  # load order, everyone called
    assert [(r.plugin_name, r.success, r.result) for r in results] == [
        ("a", True, "a-init"),
        ("b", False, None),
        ("c", True, "c-init"),
    ]
    assert isinstance(results[1].error, RuntimeError)
    (event,) = [r for r in caplog.records if r.getMessage() == "trigger.lifecycle.failed"]
    assert event.stargraph == {  # type: ignore[attr-defined]
        "plugin": "b",
        "hook": "trigger_init",
        "error_type": "RuntimeError",
        "message": "b exploded in init",
    }


def test_plugins_without_the_hook_get_no_result() -> None:
    log: list[str] = []
    pm = manager(("a", Hooks("a", log)), ("t", TriggerAdapter(AsyncTrigger(log))))
    assert [r.plugin_name for r in dispatch_trigger_lifecycle(pm, "trigger_stop", {})] == ["t"]
    assert [r.plugin_name for r in dispatch_trigger_lifecycle(pm, "trigger_start", {})] == [
        "a",
        "t",
    ]


def test_sync_dispatch_refuses_coroutines_without_leaking_them() -> None:
    log: list[str] = []
    pm = manager(("t", TriggerAdapter(AsyncTrigger(log))), ("a", Hooks("a", log)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (bad, good) = dispatch_trigger_lifecycle(pm, "trigger_init", {})
    assert not bad.success and isinstance(bad.error, StargraphRuntimeError)
    assert "adispatch_trigger_lifecycle" in str(bad.error)
    assert good.success and log == ["a.init"]  # the coroutine was closed, never run


def test_unknown_hook_name_is_refused() -> None:
    with pytest.raises(ValueError, match="trigger_launch"):
        dispatch_trigger_lifecycle(manager(), "trigger_launch", {})


def test_collect_routes_isolates_failures_and_bad_return_values() -> None:
    log: list[str] = []

    class NotAList:
        @hookimpl
        def trigger_routes(self) -> str:
            return "a blueprint, not a list"

    pm = manager(
        ("a", Hooks("a", log)),
        ("b", Hooks("b", log, fail=True)),
        ("n", NotAList()),
        ("c", Hooks("c", log)),
    )
    results = collect_trigger_routes(pm)
    assert [r.success for r in results] == [True, False, False, True]
    assert isinstance(results[2].error, TypeError)
    assert flatten_routes(results) == ["a-bp", "c-bp"]


async def test_async_dispatch_awaits_and_isolates() -> None:
    log: list[str] = []
    pm = manager(
        ("a", Hooks("a", log)),
        ("t", TriggerAdapter(AsyncTrigger(log))),
        ("b", Hooks("b", log, fail=True)),
    )
    results = await adispatch_trigger_lifecycle(pm, "trigger_init", {})
    assert [(r.plugin_name, r.success, r.result) for r in results] == [
        ("a", True, "a-init"),
        ("t", True, "async-init"),
        ("b", False, None),
    ]
    routes = await acollect_trigger_routes(pm)
    assert flatten_routes(routes) == ["a-bp", "async-bp"]


async def test_async_dispatch_bounds_a_hung_hook(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    pm = manager(("hung", TriggerAdapter(AsyncTrigger(log, hang=True))), ("a", Hooks("a", log)))
    started = time.monotonic()
    with anyio.fail_after(5):
        results = await adispatch_trigger_lifecycle(pm, "trigger_init", {}, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < HANG_BOUND
    assert isinstance(results[0].error, TimeoutError)
    assert str(results[0].error) == "trigger_init did not return within 0.2 s"
    assert results[1].success and log == ["async.init", "a.init"]
    assert any(r.getMessage() == "trigger.lifecycle.failed" for r in caplog.records)


async def test_outer_cancellation_is_not_swallowed() -> None:
    log: list[str] = []
    pm = manager(("hung", TriggerAdapter(AsyncTrigger(log, hang=True))), ("a", Hooks("a", log)))
    with anyio.move_on_after(0.1) as scope:
        await adispatch_trigger_lifecycle(pm, "trigger_init", {}, timeout=None)
    assert scope.cancelled_caught
    assert log == ["async.init"]  # cancellation stopped the dispatch; "a" was never reached
