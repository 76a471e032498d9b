"""A child process for crash and multi-process tests: a real Runtime with one time trigger.

Usage: ``python cron_child.py STORE_URL SECONDS BACKEND [KIND]``. KIND is ``cron`` (default:
an every-second cron) or ``interval:EVERY[:START_EPOCH]`` (an interval trigger every EVERY
seconds, anchored at START_EPOCH or, without it, at the anchor persisted in the store). The
trigger id is ``tick`` either way. Prints ``ready`` once the runtime runs, then after SECONDS
leaves the runtime cleanly and prints its enqueue counters (read after it stopped) as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from stargraph.runtime import Runtime
from stargraph.scheduler import Graph, RunContext
from stargraph.triggers.cron import CronSpec
from stargraph.triggers.cron.interval import IntervalSpec, TimeSpec


async def work(params: dict[str, Any], ctx: RunContext) -> None:
    await anyio.sleep(0.01)


def make_spec(kind: str) -> TimeSpec:
    """The ``tick`` trigger for *kind* (see the module docstring); fire_all, 1 h window."""
    window = timedelta(hours=1)
    if kind == "cron":
        return CronSpec(
            trigger_id="tick", schedule="* * * * * *", graph_id="work",
            missed_fire_policy="fire_all", catchup_window=window,
        )  # fmt: skip
    _, every, *start = kind.split(":")
    start_at = datetime.fromtimestamp(int(start[0]), UTC) if start else None
    return IntervalSpec(
        trigger_id="tick", every=int(every), graph_id="work", start_at=start_at,
        missed_fire_policy="fire_all", catchup_window=window,
    )  # fmt: skip


async def main(url: str, seconds: float, kind: str) -> None:
    spec = make_spec(kind)
    async with Runtime(
        url,
        graphs=[Graph(graph_id="work", fn=work)],
        deps={f"{spec.kind}_specs": [spec]},
        graph_entry_points=False,
    ) as rt:
        print("ready", flush=True)
        await anyio.sleep(seconds)
    # Read once the runtime has stopped: read inside, a fire between the read and the stop
    # (a slow shutdown under load) made a run that no counter here showed.
    reg = rt.metrics.registry
    labels = {"graph_id": "work", "trigger_source": spec.kind}
    counts = {
        "enqueued": reg.get_sample_value("stargraph_runs_enqueued_total", labels) or 0,
        "deduplicated": reg.get_sample_value("stargraph_runs_deduplicated_total", labels) or 0,
    }
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    kind = sys.argv[4] if len(sys.argv) > 4 else "cron"
    anyio.run(main, sys.argv[1], float(sys.argv[2]), kind, backend=sys.argv[3])
