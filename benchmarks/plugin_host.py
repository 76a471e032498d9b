"""What supervision costs: TriggerHost enter+exit versus the bare lifecycle, and plugin loading.

For N anyio-native trigger plugins (each starts one loop in its task group), compare
``async with TriggerHost(...)`` (isolated, bounded calls, one task group per plugin) against the
same init/routes/start/cancel/stop sequence done by hand in a single task group (both include
starting and closing the event loop; building the plugin manager is not timed). Also times
``build_plugin_manager()`` (entry-point discovery of the installed plugins). Medians of 7 runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pluggy

from stargraph.hosting import HostOptions, TriggerHost
from stargraph.plugin import TriggerAdapter, build_plugin_manager, hookspecs

N = 50
RUNS = 7


class Loop:
    def init(self, deps: dict[str, Any]) -> None:
        self.deps = deps

    def start(self) -> None:
        self.deps["task_group"].start_soon(anyio.sleep_forever)

    def stop(self) -> None:
        pass

    def routes(self) -> list[Any]:
        return []


def manager(n: int) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("stargraph")
    pm.add_hookspecs(hookspecs)
    for i in range(n):
        pm.register(TriggerAdapter(Loop()), name=f"p{i}")
    return pm


async def hosted(pm: pluggy.PluginManager) -> None:
    async with TriggerHost(pm, {"scheduler": None}, options=HostOptions()):
        await anyio.lowlevel.checkpoint()


async def bare(n: int) -> None:
    plugins = [Loop() for _ in range(n)]
    async with anyio.create_task_group() as tg:
        for p in plugins:
            p.init({"scheduler": None, "task_group": tg})
            p.routes()
        for p in plugins:
            p.start()
        await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    for p in plugins:
        p.stop()


def median_ms(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def host_ms(backend: str) -> float:
    """Median of enter+exit; the plugin manager (pluggy registration) is built untimed."""
    times = []
    for _ in range(RUNS):
        pm = manager(N)
        began = time.perf_counter()
        anyio.run(hosted, pm, backend=backend)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    print(f"build_plugin_manager(): {median_ms(build_plugin_manager):.2f} ms (installed plugins)")
    for backend in ("asyncio", "trio"):
        base = median_ms(lambda b=backend: anyio.run(bare, N, backend=b))  # type: ignore[misc]
        host = host_ms(backend)
        print(
            f"{backend:7} {N} plugins: bare {base:7.2f} ms, TriggerHost {host:7.2f} ms, "
            f"ratio {host / base:.2f}, per plugin {(host - base) / N * 1000:.0f} us"
        )


if __name__ == "__main__":
    main()
