"""What the console pages show, read through the same functions the REST API handlers use."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stargraph.serve._triggers import describe_all, plugin_statuses
from stargraph.serve.api_runs import FILTER_KEYS, run_filter
from stargraph.serve.console._charts import build_chart, fire_lag
from stargraph.store.base import RunFilter, RunStatus

if TYPE_CHECKING:
    from stargraph.hosting import PluginStatus
    from stargraph.runtime import Runtime

__all__ = ["SAMPLE", "console_filter", "overview"]

#: Finished runs the overview reads at most (newest first); the charts say when they are cut.
SAMPLE = 5_000
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
_LOCAL_INPUT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$")
_PROBLEM_STATES = {"failed", "load_failed", "restarting", "stopped"}


def console_filter(args: Mapping[str, str]) -> tuple[RunFilter, int, str | None, dict[str, str]]:
    """The runs filter of a console form: ``GET /v1/runs`` rules, empty fields left out.

    A ``datetime-local`` value (no offset) is read as UTC. Returns the parsed filter, limit and
    cursor, and the non-empty query values (to build the next page's link).
    """
    given = {k: v.strip() for k, v in args.items() if k in FILTER_KEYS and v.strip()}
    for name in ("since", "until"):
        if name in given and _LOCAL_INPUT.match(given[name]):
            given[name] += "+00:00"
    flt, limit, cursor = run_filter(given)
    return flt, limit, cursor, given


async def overview(runtime: Runtime) -> dict[str, Any]:
    """Counts, charts, fire lag and what needs attention, for the overview page."""
    now = datetime.now(UTC)
    counts = await runtime.store.count_by_status()
    rows = await runtime.store.finished_since(now - DAY, limit=SAMPLE)
    oldest = rows[-1].finished_at if rows else now
    triggers = await describe_all(runtime)
    plugins = plugin_statuses(runtime)
    return {
        "now": now,
        "counts": {str(status): counts.get(status, 0) for status in RunStatus},
        "queue_depth": counts.get(RunStatus.pending, 0),
        "running": counts.get(RunStatus.running, 0),
        "hour": build_chart("Last hour", rows, now, HOUR, 60, _covers(rows, oldest, now - HOUR)),
        "day": build_chart("Last day", rows, now, DAY, 96, _covers(rows, oldest, now - DAY)),
        "lag": fire_lag([r for r in rows if r.finished_at >= now - HOUR]),
        "bad_triggers": [t for t in triggers if t["paused"] or t["error"]],
        "bad_plugins": [p for p in plugins if _failing(p)],
    }


def _failing(plugin: PluginStatus) -> bool:
    """Down, or back up after a crash and not yet stable (it may be between two failures)."""
    return str(plugin.state) in _PROBLEM_STATES or (
        plugin.error is not None and plugin.restarts > 0
    )


def _covers(rows: list[Any], oldest: datetime, start: datetime) -> bool:
    return len(rows) < SAMPLE or oldest <= start
