"""``stargraph triggers backfill ID --from ISO --to ISO [--dry-run]`` (through the server).

The server is found as for the other remote commands (``--url``, else ``$STARGRAPH_URL``, else
the config's ``[serve] bind``: ``_where.py``). A dry run over the whole range first (the server
refuses more than 10,000 fires); then the range is sent in steps of at most 1,000 fires, with a
progress line on stderr per step.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from stargraph.cli._output import print_json, print_record
from stargraph.cli.remote import call

__all__ = ["cmd_backfill"]


def _post(args: argparse.Namespace, body: dict[str, Any]) -> Any:
    path = f"/v1/triggers/{quote(args.trigger_id, safe='')}/backfill"
    return call(args, "POST", path, body)


def cmd_backfill(args: argparse.Namespace) -> int:
    """Backfill a trigger's range through the server, printing progress for large ranges."""
    plan = _post(args, {"from": args.start, "to": args.end, "dry_run": True})
    if args.dry_run or not plan["planned"]:
        print_json(plan) if args.json else print_record(
            {k: plan[k] for k in plan if k != "instants"}
        )
        return 0
    totals = {"planned": plan["planned"], "enqueued": 0, "deduplicated": 0}
    start = args.start
    while True:
        step = _post(args, {"from": start, "to": args.end, "dry_run": True})
        if not step["planned"]:
            break
        last = step["instants"][-1]
        done = _post(args, {"from": start, "to": last, "dry_run": False})
        totals["enqueued"] += done["enqueued"]
        totals["deduplicated"] += done["deduplicated"]
        finished = totals["enqueued"] + totals["deduplicated"]
        sys.stderr.write(f"backfill {args.trigger_id}: {finished}/{totals['planned']} fires\n")
        start = (datetime.fromisoformat(last) + timedelta(seconds=1)).isoformat()
    body = dict(totals, first=plan["first"], last=plan["last"])
    print_json(body) if args.json else print_record(body)
    return 0
