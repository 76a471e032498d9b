"""Jinja filters of the console: instants as ``<time>``, durations, JSON blocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape
from quart import Quart

__all__ = ["duration", "in_zone", "install_filters", "pretty_json", "time_tag"]

_NONE = Markup('<span class="none">—</span>')


def time_tag(value: datetime | str | None) -> Markup:
    """``<time datetime="…Z">YYYY-MM-DD HH:MM:SS UTC</time>`` (the JS shows the local zone)."""
    if value is None or value == "":
        return _NONE
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    text = when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    # only digits and separators: nothing to escape
    return Markup(f'<time datetime="{text}Z">{text[:10]} {text[11:19]} UTC</time>')


def in_zone(value: datetime | str | None, zone: str | None) -> str:
    """*value* as wall time in the IANA *zone* (the trigger's), or ``""``."""
    if value is None or value == "" or not zone:
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def duration(value: float | timedelta | None) -> str:
    """Seconds (or a timedelta) as ``250 ms``, ``1.50 s``, ``3.2 min``, ``2.0 h``."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 1:
        return f"{sign}{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{sign}{seconds:.2f} s"
    if seconds < 7200:
        return f"{sign}{seconds / 60:.1f} min"
    return f"{sign}{seconds / 3600:.1f} h"


def pretty_json(value: object) -> Markup:
    """*value* as indented JSON, escaped for a ``<pre>`` block."""
    return escape(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def install_filters(app: Quart) -> None:
    """Register the console's filters on *app* (names prefixed ``sg_``)."""
    app.jinja_env.filters.update(
        sg_time=time_tag, sg_zone=in_zone, sg_dur=duration, sg_json=pretty_json
    )
