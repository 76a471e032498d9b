"""``stargraph cron next`` and ``stargraph webhook sign``: offline helpers."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stargraph.cli._output import print_json, print_table
from stargraph.errors import ConfigError

__all__ = ["cmd_cron_next", "cmd_webhook_sign"]


def _after(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--after: expected an ISO-8601 instant, got {text!r}") from None
    if value.tzinfo is None:
        raise ConfigError(f"--after: give an offset (e.g. {text}+00:00), got {text!r}")
    return value


def cmd_cron_next(args: argparse.Namespace) -> int:
    """Print the next planned fires of a schedule (UTC instants and local wall times)."""
    from stargraph.triggers.cron import CronSpec, next_fires

    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--tz: unknown time zone {args.tz!r}") from None
    if args.count < 1:
        raise ConfigError(f"-n must be at least 1, got {args.count}")
    try:
        spec = CronSpec(
            trigger_id=args.trigger_id, schedule=args.expr, tz=args.tz, graph_id="preview"
        )
        fires = next_fires(spec, _after(args.after), args.count)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"invalid schedule {args.expr!r}: {exc}") from None
    if args.json:
        print_json([f.astimezone(UTC).isoformat() for f in fires])
        return 0
    rows = [
        {"utc": f.astimezone(UTC).isoformat(), "local": f.astimezone(zone).isoformat()}
        for f in fires
    ]
    print_table(rows, [("utc", "UTC"), ("local", f"LOCAL ({args.tz})")])
    return 0


def cmd_webhook_sign(args: argparse.Namespace) -> int:
    """Print the headers a sender using the scheme would send with the body."""
    from stargraph.triggers.webhook import sign

    secret = os.environ.get(args.secret_env)
    if not secret:
        raise ConfigError(
            f"--secret-env: environment variable {args.secret_env} is not set or empty"
        )
    if args.body_file:
        with open(args.body_file, "rb") as file:
            body = file.read()
    else:
        body = sys.stdin.buffer.read()
    headers = sign(args.scheme, secret, body, timestamp=args.timestamp, msg_id=args.msg_id)
    if args.json:
        print_json(headers)
    else:
        for name, value in headers.items():
            sys.stdout.write(f"{name}: {value}\n")
    return 0
