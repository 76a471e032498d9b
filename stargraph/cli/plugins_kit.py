"""``stargraph plugins check`` (the conformance suite) and ``plugins new`` (a scaffold)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stargraph._imports import load_object
from stargraph.cli._output import print_json
from stargraph.errors import ConfigError

__all__ = ["add_kit_parsers", "cmd_plugins_kit"]


def add_kit_parsers(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``check`` and ``new`` under ``stargraph plugins``."""
    actions.metavar = "{list,check,new}"
    check = actions.add_parser(
        "check", parents=[common], help="run the conformance suite against one trigger plugin"
    )
    check.add_argument(
        "entry", metavar="ENTRY", help="dist:group:name, an entry-point name, or module:Class"
    )
    check.add_argument(
        "--deps",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a deps key (VALUE parsed as JSON when valid; {workdir} is a throw-away folder)",
    )
    check.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    check.add_argument(
        "--signal", metavar="MODULE:FUNCTION", help="makes the trigger fire: fn(ctx), see docs"
    )
    check.add_argument("--timeout", type=float, default=5.0, help="bound on each lifecycle call")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(command="plugins-kit")
    new = actions.add_parser("new", parents=[common], help="write a ready trigger package")
    new.add_argument("name", metavar="NAME", help="the trigger's name, e.g. inbox")
    new.add_argument("--dir", default=".", help="where to create the folder (default: .)")
    new.set_defaults(command="plugins-kit")


def _deps(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--deps {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _config_deps(args: argparse.Namespace) -> dict[str, Any]:
    if not args.config:
        return {}
    from stargraph.cli import config_from_args

    return config_from_args(args).runtime_deps()


def cmd_plugins_kit(args: argparse.Namespace) -> int:
    """Dispatch ``plugins check`` and ``plugins new``."""
    if args.action == "new":
        from stargraph.plugin.check.scaffold import write_package

        folder = write_package(args.name, Path(args.dir))
        sys.stdout.write(f"wrote {folder}\n  next: pip install -e {folder} && pytest {folder}\n")
        return 0
    from stargraph.plugin.check import run_checks

    signal = load_object(args.signal, "--signal") if args.signal else None
    backends = ("asyncio", "trio") if args.backend == "both" else (args.backend,)
    deps = {**_config_deps(args), **_deps(args.deps)}
    report = run_checks(args.entry, deps, backends=backends, signal=signal, timeout=args.timeout)
    if args.json:
        print_json(report.to_json())
    else:
        sys.stdout.write(report.text() + "\n")
    return 0 if report.ok else 1
