"""Exact UTC datetimes as integer microseconds since the Unix epoch (SQLite columns, cursors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "from_us", "from_us_opt", "to_us", "to_us_opt"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(value: datetime) -> int:
    """Return an aware datetime as integer microseconds since the Unix epoch (exact)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware UTC datetime")
    return (value - EPOCH) // _ONE_US


def to_us_opt(value: datetime | None) -> int | None:
    """:func:`to_us`, passing ``None`` through."""
    return None if value is None else to_us(value)


def from_us(value: int) -> datetime:
    """Return microseconds since the epoch as an aware UTC datetime (exact inverse of to_us)."""
    return EPOCH + timedelta(microseconds=value)


def from_us_opt(value: int | None) -> datetime | None:
    """:func:`from_us`, passing ``None`` through."""
    return None if value is None else from_us(value)
