"""The ``stargraph`` argument parser (DESIGN §6 command table); every command shows an example."""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from stargraph import __version__
from stargraph.cli.plugins_kit import add_kit_parsers
from stargraph.views import DEFAULT_LIST_LIMIT

__all__ = ["build_parser"]

Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"]
_WHERE = """
where: the config is --config, else $STARGRAPH_CONFIG, else ./stargraph.toml; the server is
--url, else $STARGRAPH_URL, else the config's [serve] bind. One line on stderr says which.
"""


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $STARGRAPH_CONFIG, else ./stargraph.toml "
        "if it exists, else built-in defaults, with a warning)",
    )
    common.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: info for serve, warning otherwise",
    )
    common.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="default: text"
    )
    return common


def _add(
    sub: Sub, name: str, parents: list[argparse.ArgumentParser], text: str, example: str
) -> Any:
    """A subcommand whose help ends with its examples."""
    return sub.add_parser(
        name,
        parents=parents,
        help=text,
        description=text,
        epilog="examples:\n" + example.strip("\n") + "\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")


def _url(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        metavar="URL",
        help="server URL, e.g. 'http://127.0.0.1:8080' (default: $STARGRAPH_URL, else "
        "http:// + the config's [serve] bind)",
    )


def _store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="URL",
        help="store URL, overriding $STARGRAPH_STORE and the config "
        "(e.g. sqlite:///runs.db, postgresql://user@host/db)",
    )


def _serve(sub: Sub, c: argparse.ArgumentParser) -> None:
    p = _add(
        sub,
        "serve",
        [c],
        "run the whole runtime and its HTTP API until Ctrl-C or SIGTERM",
        """
  stargraph serve --config examples/quickstart/stargraph.toml
  stargraph serve --bind 127.0.0.1:9000      # then, for the client commands:
  export STARGRAPH_URL=http://127.0.0.1:9000
""",
    )
    p.add_argument("--backend", choices=["asyncio", "trio"], help="default: [serve] backend")
    p.add_argument(
        "--bind",
        metavar="HOST:PORT",
        help="listen here instead of [serve] bind; client commands in other shells find "
        "the server through $STARGRAPH_URL (export STARGRAPH_URL=http://HOST:PORT)",
    )
    _store(p)
    p.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback bind without an API token"
    )
    p.add_argument(
        "--no-access-log",
        action="store_true",
        help="no http.access line per request (default: one per request at INFO)",
    )
    p.set_defaults(command="serve")


def _run(sub: Sub, c: argparse.ArgumentParser) -> None:
    p = _add(
        sub,
        "run",
        [c],
        "enqueue a run into the store (same path as POST /v1/runs)",
        """
  stargraph run hello -p name=you
  stargraph run hello -p name=you -p count=3 --wait
  stargraph run hello --idempotency-key order-42 --json
  stargraph run hello -p name=later --in 10m     # or --at 2026-12-05T14:05:00+01:00
""",
    )
    p.add_argument("graph_id", metavar="GRAPH", help="a graph id of the config")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a param (VALUE is parsed as JSON when it is valid JSON); repeatable",
    )
    p.add_argument(
        "--idempotency-key", metavar="K", help="dedup key (default: a random one per call)"
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--at", metavar="ISO", help="start no earlier than this instant (with an offset)"
    )
    when.add_argument(
        "--in", dest="delay", metavar="DURATION", help="start after a delay: 30s, 10m, 2h, 1d"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the end, with progress on stderr; the run executes in whichever "
        "process claims it first: the server, or this process when no server runs",
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this")
    _store(p)
    _json(p)
    p.set_defaults(command="run")


def _runs(sub: Sub, c: argparse.ArgumentParser) -> None:
    runs = sub.add_parser("runs", help="list, show, cancel or retry runs in the store")
    actions = runs.add_subparsers(dest="action", required=True, metavar="{list,show,cancel,retry}")
    ls = _add(
        actions,
        "list",
        [c],
        "list runs, newest first (80 columns; --wide for everything)",
        """
  stargraph runs list
  stargraph runs list --status failed --since 2h
  stargraph runs list --graph hello --since 2026-12-01 --until 2026-12-02 --wide
""",
    )
    ls.add_argument("--graph", dest="graph_id", metavar="GRAPH", help="only this graph")
    ls.add_argument("--status", choices=_STATUSES, help="only runs in this status")
    ls.add_argument("--trigger", dest="trigger_id", metavar="ID", help="only this trigger id")
    ls.add_argument(
        "--since",
        metavar="WHEN",
        help="enqueued at or after WHEN: an age (30m, 2h, 7d), an ISO-8601 instant with an "
        "offset, or a date (UTC midnight)",
    )
    ls.add_argument("--until", metavar="WHEN", help="enqueued before WHEN (same forms)")
    ls.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIST_LIMIT,
        help=f"runs per page (default {DEFAULT_LIST_LIMIT}, as the API)",
    )
    ls.add_argument("--cursor", help="the next page: the cursor the previous page printed")
    ls.add_argument("--wide", action="store_true", help="full ids, every column, no truncation")
    for name, text in (
        ("show", "show one run with its attempts and tracebacks"),
        ("cancel", "cancel a pending or running run"),
        ("retry", "retry a finished run as a new run (same graph and params, retry_of set)"),
    ):
        p = _add(actions, name, [c], text, f"  stargraph runs {name} 3f2a9c1e\n")
        p.add_argument("run_id", metavar="ID", help="a run id, or its first 8 characters")
    for p in actions.choices.values():
        _store(p)
        _json(p)
        p.set_defaults(command="runs")


