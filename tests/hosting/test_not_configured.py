"""Absent deps are ``not_configured`` (idle), not ``failed``; asyncio-only plugins on trio fail
once with a reason instead of being restarted (issue 15, defect 8)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from test_trigger_host import FAST, Ticker, manager, states

from stargraph.errors import TriggerNotConfigured
from stargraph.hosting import PluginState, TriggerHost
from stargraph.metrics import Metrics


class SeedLike:
    """The how-to's shape: reads deps by key, loops with ``asyncio.create_task``."""

    def __init__(self) -> None:
        self.task: Any = None
        self.starts = 0

    def init(self, deps: dict[str, Any]) -> None:
        self.path = deps["watch_path"]

    def start(self) -> None:
        self.starts += 1
        self.task = asyncio.create_task(asyncio.sleep(3600))

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def routes(self) -> list[Any]:
        return []


class Declares:
    def init(self, deps: dict[str, Any]) -> None:
        raise TriggerNotConfigured("declares needs deps['inbox']: add it to [deps]")

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def routes(self) -> list[Any]:
        return []


class BuggyInit:
    def init(self, deps: dict[str, Any]) -> None:
        raise KeyError("present")  # a key the deps hold: a bug, not a missing setting

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def routes(self) -> list[Any]:
        return []


async def test_absent_deps_are_not_configured_not_failed() -> None:
    metrics = Metrics()
    pm = manager(seed=SeedLike(), declares=Declares(), buggy=BuggyInit(), good=Ticker())
    deps = {"present": {}, "metrics": metrics}
    async with TriggerHost(pm, deps, options=FAST) as host:
        status = {s.name: s for s in host.statuses()}
        assert status["seed"].state == PluginState.not_configured
        assert status["seed"].error == (
            "deps['watch_path'] is not set: add watch_path to the config's [deps] table"
        )
        assert status["declares"].state == "not_configured"
        assert status["declares"].error == "declares needs deps['inbox']: add it to [deps]"
        # a KeyError naming a key the deps hold is a real failure
        assert status["buggy"].state == "failed"
        assert status["good"].state == "running"
        rendered = metrics.render().decode()
        assert 'stargraph_trigger_state{plugin="seed",state="not_configured"} 1.0' in rendered


# The plugin builds its coroutine before asyncio.create_task refuses on trio: expected here.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_asyncio_only_plugin_on_trio_fails_once_with_the_reason(
    anyio_backend: str,
) -> None:
    seed = SeedLike()
    pm = manager(seed=seed)
    async with TriggerHost(pm, {"watch_path": "/tmp"}, options=FAST) as host:
        if anyio_backend == "asyncio":
            assert states(host) == {"seed": PluginState.running}
            return
        await anyio.sleep(FAST.backoff_initial * 4)  # a restart would have happened by now
        (status,) = host.statuses()
        assert status.state == "failed"
        assert status.error is not None and status.error.startswith(
            "asyncio-only (uses asyncio.create_task)"
        )
        assert (seed.starts, status.restarts) == (1, 0)
