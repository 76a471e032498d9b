"""``stargraph serve``, ``stargraph run`` and ``stargraph runs list|show|cancel|retry``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime
from functools import partial
from typing import Any

import anyio
import attrs

from stargraph.cli import config_from_args
from stargraph.cli._output import print_json, print_record, print_run, print_table
from stargraph.config import StargraphConfig, StoreConfig, parse_bind
from stargraph.errors import ConfigError, StargraphRuntimeError
from stargraph.scheduler import GraphRegistry, Scheduler
from stargraph.scheduler.cancel import cancel_unless_finished
from stargraph.scheduler.rerun import retry_run
from stargraph.store import open_store
from stargraph.store.base import Run, RunFilter, RunStatus, RunStore, attempt_history
from stargraph.triggers.cron.interval import parse_duration
from stargraph.views import run_to_json

__all__ = ["cmd_run", "cmd_runs", "cmd_serve", "parse_params"]

RUN_COLUMNS = [
    ("run_id", "RUN ID"),
    ("graph_id", "GRAPH"),
    ("status", "STATUS"),
    ("trigger_source", "SOURCE"),
    ("trigger_id", "TRIGGER"),
    ("enqueued_at", "ENQUEUED"),
    ("attempt", "ATTEMPT"),
]


def _config(args: argparse.Namespace) -> StargraphConfig:
    cfg = config_from_args(args)
    if getattr(args, "store", None):
        cfg = attrs.evolve(cfg, store=StoreConfig(url=args.store))
    return cfg


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the whole runtime and its HTTP surface until SIGTERM/SIGINT."""
    from stargraph.serve.server import serve_config

    cfg = _config(args)
    serve = cfg.serve
    if args.bind:
        parse_bind(args.bind, source="--bind")
        serve = attrs.evolve(serve, bind=args.bind)
    if args.backend:
        serve = attrs.evolve(serve, backend=args.backend)
    cfg = attrs.evolve(cfg, serve=serve)
    anyio.run(partial(serve_config, cfg, insecure=args.insecure), backend=serve.backend)
    return 0


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``key=value`` pairs into params; a value that parses as JSON is taken as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"-p expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


@asynccontextmanager
async def _opened(cfg: StargraphConfig) -> AsyncIterator[RunStore]:
    store = open_store(cfg.store.url)
    await store.open()
    try:
        yield store
    finally:
        with anyio.move_on_after(10, shield=True):
            await store.close()


def not_before(args: argparse.Namespace, now: datetime) -> datetime | None:
    """``--at ISO`` (with an offset) or ``--in 10m``; ConfigError naming the flag and value."""
    if getattr(args, "at", None):
        try:
            when = datetime.fromisoformat(args.at)
        except ValueError:
            raise ConfigError(
                f"--at {args.at!r} is not ISO-8601 (2026-12-05T14:05:00+01:00)"
            ) from None
        if when.utcoffset() is None:
            raise ConfigError(f"--at {args.at!r} has no UTC offset; add one such as +01:00 or Z")
        return when
    if getattr(args, "delay", None):
        try:
            return now + parse_duration(args.delay, "--in")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return None


async def _submit(cfg: StargraphConfig, args: argparse.Namespace) -> tuple[Any, Run]:
    registry = GraphRegistry(cfg.load_graphs())
    registry.load_entry_points()
    claim = [args.graph_id] if args.wait else []
    async with (
        _opened(cfg) as store,
        Scheduler(
            store, registry, settings=cfg.scheduler_settings(), claim_graphs=claim
        ) as scheduler,
    ):
        done = await scheduler.submit(
            args.graph_id, parse_params(args.param), args.idempotency_key,
            trigger_source="manual", not_before=not_before(args, scheduler.clock.now()),
        )  # fmt: skip
        if not args.wait:
            return done, await scheduler.get_run(done.run_id)
        timeout = anyio.fail_after(args.timeout) if args.timeout else nullcontext()
        try:
            with timeout:
                return done, await scheduler.wait_run(done.run_id)
        except TimeoutError:
            raise StargraphRuntimeError(
                f"gave up waiting after {args.timeout:g} s; run {done.run_id} is not finished "
                "(it keeps its place in the store)"
            ) from None


def cmd_run(args: argparse.Namespace) -> int:
    """Enqueue a run through the scheduler (as ``POST /v1/runs`` does); maybe wait for it."""
    cfg = _config(args)
    done, run = anyio.run(partial(_submit, cfg, args), backend=cfg.serve.backend)
    if not args.wait:
        body = {"run_id": done.run_id, "status": str(run.status), "deduplicated": done.deduplicated}
        print_json(body) if args.json else print_record(body)
        return 0
    view = run_to_json(run)
    print_json(view) if args.json else print_record(view)
    if run.status is not RunStatus.succeeded:
        sys.stderr.write(f"stargraph: run {run.run_id} ended {run.status}\n")
        return 1
    return 0


async def _runs(cfg: StargraphConfig, args: argparse.Namespace) -> Any:
    async with _opened(cfg) as store:
        # Not entered: no dispatcher or loops run, only the read and cancel paths.
        scheduler = Scheduler(store, settings=cfg.scheduler_settings(), claim_graphs=())
        if args.action == "list":
            flt = RunFilter(
                graph_id=args.graph_id,
                trigger_id=args.trigger_id,
                status=RunStatus(args.status) if args.status else None,
            )
            return await scheduler.list_runs(flt, limit=max(1, args.limit), cursor=args.cursor)
        if args.action == "cancel":
            return await cancel_unless_finished(scheduler, args.run_id)
        if args.action == "retry":
            return await _retry(cfg, store, args.run_id)
        run = await scheduler.get_run(args.run_id)
        return run, attempt_history(run, await store.list_attempts(args.run_id))


async def _retry(cfg: StargraphConfig, store: RunStore, run_id: str) -> dict[str, Any]:
    """Retry *run_id* as ``POST /v1/runs/{id}/retry`` does (claims nothing itself)."""
    registry = GraphRegistry(cfg.load_graphs())
    registry.load_entry_points()
    settings = cfg.scheduler_settings()
    async with Scheduler(store, registry, settings=settings, claim_graphs=[]) as scheduler:
        done = await retry_run(scheduler, run_id)
        status = str((await scheduler.get_run(done.run_id)).status)
    return {"run_id": done.run_id, "status": status, "deduplicated": done.deduplicated,
            "retry_of": run_id}  # fmt: skip


def cmd_runs(args: argparse.Namespace) -> int:
    """List, show or cancel runs in the configured store (cancel as ``POST .../cancel`` does).

    A run running on a serving node is flagged; that node's heartbeat cancels it.
    """
    cfg = _config(args)
    out = anyio.run(partial(_runs, cfg, args), backend=cfg.serve.backend)
    if args.action == "retry":
        print_json(out) if args.json else print_record(out)
        return 0
    if args.action == "show":
        view = run_to_json(*out)
        print_json(view) if args.json else print_run(view)
        return 0
    if args.action != "list":
        view = run_to_json(out)
        print_json(view) if args.json else print_record(view)
        return 0
    items = [run_to_json(r) for r in out.items]
    if args.json:
        print_json({"items": items, "next_cursor": out.next_cursor})
        return 0
    print_table(items, RUN_COLUMNS)
    if out.next_cursor:
        sys.stdout.write(f"more: --cursor {out.next_cursor}\n")
    return 0
