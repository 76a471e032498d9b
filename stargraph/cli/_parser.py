"""The ``stargraph`` argument parser (DESIGN §6 command table)."""

from __future__ import annotations

import argparse

from stargraph import __version__

__all__ = ["build_parser"]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $STARGRAPH_CONFIG, else ./stargraph.toml "
        "if it exists, else built-in defaults)",
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: info for serve, warning otherwise",
    )
    common.add_argument("--log-format", default="text", choices=["text", "json"])
    return common


def _serve(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    c: argparse.ArgumentParser,
) -> None:
    p = sub.add_parser("serve", parents=[c], help="run the whole runtime and its HTTP API")
    p.add_argument("--backend", choices=["asyncio", "trio"])
    p.add_argument("--bind", metavar="HOST:PORT")
    p.add_argument("--store", metavar="URL")
    p.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback bind without an API token"
    )
    p.add_argument(
        "--no-access-log",
        action="store_true",
        help="no http.access line per request (default: one per request at INFO)",
    )
    p.set_defaults(command="serve")


def _run(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    c: argparse.ArgumentParser,
) -> None:
    p = sub.add_parser("run", parents=[c], help="enqueue a run (same path as POST /v1/runs)")
    p.add_argument("graph_id", metavar="GRAPH")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a param (VALUE is parsed as JSON when it is valid JSON); repeatable",
    )
    p.add_argument("--idempotency-key", metavar="K")
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--at", metavar="ISO", help="start no earlier than this instant (with offset)"
    )
    when.add_argument("--in", dest="delay", metavar="DURATION", help="start after 30s, 10m, 2h, 1d")
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the terminal state (executing here if no server does)",
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this")
    p.add_argument("--store", metavar="URL")
    p.set_defaults(command="run")


def _runs(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    c: argparse.ArgumentParser,
) -> None:
    runs = sub.add_parser("runs", help="inspect runs in the store").add_subparsers(
        dest="action", required=True, metavar="{list,show,cancel,retry}"
    )
    ls = runs.add_parser("list", parents=[c], help="list runs, newest first")
    ls.add_argument("--graph", dest="graph_id")
    ls.add_argument("--status", choices=["pending", "running", "succeeded", "failed", "cancelled"])
    ls.add_argument("--trigger", dest="trigger_id")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--cursor")
    for name, text in (
        ("show", "show one run with its attempts and tracebacks"),
        ("cancel", "cancel a pending or running run"),
        ("retry", "retry a finished run as a new run (same graph and params, retry_of set)"),
    ):
        p = runs.add_parser(name, parents=[c], help=text)
        p.add_argument("run_id", metavar="ID")
    for p in runs.choices.values():
        p.add_argument("--store", metavar="URL")
        p.set_defaults(command="runs")


def _remote(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    c: argparse.ArgumentParser,
) -> None:
    for noun, text in (("triggers", "the hosted triggers"), ("plugins", "the plugins")):
        p = sub.add_parser(noun, help=f"{text} of a running server").add_subparsers(
            dest="action", required=True, metavar="{list}"
        )
        ls = p.add_parser("list", parents=[c], help=f"list {text} and their state")
        ls.add_argument("--url", help="server URL (default: from [serve] bind)")
        ls.set_defaults(command=noun)
        if noun == "triggers":
            from stargraph.cli.backfill import add_backfill_parser

            add_backfill_parser(p, c)


def _tools(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    c: argparse.ArgumentParser,
) -> None:
    cron = sub.add_parser("cron", help="cron tools").add_subparsers(
        dest="action", required=True, metavar="{next}"
    )
    nxt = cron.add_parser("next", parents=[c], help="preview the planned fires of a schedule")
    nxt.add_argument("expr", metavar="EXPR", help="5 fields, or 6 with seconds last")
    nxt.add_argument("--tz", default="UTC")
    nxt.add_argument("--after", metavar="ISO", help="start instant (default: now)")
    nxt.add_argument("-n", dest="count", type=int, default=5)
    nxt.add_argument("--trigger-id", default="cli", help="seeds hashed (H) fields")
    nxt.set_defaults(command="cron")
    hook = sub.add_parser("webhook", help="webhook tools").add_subparsers(
        dest="action", required=True, metavar="{sign}"
    )
    sign = hook.add_parser("sign", parents=[c], help="print the headers a sender would send")
    sign.add_argument(
        "--scheme",
        required=True,
        choices=["stargraph", "standard-webhooks", "github", "stripe", "slack"],
    )
    sign.add_argument(
        "--secret-env", required=True, metavar="VAR", help="environment variable holding the secret"
    )
    sign.add_argument("--body-file", metavar="F", help="the body to sign (default: stdin)")
    sign.add_argument("--timestamp", type=int, help="UNIX seconds (default: now)")
    sign.add_argument("--msg-id", help="message id (standard-webhooks, github)")
    sign.set_defaults(command="webhook")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every ``stargraph`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="stargraph", description="Durable, deduplicated graph runs from triggers."
    )
    parser.add_argument("--version", action="version", version=f"stargraph {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()
    for add in (_serve, _run, _runs, _remote, _tools):
        add(sub, common)
    return parser
