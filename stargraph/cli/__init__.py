"""The ``stargraph`` command line: ``main()`` is the console script.

Errors print one line (``stargraph: error: ...``) and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stargraph._log import configure_logging
from stargraph.cli._failure import describe_failure
from stargraph.cli._parser import build_parser
from stargraph.cli._where import config_from_args
from stargraph.errors import first_leaf

__all__ = ["config_from_args", "main"]


def _dispatch(args: argparse.Namespace) -> int:
    from stargraph.cli import (
        backfill,
        check,
        commands,
        completion,
        plugins_kit,
        remote,
        runs,
        tools,
    )

    handler = {
        "serve": commands.cmd_serve,
        "run": commands.cmd_run,
        "runs": runs.cmd_runs,
        "config": check.cmd_config_check,
        "completion": completion.cmd_completion,
        "triggers": remote.cmd_triggers,
        "triggers-backfill": backfill.cmd_backfill,
        "plugins": remote.cmd_plugins,
        "plugins-kit": plugins_kit.cmd_plugins_kit,
        "cron": tools.cmd_cron_next,
        "webhook": tools.cmd_webhook_sign,
    }[args.command]
    return handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``stargraph`` with *argv* (default: ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    if args.log_level is None:
        args.log_level = "info" if args.command == "serve" else "warning"
    configure_logging(
        args.log_level, args.log_format, access=not getattr(args, "no_access_log", False)
    )
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        sys.stderr.write("stargraph: interrupted\n")
        return 130
    except Exception as exc:
        if args.log_level == "debug":
            raise
        sys.stderr.write(f"stargraph: error: {describe_failure(first_leaf(exc))}\n")
        return 1
