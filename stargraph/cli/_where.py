"""Which config, store and server a command uses, said once on stderr.

One source of truth for each:

* config: ``--config``, else ``$STARGRAPH_CONFIG``, else ``./stargraph.toml`` if it exists,
  else the built-in defaults (with a warning: the defaults rarely are what was meant);
* store: ``--store``, else ``$STARGRAPH_STORE``, else the config's ``[store] url``;
* server: ``--url``, else ``$STARGRAPH_URL``, else the config's ``[serve] bind`` (after
  ``$STARGRAPH_BIND``), so ``serve --bind HOST:PORT`` pairs with
  ``STARGRAPH_URL=http://HOST:PORT`` for the client commands.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import attrs

from stargraph._log import log_event
from stargraph.config import StargraphConfig, StoreConfig, load_config, parse_bind
from stargraph.errors import StargraphRuntimeError

__all__ = ["config_from_args", "locate_config", "require_store", "server_url", "sqlite_file"]

CONFIG_ENV = "STARGRAPH_CONFIG"
URL_ENV = "STARGRAPH_URL"
_ANY_HOST = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
_REMOTE = ("triggers", "plugins")
_CONTROL = ("pause", "resume", "fire")
_log = logging.getLogger("stargraph.cli")


def locate_config(flag: str | None) -> tuple[str | None, str]:
    """Return ``(path, where it came from)``; ``path`` is ``None`` for the defaults."""
    if flag:
        return flag, "--config"
    if env := os.environ.get(CONFIG_ENV):
        return env, f"${CONFIG_ENV}"
    if Path("stargraph.toml").is_file():
        return "stargraph.toml", "./stargraph.toml"
    return None, ""


def config_from_args(args: argparse.Namespace, *, announce: bool = True) -> StargraphConfig:
    """Load the config *args* name (``--store`` overrides its store) and say so on stderr.

    Only ``serve`` and ``config check`` read webhook secrets: the other commands never host
    the webhook trigger.
    """
    path, origin = locate_config(getattr(args, "config", None))
    webhooks = args.command in ("serve", "config")
    cfg = load_config(path, webhooks=webhooks)
    if getattr(args, "store", None):
        cfg = attrs.evolve(cfg, store=StoreConfig(url=args.store))
    if announce:
        _announce(args, cfg, path, origin)
    return cfg


def _announce(
    args: argparse.Namespace, cfg: StargraphConfig, path: str | None, origin: str
) -> None:
    """One line on stderr; with ``--log-format json`` a ``cli.config`` event instead."""
    from stargraph.store import _redact

    remote = args.command in _REMOTE or getattr(args, "action", None) in _CONTROL
    if remote:
        url, url_origin = server_url(cfg, getattr(args, "url", None))
        what = f"server {url} ({url_origin})"
        fields: dict[str, Any] = {"server": url, "server_from": url_origin}
    else:
        store = _redact(cfg.store.url)
        what, fields = f"store {store}", {"store": store}
    if getattr(args, "log_format", "text") == "json":
        level = logging.WARNING if path is None else logging.INFO
        log_event(_log, "cli.config", level, config=path, config_from=origin or None, **fields)
    elif path is None:
        sys.stderr.write(
            "stargraph: warning: no config file (no --config, no $STARGRAPH_CONFIG, no "
            f"./stargraph.toml here): using the built-in defaults; {what}\n"
        )
    else:
        sys.stderr.write(f"stargraph: config {path} (from {origin}); {what}\n")


def server_url(cfg: StargraphConfig, flag: str | None = None) -> tuple[str, str]:
    """Return ``(base URL, where it came from)``: ``--url``, ``$STARGRAPH_URL``, or the bind."""
    if flag:
        return flag.rstrip("/"), "--url"
    if env := os.environ.get(URL_ENV):
        return env.rstrip("/"), f"${URL_ENV}"
    host, port = parse_bind(cfg.serve.bind)
    host = _ANY_HOST.get(host, host)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return url, "the config's [serve] bind"


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for another store or ``:memory:``)."""
    rest = url.removeprefix("sqlite:///")
    if rest == url or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])


def require_store(cfg: StargraphConfig) -> None:
    """Raise when a read-only command would have to create the store to answer."""
    file = sqlite_file(cfg.store.url)
    if file is not None and not file.exists():
        raise StargraphRuntimeError(
            f"no store yet at {file} (nothing was ever enqueued there); check --config, "
            f"$STARGRAPH_CONFIG or --store, or start it with `stargraph serve` or `stargraph run`"
        )
