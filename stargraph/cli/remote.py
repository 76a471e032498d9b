"""``stargraph triggers list|pause|resume|fire`` and ``stargraph plugins list``: ask a server.

``triggers backfill`` (backfill.py) goes through :func:`call` too.

The server is found with ``--url``, else ``$STARGRAPH_URL``, else the config's ``[serve]
bind`` (see ``_where.py``); the API token comes from the config's ``api_token_env``.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stargraph.cli._http import request
from stargraph.cli._output import print_json, print_record, print_table, terminal_width
from stargraph.cli._times import short_time
from stargraph.cli._where import config_from_args, server_url
from stargraph.errors import StargraphRuntimeError

__all__ = ["call", "cmd_plugins", "cmd_triggers", "trigger_row"]

TRIGGER_COLUMNS = [
    ("trigger_id", "TRIGGER"),
    ("graph_id", "GRAPH"),
    ("schedule", "SCHEDULE"),
    ("tz", "TZ"),
    ("state_or_paused", "STATE"),
    ("next_local", "NEXT (TZ)"),
    ("next_utc", "NEXT (UTC)"),
]
WIDE_TRIGGER_COLUMNS = [
    ("trigger_id", "TRIGGER"),
    ("plugin", "PLUGIN"),
    ("kind", "KIND"),
    ("graph_id", "GRAPH"),
    ("schedule", "SCHEDULE"),
    ("tz", "TZ"),
    ("paused", "PAUSED"),
    ("state", "STATE"),
    ("last_fire", "LAST FIRE"),
    ("next_local_iso", "NEXT FIRE (TZ)"),
    ("next_fire", "NEXT FIRE (UTC)"),
    ("note", "NOTE"),
]
PLUGIN_COLUMNS = [("name", "PLUGIN"), ("state", "STATE"), ("error", "ERROR")]


def call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    cfg = config_from_args(args)
    base, _ = server_url(cfg, getattr(args, "url", None))
    headers = {"Authorization": f"Bearer {cfg.serve.api_token}"} if cfg.serve.api_token else {}
    try:
        response = request(method, base + path, headers=headers, json_body=body, timeout=10)
    except StargraphRuntimeError as exc:
        raise StargraphRuntimeError(
            f"{exc}; start `stargraph serve`, or point at it with --url or $STARGRAPH_URL"
        ) from None
    if response.status not in (200, 202):
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise StargraphRuntimeError(f"{method} {base}{path} answered {response.status}: {message}")
    return response.json()


def trigger_row(item: dict[str, Any]) -> dict[str, Any]:
    """One trigger of ``GET /v1/triggers`` with its next fire in its own zone and in UTC.

    The narrow table's STATE says ``paused`` for a paused trigger, else its plugin's state.
    """
    row = dict(item)
    nxt = datetime.fromisoformat(item["next_fire"]) if item.get("next_fire") else None
    zone = None
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(item["tz"]) if item.get("tz") else None
    local = nxt.astimezone(zone) if nxt is not None and zone is not None else None
    row.update(
        state_or_paused="paused" if item.get("paused") else item.get("state"),
        next_utc=short_time(nxt),
        next_local=None if local is None else local.strftime("%m-%d %H:%M:%S"),
        next_local_iso=None if local is None else local.isoformat(),
    )
    return row


def cmd_triggers(args: argparse.Namespace) -> int:
    """List the server's triggers, or pause, resume or fire one."""
    if args.action != "list":
        tid = quote(args.trigger_id, safe="")
        body = {"note": args.note} if getattr(args, "note", None) else None
        answer = call(args, "POST", f"/v1/triggers/{tid}/{args.action}", body)
        print_json(answer) if args.json else print_record(answer)
        return 0
    body = call(args, "GET", "/v1/triggers")
    if args.json:
        print_json(body)
        return 0
    rows = [trigger_row(item) for item in body["items"]]
    if args.wide:
        print_table(rows, WIDE_TRIGGER_COLUMNS)
    else:
        shrink = ["trigger_id", "schedule", "graph_id"]
        print_table(rows, TRIGGER_COLUMNS, width=terminal_width(), shrink=shrink)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List the server's plugins with state and error."""
    body = call(args, "GET", "/v1/plugins")
    if args.json:
        print_json(body)
    else:
        print_table(body["items"], PLUGIN_COLUMNS, width=terminal_width(), shrink=["error"])
    return 0
