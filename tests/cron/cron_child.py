"""A child process for crash and multi-process tests: a real Runtime with an every-second cron.

Usage: ``python cron_child.py STORE_URL SECONDS BACKEND``. Prints ``ready`` once the runtime
runs, then after SECONDS leaves the runtime cleanly and prints its enqueue counters as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import anyio

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.triggers.cron import CronSpec


async def work(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep(0.01)


async def main(url: str, seconds: float) -> None:
    spec = CronSpec(
        trigger_id="tick",
        schedule="* * * * * *",
        graph_id="work",
        missed_fire_policy="fire_all",
        catchup_window=timedelta(hours=1),
    )
    async with Runtime(
        url,
        graphs=[Graph(graph_id="work", fn=work)],
        deps={"cron_specs": [spec]},
        graph_entry_points=False,
    ) as rt:
        print("ready", flush=True)
        await anyio.sleep(seconds)
        reg = rt.metrics.registry
        labels = {"graph_id": "work", "trigger_source": "cron"}
        counts = {
            "enqueued": reg.get_sample_value("stargraph_runs_enqueued_total", labels) or 0,
            "deduplicated": reg.get_sample_value("stargraph_runs_deduplicated_total", labels) or 0,
        }
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], float(sys.argv[2]), backend=sys.argv[3])
