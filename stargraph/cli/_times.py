"""Instants and durations as the CLI reads (``--since 2h``) and prints them (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from stargraph.errors import ConfigError

__all__ = ["format_duration", "parse_instant", "short_time"]

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_instant(text: str, option: str, now: datetime | None = None) -> datetime:
    """``2h`` / ``30m`` / ``7d`` ago, an ISO-8601 instant with an offset, or a UTC date."""
    now = now or datetime.now(UTC)
    if m := _RELATIVE.match(text.strip()):
        return now - timedelta(seconds=float(m[1]) * _UNITS[m[2]])
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option}: expected an age such as 2h, 30m, 7d or an ISO-8601 instant such as "
            f"2026-12-01T09:00:00+00:00, got {text!r}"
        ) from None
    if value.tzinfo is None:
        if len(text) == 10:  # a date: midnight UTC
            return value.replace(tzinfo=UTC)
        raise ConfigError(f"{option}: give an offset (e.g. {text}+00:00), got {text!r}")
    return value


def format_duration(seconds: float | None) -> str | None:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``, ``3d04h``; ``None`` for ``None``."""
    if seconds is None:
        return None
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def short_time(value: datetime | None, *, date: bool = True) -> str | None:
    """``12-04 15:01:02`` (or ``15:01:02`` without the date) in UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%m-%d %H:%M:%S" if date else "%H:%M:%S")
