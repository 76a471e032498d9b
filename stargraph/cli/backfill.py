"""``stargraph triggers backfill TRIGGER_ID --from ISO --to ISO [--dry-run]`` (via the server).

A dry run over the whole range first (the server refuses more than 10,000 fires); then the
range is sent in steps of at most 1,000 fires, with a progress line on stderr per step.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from stargraph.cli import config_from_args
from stargraph.cli._http import request
from stargraph.cli._output import print_json, print_record
from stargraph.cli.remote import server_url
from stargraph.errors import StargraphRuntimeError

__all__ = ["add_backfill_parser", "cmd_backfill"]


def add_backfill_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], c: argparse.ArgumentParser
) -> None:
    """Add ``backfill`` to the ``triggers`` subcommands."""
    p = sub.add_parser("backfill", parents=[c], help="enqueue the planned fires of a range")
    p.add_argument("trigger_id", metavar="TRIGGER_ID")
    p.add_argument("--from", dest="start", required=True, metavar="ISO", help="inclusive start")
    p.add_argument("--to", dest="end", required=True, metavar="ISO", help="inclusive end")
    p.add_argument("--dry-run", action="store_true", help="list the instants, change nothing")
    p.add_argument("--url", help="server URL (default: from [serve] bind)")
    p.set_defaults(command="triggers-backfill")


def _post(base: str, token: str | None, trigger_id: str, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = f"/v1/triggers/{quote(trigger_id, safe='')}/backfill"
    response = request("POST", base.rstrip("/") + path, headers=headers, json_body=body)
    if response.status not in (200, 202):
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise StargraphRuntimeError(f"{base}{path} answered {response.status}: {message}")
    return response.json()


def cmd_backfill(args: argparse.Namespace) -> int:
    """Backfill a trigger's range through the server, printing progress for large ranges."""
    cfg = config_from_args(args)
    base, token = args.url or server_url(cfg), cfg.serve.api_token
    plan = _post(
        base, token, args.trigger_id, {"from": args.start, "to": args.end, "dry_run": True}
    )
    if args.dry_run or not plan["planned"]:
        print_json(plan) if args.json else print_record(
            {k: plan[k] for k in plan if k != "instants"}
        )
        return 0
    totals = {"planned": plan["planned"], "enqueued": 0, "deduplicated": 0}
    start = args.start
    while True:
        step = _post(base, token, args.trigger_id, {"from": start, "to": args.end, "dry_run": True})
        if not step["planned"]:
            break
        last = step["instants"][-1]
        done = _post(base, token, args.trigger_id, {"from": start, "to": last, "dry_run": False})
        totals["enqueued"] += done["enqueued"]
        totals["deduplicated"] += done["deduplicated"]
        finished = totals["enqueued"] + totals["deduplicated"]
        sys.stderr.write(f"backfill {args.trigger_id}: {finished}/{totals['planned']} fires\n")
        start = (datetime.fromisoformat(last) + timedelta(seconds=1)).isoformat()
    body = dict(totals, first=plan["first"], last=plan["last"])
    print_json(body) if args.json else print_record(body)
    return 0
