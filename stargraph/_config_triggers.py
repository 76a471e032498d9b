"""``[[cron]]`` and ``[[webhook]]`` entries → ``CronSpec`` / ``WebhookSpec`` (imported lazily).

The raw tables are validated here (types, required keys, unknown keys, time zones, secrets from
the environment); the spec classes then check their own invariants, and any error they raise is
re-raised as a :class:`ConfigError` naming the file and the entry.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stargraph._config_table import Table
from stargraph.errors import ConfigError

if TYPE_CHECKING:
    from stargraph.triggers.cron import CronSpec
    from stargraph.triggers.webhook import WebhookSpec

__all__ = ["parse_cron", "parse_webhooks"]

CRON_KEYS = (
    "trigger_id",
    "schedule",
    "tz",
    "graph_id",
    "params",
    "missed_fire_policy",
    "catchup_window",
    "fall_back",
    "start_at",
    "end_at",
    "paused",
)
WEBHOOK_KEYS = (
    "trigger_id",
    "path",
    "graph_id",
    "scheme",
    "secret_env",
    "previous_secret_env",
    "tolerance_seconds",
    "max_body_bytes",
    "params",
)
MISSED = ("skip", "fire_once_catchup", "fire_all")
SCHEMES = ("stargraph", "standard-webhooks", "github", "stripe", "slack")


def _build(t: Table, factory: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        return factory(**kwargs)
    except (ValueError, TypeError, LookupError) as exc:  # ConfigError included
        raise ConfigError(f"{t.source}: {t.prefix}: {exc}") from None


def _aware(t: Table, name: str) -> datetime | None:
    value = t.data.get(name)
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise t.error(name, f"must be a TOML datetime with an offset, got {value!r}")
    return value.astimezone(UTC)


def _cron_kwargs(t: Table) -> dict[str, Any]:
    t.reject_unknown(CRON_KEYS)
    tz = t.get_str("tz", "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        reason = f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin"
        raise t.error("tz", reason) from None
    params = t.table("params").data
    return {
        "trigger_id": t.get_str("trigger_id"),
        "schedule": t.get_str("schedule"),
        "tz": tz,
        "graph_id": t.get_str("graph_id"),
        "params": dict(params),
        "missed_fire_policy": t.get_choice("missed_fire_policy", MISSED, "fire_once_catchup"),
        "catchup_window": timedelta(seconds=t.get_number("catchup_window", 86400.0)),
        "fall_back": t.get_choice("fall_back", ("first", "both"), "first"),
        "start_at": _aware(t, "start_at"),
        "end_at": _aware(t, "end_at"),
        "paused": t.get_bool("paused", False),
    }


def parse_cron(tables: Sequence[Table]) -> tuple[CronSpec, ...]:
    """Build one ``CronSpec`` per ``[[cron]]`` table; a bad schedule fails here."""
    if not tables:
        return ()
    from stargraph.triggers.cron import CronSpec, next_fires

    specs = []
    for t in tables:
        spec = _build(t, CronSpec, _cron_kwargs(t))
        try:
            next_fires(spec, datetime.now(UTC), 1)
        except (ValueError, LookupError) as exc:
            raise t.error("schedule", f"invalid schedule {spec.schedule!r}: {exc}") from None
        specs.append(spec)
    _unique(tables, "trigger_id")
    return tuple(specs)


def _secret(t: Table, name: str, env: Mapping[str, str], required: bool) -> str | None:
    var = t.get_str(name) if required else t.get_str(name, None)
    if var is None:
        return None
    value = env.get(var)
    if not value:
        raise t.error(name, f"environment variable {var} is not set or empty")
    return value


def _webhook_kwargs(t: Table, env: Mapping[str, str]) -> dict[str, Any]:
    t.reject_unknown(WEBHOOK_KEYS)
    path = t.get_str("path")
    if not path.startswith("/"):
        raise t.error("path", f"must start with '/', got {path!r}")
    secrets = [_secret(t, "secret_env", env, True), _secret(t, "previous_secret_env", env, False)]
    kwargs = {
        "trigger_id": t.get_str("trigger_id"),
        "path": path,
        "graph_id": t.get_str("graph_id"),
        "scheme": t.get_choice("scheme", SCHEMES, "stargraph"),
        "secrets": tuple(s for s in secrets if s),
        "tolerance_seconds": t.get_int("tolerance_seconds", 300, minimum=1),
        "max_body_bytes": t.get_int("max_body_bytes", 1024 * 1024, minimum=1),
    }
    if "params" in t.data:
        kwargs["params"] = t.get_str("params")
    return kwargs


def parse_webhooks(tables: Sequence[Table], env: Mapping[str, str]) -> tuple[WebhookSpec, ...]:
    """Build one ``WebhookSpec`` per ``[[webhook]]`` table, secrets read from *env*."""
    if not tables:
        return ()
    from stargraph.triggers.webhook import WebhookSpec

    specs = tuple(_build(t, WebhookSpec, _webhook_kwargs(t, env)) for t in tables)
    _unique(tables, "trigger_id")
    _unique(tables, "path")
    return specs


def _unique(tables: Sequence[Table], name: str) -> None:
    seen: set[Any] = set()
    for t in tables:
        value = t.data.get(name)
        if value in seen:
            raise t.error(name, f"duplicate value {value!r}; each entry needs its own")
        seen.add(value)