def _triggers(sub: Sub, c: argparse.ArgumentParser) -> None:
    noun = sub.add_parser(
        "triggers", help="list, pause, resume, fire or backfill a running server's triggers"
    )
    actions = noun.add_subparsers(
        dest="action", required=True, metavar="{list,pause,resume,fire,backfill}"
    )
    ls = _add(
        actions,
        "list",
        [c],
        "list triggers: graph, schedule, zone, paused, next fire (in its zone and UTC)",
        "  stargraph triggers list\n"
        "  STARGRAPH_URL=http://127.0.0.1:9000 stargraph triggers list --wide\n",
    )
    ls.add_argument("--wide", action="store_true", help="plugin, kind, last fire, note, ISO times")
    texts = {
        "pause": ("pause a trigger (persisted; other nodes follow)", " --note 'deploy freeze'"),
        "resume": ("resume a paused trigger from now (no catch-up burst)", ""),
        "fire": ("enqueue one run of a trigger now", ""),
    }
    for name, (text, extra) in texts.items():
        p = _add(actions, name, [c], text, f"  stargraph triggers {name} cron:tick{extra}\n")
        p.add_argument("trigger_id", metavar="ID", help="a trigger id, e.g. cron:tick")
        if name == "pause":
            p.add_argument("--note", help="why (shown by triggers list --wide)")
    for p in actions.choices.values():
        _url(p)
        _json(p)
        p.set_defaults(command="triggers")
    _backfill(actions, c)


def _backfill(actions: Sub, c: argparse.ArgumentParser) -> None:
    p = _add(
        actions,
        "backfill",
        [c],
        "enqueue one run per planned fire of a cron or interval trigger in a range",
        "  stargraph triggers backfill cron:tick --from 2026-12-05T14:00:00Z "
        "--to 2026-12-05T15:00:00Z --dry-run\n"
        "  stargraph triggers backfill interval:sync --from 2026-12-05T14:00:00Z "
        "--to 2026-12-05T14:01:00Z\n",
    )
    p.add_argument("trigger_id", metavar="ID", help="a cron or interval trigger id")
    p.add_argument("--from", dest="start", required=True, metavar="ISO", help="inclusive start")
    p.add_argument("--to", dest="end", required=True, metavar="ISO", help="inclusive end")
    p.add_argument("--dry-run", action="store_true", help="list the instants, change nothing")
    _url(p)
    _json(p)
    p.set_defaults(command="triggers-backfill")


