"""``stargraph triggers list`` and ``stargraph plugins list``: ask a running server."""

from __future__ import annotations

import argparse
from typing import Any

from stargraph.cli import config_from_args
from stargraph.cli._http import request
from stargraph.cli._output import print_json, print_table
from stargraph.config import StargraphConfig, parse_bind
from stargraph.errors import StargraphRuntimeError

__all__ = ["cmd_plugins", "cmd_triggers", "server_url"]

TRIGGER_COLUMNS = [
    ("trigger_id", "TRIGGER"),
    ("plugin", "PLUGIN"),
    ("kind", "KIND"),
    ("state", "STATE"),
    ("paused", "PAUSED"),
    ("last_fire", "LAST FIRE"),
    ("next_fire", "NEXT FIRE"),
]
PLUGIN_COLUMNS = [("name", "PLUGIN"), ("state", "STATE"), ("error", "ERROR")]
_ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def server_url(cfg: StargraphConfig) -> str:
    """Return the base URL of the server *cfg* describes (wildcard binds → loopback)."""
    host, port = parse_bind(cfg.serve.bind)
    host = _ANY_HOST.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _get(cfg: StargraphConfig, url: str | None, path: str) -> Any:
    base = url or server_url(cfg)
    headers = {"Authorization": f"Bearer {cfg.serve.api_token}"} if cfg.serve.api_token else {}
    try:
        response = request("GET", base.rstrip("/") + path, headers=headers, timeout=10)
    except StargraphRuntimeError as exc:
        raise StargraphRuntimeError(f"{exc}; start `stargraph serve` or pass --url") from None
    if response.status != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise StargraphRuntimeError(f"{base}{path} answered {response.status}: {message}")
    return response.json()


def _list(args: argparse.Namespace, path: str, columns: list[tuple[str, str]]) -> int:
    body = _get(config_from_args(args), args.url, path)
    if args.json:
        print_json(body)
    else:
        print_table(body["items"], columns)
    return 0


def cmd_triggers(args: argparse.Namespace) -> int:
    """List the server's triggers with state, pause flag and fires."""
    return _list(args, "/v1/triggers", TRIGGER_COLUMNS)


def cmd_plugins(args: argparse.Namespace) -> int:
    """List the server's plugins with state and error."""
    return _list(args, "/v1/plugins", PLUGIN_COLUMNS)
