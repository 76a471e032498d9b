"""``stargraph serve`` and ``stargraph run`` (``runs list|show|cancel`` live in ``runs.py``).

``stargraph run`` enqueues straight into the configured store, as ``POST /v1/runs`` does. With
``--wait`` it also runs a scheduler for that one graph in this process: whichever process
claims the run first executes it (a running server, usually; this process when no server
runs). The progress lines on stderr say which one did.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from functools import partial
from typing import Any

import anyio
import attrs

from stargraph.cli._opened import opened_store
from stargraph.cli._output import print_json, print_record
from stargraph.cli._progress import Progress
from stargraph.cli._where import config_from_args
from stargraph.config import StargraphConfig, parse_bind
from stargraph.errors import ConfigError, StargraphRuntimeError
from stargraph.scheduler import GraphRegistry, Scheduler
from stargraph.store.base import Run, RunStatus
from stargraph.triggers.cron.interval import parse_duration
from stargraph.views import run_to_json

__all__ = ["cmd_run", "cmd_serve", "parse_params"]


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the whole runtime and its HTTP surface until SIGTERM/SIGINT."""
    from stargraph.serve.server import serve_config

    cfg = config_from_args(args)
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


async def _submit(cfg: StargraphConfig, args: argparse.Namespace, progress: Progress) -> Any:
    registry = GraphRegistry(cfg.load_graphs())
    registry.load_entry_points()
    claim = [args.graph_id] if args.wait else []
    async with (
        opened_store(cfg) as store,
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
        progress.begin(done.run_id, scheduler.node_id)
        timeout = anyio.fail_after(args.timeout) if args.timeout else nullcontext()
        try:
            with timeout:
                return done, await progress.follow(scheduler, cfg.scheduler.poll_interval)
        except TimeoutError:
            raise StargraphRuntimeError(
                f"gave up waiting after {args.timeout:g} s; run {done.run_id} is not finished "
                "(it keeps its place in the store)"
            ) from None


def cmd_run(args: argparse.Namespace) -> int:
    """Enqueue a run through the scheduler (as ``POST /v1/runs`` does); maybe wait for it."""
    cfg = config_from_args(args)
    progress = Progress(quiet=not args.wait)
    try:
        done, run = anyio.run(partial(_submit, cfg, args, progress), backend=cfg.serve.backend)
    except KeyboardInterrupt:
        progress.interrupted(_final(cfg, progress.run_id))
        return 130
    if not args.wait:
        body = {"run_id": done.run_id, "status": str(run.status), "deduplicated": done.deduplicated}
        print_json(body) if args.json else print_record(body)
        return 0
    return _finished(args, run)


def _final(cfg: StargraphConfig, run_id: str | None) -> Run | None:
    """The run as the store holds it after this process stopped (``None`` if unknown)."""

    async def read() -> Run | None:
        async with opened_store(cfg) as store:
            return await store.get_run(run_id) if run_id else None

    try:
        return anyio.run(read, backend=cfg.serve.backend)
    except (Exception, KeyboardInterrupt):
        return None


def _finished(args: argparse.Namespace, run: Run) -> int:
    view = run_to_json(run)
    print_json(view) if args.json else print_record(view)
    if run.status is not RunStatus.succeeded:
        sys.stderr.write(f"stargraph: run {run.run_id} ended {run.status}\n")
        return 1
    return 0