_KIT_EXAMPLES = {
    "check": "  stargraph plugins check fswatch --deps fswatch_path={workdir} "
    "--signal stargraph.plugin.check.signals:drop_files\n"
    "  stargraph plugins check my_triggers.inbox:InboxTrigger --backend trio --json\n",
    "new": "  stargraph plugins new inbox --dir ~/src\n",
}


def _plugins(sub: Sub, c: argparse.ArgumentParser) -> None:
    noun = sub.add_parser("plugins", help="the plugins of a running server")
    actions = noun.add_subparsers(dest="action", required=True, metavar="{list}")
    ls = _add(
        actions,
        "list",
        [c],
        "list plugins: running, not_configured (deps absent), failed (with the reason), ...",
        "  stargraph plugins list\n",
    )
    _url(ls)
    _json(ls)
    ls.set_defaults(command="plugins")
    add_kit_parsers(actions, c)
    for name, example in _KIT_EXAMPLES.items():
        kit = actions.choices[name]
        kit.epilog = "examples:\n" + example
        kit.formatter_class = argparse.RawDescriptionHelpFormatter


def _config(sub: Sub, c: argparse.ArgumentParser) -> None:
    noun = sub.add_parser("config", help="config tools")
    actions = noun.add_subparsers(dest="action", required=True, metavar="{check}")
    check = _add(
        actions,
        "check",
        [c],
        "validate a config and print what would run, starting nothing; exit 1 on any problem",
        "  stargraph config check --config examples/quickstart/stargraph.toml\n",
    )
    _json(check)
    check.set_defaults(command="config")


def _tools(sub: Sub, c: argparse.ArgumentParser) -> None:
    cron = sub.add_parser("cron", help="cron tools")
    nxt = _add(
        cron.add_subparsers(dest="action", required=True, metavar="{next}"),
        "next",
        [c],
        "preview the planned fires of a schedule",
        "  stargraph cron next '0 2 * * *' --tz America/New_York -n 3\n"
        "  stargraph cron next '* * * * * */5' -n 2\n",
    )
    nxt.add_argument("expr", metavar="EXPR", help="5 fields, or 6 with seconds last")
    nxt.add_argument("--tz", default="UTC", help="IANA time zone (default UTC)")
    nxt.add_argument("--after", metavar="ISO", help="start instant (default: now)")
    nxt.add_argument("-n", dest="count", type=int, default=5, help="how many (default 5)")
    nxt.add_argument("--trigger-id", default="cli", help="seeds hashed (H) fields")
    _json(nxt)
    nxt.set_defaults(command="cron")
    hook = sub.add_parser("webhook", help="webhook tools")
    sign = _add(
        hook.add_subparsers(dest="action", required=True, metavar="{sign}"),
        "sign",
        [c],
        "print the headers a sender would send (one 'Name: value' per line)",
        "  stargraph webhook sign --scheme stargraph --secret-env QUICKSTART_WEBHOOK_SECRET \\\n"
        "      --body-file body.json > headers.txt\n"
        '  curl -H @headers.txt --data-binary @body.json "$STARGRAPH_URL/hooks/demo"\n',
    )
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
    _json(sign)
    sign.set_defaults(command="webhook")


def _completion(sub: Sub, c: argparse.ArgumentParser) -> None:
    p = _add(
        sub,
        "completion",
        [],
        "print a shell completion script",
        "  source <(stargraph completion bash)\n"
        "  stargraph completion zsh > ~/.zfunc/_stargraph\n"
        "  stargraph completion fish > ~/.config/fish/completions/stargraph.fish\n",
    )
    p.add_argument("shell", choices=["bash", "zsh", "fish"])
    p.set_defaults(command="completion", log_level="warning", log_format="text")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every ``stargraph`` subcommand."""
    parser = argparse.ArgumentParser(
        prog="stargraph",
        description="Durable, deduplicated graph runs from triggers.",
        epilog="`stargraph COMMAND --help` shows each command's options and examples.\n" + _WHERE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stargraph {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()
    for add in (_serve, _run, _runs, _triggers, _plugins, _config, _tools, _completion):
        add(sub, common)
    return parser
