"""``stargraph runs list|show|cancel|retry``: read, cancel and retry runs in the configured store.

The read commands never create a store: with no SQLite file yet they say so and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio

from stargraph.cli._opened import opened_store
from stargraph.cli._output import print_json, print_record, print_run, print_table, terminal_width
from stargraph.cli._times import format_duration, parse_instant, short_time
from stargraph.cli._where import config_from_args, require_store
from stargraph.config import StargraphConfig
from stargraph.errors import RunNotFound
from stargraph.scheduler import GraphRegistry, Scheduler
from stargraph.scheduler.cancel import cancel_unless_finished
from stargraph.scheduler.rerun import retry_run
from stargraph.store.base import Run, RunFilter, RunStatus, RunStore, attempt_history
from stargraph.views import run_to_json

__all__ = ["NARROW_COLUMNS", "WIDE_COLUMNS", "cmd_runs", "run_row"]

NARROW_COLUMNS = [
    ("id", "RUN"),
    ("graph_id", "GRAPH"),
    ("status", "STATUS"),
    ("trigger_source", "SOURCE"),
    ("enqueued", "ENQUEUED (UTC)"),
    ("took", "TOOK"),
    ("finished", "FINISHED"),
    ("error_text", "ERROR"),
]
WIDE_COLUMNS = [
    ("run_id", "RUN ID"),
    ("graph_id", "GRAPH"),
    ("status", "STATUS"),
    ("trigger_source", "SOURCE"),
    ("trigger_id", "TRIGGER"),
    ("attempt", "ATTEMPT"),
    ("enqueued_at", "ENQUEUED"),
    ("took", "TOOK"),
    ("finished_at", "FINISHED"),
    ("error_text", "ERROR"),
]
_ID_CHARS = 8  # `runs show` and `runs cancel` accept this prefix
_PREFIX_SCAN = 1000


def run_row(run: Run, now: datetime) -> dict[str, Any]:
    """The API view of *run* plus the table's derived cells."""
    row = run_to_json(run)
    took = None
    if run.started_at is not None:
        took = ((run.finished_at or now) - run.started_at).total_seconds()
    same_day = run.finished_at is not None and run.finished_at.date() == run.enqueued_at.date()
    row.update(
        id=run.run_id[:_ID_CHARS],
        enqueued=short_time(run.enqueued_at),
        took=format_duration(took),
        finished=short_time(run.finished_at, date=not same_day),
        error_text=None if run.error is None else f"{run.error.type}: {run.error.message}",
    )
    return row


def _filter(args: argparse.Namespace) -> RunFilter:
    now = datetime.now(UTC)
    return RunFilter(
        graph_id=args.graph_id,
        trigger_id=args.trigger_id,
        status=RunStatus(args.status) if args.status else None,
        enqueued_after=parse_instant(args.since, "--since", now) if args.since else None,
        enqueued_before=parse_instant(args.until, "--until", now) if args.until else None,
    )


async def _find(scheduler: Scheduler, run_id: str) -> Run:
    """The run with *run_id*, or the one recent run whose id starts with it."""
    try:
        return await scheduler.get_run(run_id)
    except RunNotFound:
        if len(run_id) < _ID_CHARS // 2:
            raise
    page = await scheduler.list_runs(RunFilter(), limit=_PREFIX_SCAN, cursor=None)
    found = [r for r in page.items if r.run_id.startswith(run_id)]
    if len(found) != 1:
        raise RunNotFound(run_id)
    return found[0]


async def _runs(cfg: StargraphConfig, args: argparse.Namespace) -> Any:
    async with opened_store(cfg) as store:
        # Not entered: no dispatcher or loops run, only the read and cancel paths.
        scheduler = Scheduler(store, settings=cfg.scheduler_settings(), claim_graphs=())
        if args.action == "list":
            limit = max(1, args.limit)
            return await scheduler.list_runs(_filter(args), limit=limit, cursor=args.cursor)
        run = await _find(scheduler, args.run_id)
        if args.action == "cancel":
            return await cancel_unless_finished(scheduler, run.run_id)
        if args.action == "retry":
            return await _retry(cfg, store, run.run_id)
        return run_to_json(run, attempt_history(run, await store.list_attempts(run.run_id)))


async def _retry(cfg: StargraphConfig, store: RunStore, run_id: str) -> dict[str, Any]:
    """Retry *run_id* as ``POST /v1/runs/{id}/retry`` does (this process claims nothing)."""
    registry = GraphRegistry(cfg.load_graphs())
    registry.load_entry_points()
    settings = cfg.scheduler_settings()
    async with Scheduler(store, registry, settings=settings, claim_graphs=[]) as scheduler:
        done = await retry_run(scheduler, run_id)
        status = str((await scheduler.get_run(done.run_id)).status)
    return {
        "run_id": done.run_id,
        "status": status,
        "deduplicated": done.deduplicated,
        "retry_of": run_id,
    }


def cmd_runs(args: argparse.Namespace) -> int:
    """List, show, cancel or retry runs in the store (as the API's ``cancel`` and ``retry`` do).

    A run running on a serving node is flagged; that node's heartbeat cancels it.
    """
    cfg = config_from_args(args)
    require_store(cfg)
    out = anyio.run(partial(_runs, cfg, args), backend=cfg.serve.backend)
    if args.action == "show":  # with its attempts and tracebacks
        print_json(out) if args.json else print_run(out)
        return 0
    if args.action == "retry":
        print_json(out) if args.json else print_record(out)
        return 0
    if isinstance(out, Run):
        view = run_to_json(out)
        print_json(view) if args.json else print_record(view)
        return 0
    if args.json:
        print_json({"items": [run_to_json(r) for r in out.items], "next_cursor": out.next_cursor})
        return 0
    now = datetime.now(UTC)
    rows = [run_row(r, now) for r in out.items]
    if args.wide:
        print_table(rows, WIDE_COLUMNS)
    else:
        print_table(rows, NARROW_COLUMNS, width=terminal_width(), shrink=["error_text", "graph_id"])
    if out.next_cursor:
        sys.stdout.write(f"more: --cursor {out.next_cursor}\n")
    return 0
