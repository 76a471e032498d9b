"""``stargraph config check``: validate a config without starting anything.

It reads the file, resolves every environment variable it names (a missing one is reported by
its NAME, never a value), imports the graph targets, loads the plugins, and prints what
``stargraph serve`` would run. Every problem is listed; any problem exits 1. No store is opened
and no trigger is started.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stargraph.cli._output import print_json
from stargraph.cli._where import locate_config
from stargraph.config import StargraphConfig, load_config
from stargraph.errors import StargraphError

__all__ = ["cmd_config_check"]

EnvState = tuple[str, str, bool]  # (key path, variable name, is it set)
#: Stands in for a missing secret so the rest of the file is still checked (never printed).
_PLACEHOLDER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


def _env_names(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key path, variable)`` for every ``*_env`` key of the file."""
    found: list[tuple[str, str]] = []
    serve = data.get("serve", {})
    if isinstance(serve, dict) and isinstance(serve.get("api_token_env"), str):
        found.append(("serve.api_token_env", serve["api_token_env"]))
    hooks = data.get("webhook", [])
    for i, hook in enumerate(hooks if isinstance(hooks, list) else []):
        found.extend(
            (f"webhook[{i}].{key}", hook[key])
            for key in ("secret_env", "previous_secret_env")
            if isinstance(hook, dict) and isinstance(hook.get(key), str)
        )
    return found


def _read(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # load_config reports it with the file name


def _plugins(cfg: StargraphConfig, problems: list[str]) -> list[dict[str, Any]]:
    from stargraph.plugin._report import load_report
    from stargraph.plugin.loader import build_plugin_manager

    records = load_report(build_plugin_manager(disable=cfg.plugins.disable)).records
    problems.extend(
        f"plugin {r.name}: cannot be loaded ({r.error})"
        for r in records
        if r.status == "load_failed"
    )
    return [{"name": r.name, "status": r.status, "error": r.error} for r in records]


def _graphs(cfg: StargraphConfig, problems: list[str]) -> list[dict[str, Any]]:
    from stargraph.scheduler import GraphRegistry

    try:
        registry = GraphRegistry(cfg.load_graphs())
        registry.load_entry_points()
        cfg.check_trigger_graphs(registry.ids())
    except StargraphError as exc:
        problems.append(str(exc))
        return []
    return [
        {"graph_id": g.graph_id, "target": g.target, "max_attempts": g.policy.max_attempts}
        for g in cfg.graphs
    ]


def _summary(cfg: StargraphConfig, problems: list[str]) -> dict[str, Any]:
    from stargraph.store import _redact
    from stargraph.triggers.cron import next_fires
    from stargraph.triggers.cron.interval import every_text

    now = datetime.now(UTC)
    cron = []
    for spec in cfg.cron:
        (nxt,) = next_fires(spec, now, 1) or (None,)
        cron.append(
            {
                "trigger_id": spec.trigger_id,
                "schedule": spec.schedule,
                "tz": spec.tz,
                "graph_id": spec.graph_id,
                "next_fire": None if nxt is None else nxt.astimezone(UTC).isoformat(),
            }
        )
    return {
        "config": str(cfg.path) if cfg.path else None,
        "store": _redact(cfg.store.url),
        "serve": {"bind": cfg.serve.bind, "backend": cfg.serve.backend},
        "graphs": _graphs(cfg, problems),
        "cron": cron,
        "interval": [
            {
                "trigger_id": i.trigger_id,
                "schedule": every_text(i.every),
                "overlap": str(i.overlap),
                "graph_id": i.graph_id,
            }
            for i in cfg.interval
        ],
        "webhook": [
            {"trigger_id": w.trigger_id, "path": w.path, "scheme": w.scheme, "graph_id": w.graph_id}
            for w in cfg.webhook
        ],
        "deps": sorted(cfg.deps),
        "plugins": _plugins(cfg, problems),
    }


def _print(summary: dict[str, Any], env: list[EnvState]) -> None:
    out = sys.stdout.write
    out(f"config   {summary['config'] or '(none: built-in defaults)'}\n")
    out(f"store    {summary['store']}\n")
    out(f"serve    {summary['serve']['bind']} on {summary['serve']['backend']}\n")
    for g in summary["graphs"]:
        out(f"graph    {g['graph_id']} = {g['target']} (max_attempts {g['max_attempts']})\n")
    for c in summary["cron"]:
        out(
            f"cron     {c['trigger_id']}: {c['schedule']!r} in {c['tz']} -> {c['graph_id']}"
            f", next {c['next_fire']}\n"
        )
    for i in summary["interval"]:
        out(
            f"interval {i['trigger_id']}: {i['schedule']} (overlap {i['overlap']}) "
            f"-> {i['graph_id']}\n"
        )
    for w in summary["webhook"]:
        out(f"webhook  {w['trigger_id']}: POST {w['path']} ({w['scheme']}) -> {w['graph_id']}\n")
    for key, name, ok in env:
        out(f"env      {name} ({key}): {'set' if ok else 'NOT SET'}\n")
    for p in summary["plugins"]:
        out(f"plugin   {p['name']}: {p['status']}{' (' + p['error'] + ')' if p['error'] else ''}\n")
    if summary["deps"]:
        out(f"deps     {', '.join(summary['deps'])}\n")


def _load(path: str | None) -> tuple[StargraphConfig | None, list[EnvState], list[str]]:
    """Load *path* with placeholders for missing secrets; return the env report and problems."""
    env_state = [(key, name, bool(os.environ.get(name))) for key, name in _env_names(_read(path))]
    problems = [
        f"{key}: environment variable {name} is not set or empty"
        for key, name, ok in env_state
        if not ok
    ]
    missing = {name: _PLACEHOLDER for _, name, ok in env_state if not ok}
    try:
        return load_config(path, env={**os.environ, **missing}), env_state, problems
    except StargraphError as exc:
        return None, env_state, [*problems, str(exc)]


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate the config and print what would run; exit 1 on any problem."""
    path, origin = locate_config(args.config)
    if path is None:
        sys.stderr.write("stargraph: warning: no config file found; checking the defaults\n")
    else:
        sys.stderr.write(f"stargraph: config {path} (from {origin})\n")
    cfg, env_state, problems = _load(path)
    summary = None if cfg is None else _summary(cfg, problems)
    if args.json:
        print_json({"ok": not problems, "problems": problems, "would_run": summary})
    elif summary is not None:
        _print(summary, env_state)
    for problem in problems:
        sys.stderr.write(f"stargraph: problem: {problem}\n")
    if problems:
        sys.stderr.write(f"stargraph: config check failed ({len(problems)} problem(s))\n")
        return 1
    sys.stderr.write("stargraph: config OK (nothing was started)\n")
    return 0
