"""Overview figures from finished runs: throughput per minute, p50/p95 duration, fire lag.

Pure functions over :class:`~stargraph.store.base.RunTiming` rows; the template draws the
returned geometry as inline SVG (presentation attributes only, so the CSP needs no inline style).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from stargraph.store.base import RunTiming

__all__ = ["Chart", "LagRow", "build_chart", "fire_lag", "percentile"]

WIDTH, HEIGHT = 600, 150  # the SVG viewBox
TIME_SOURCES = ("cron", "interval")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank *q*-quantile (0 < q <= 1) of *values*, or ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@attrs.frozen(kw_only=True)
class Bucket:
    """One time slot: its start, runs finished per minute, p50/p95 duration (seconds)."""

    start: datetime
    per_minute: float
    p50: float | None
    p95: float | None


@attrs.frozen(kw_only=True)
class Chart:
    """A window's buckets and the SVG geometry that draws them."""

    title: str
    buckets: list[Bucket]
    total: int
    p50: float | None
    p95: float | None
    max_rate: float
    max_duration: float
    bars: list[tuple[float, float, float, float]]  # x, y, width, height
    p50_line: str  # SVG polyline points
    p95_line: str
    sampled_from: datetime | None  # set when the sample did not cover the whole window


def _durations(rows: Sequence[RunTiming]) -> list[float]:
    return [
        (r.finished_at - r.started_at).total_seconds() for r in rows if r.started_at is not None
    ]


def _buckets(
    rows: Sequence[RunTiming], now: datetime, window: timedelta, count: int
) -> list[Bucket]:
    step = window / count
    start = now - window
    slots: list[list[RunTiming]] = [[] for _ in range(count)]
    for row in rows:
        index = int((row.finished_at - start) / step)
        if 0 <= index < count:
            slots[index].append(row)
    minutes = step.total_seconds() / 60
    return [_bucket(start + i * step, slot, minutes) for i, slot in enumerate(slots)]


def _bucket(start: datetime, slot: Sequence[RunTiming], minutes: float) -> Bucket:
    durations = _durations(slot)
    return Bucket(
        start=start, per_minute=len(slot) / minutes, p50=percentile(durations, 0.5),
        p95=percentile(durations, 0.95),
    )  # fmt: skip


def _line(buckets: Sequence[Bucket], attr: str, top: float, width: float) -> str:
    points = []
    for i, bucket in enumerate(buckets):
        value = getattr(bucket, attr)
        if value is not None:
            y = HEIGHT - (value / top) * HEIGHT if top else HEIGHT
            points.append(f"{i * width + width / 2:.1f},{y:.1f}")
    return " ".join(points)


def build_chart(
    title: str, rows: Sequence[RunTiming], now: datetime, window: timedelta, count: int,
    complete: bool,
) -> Chart:  # fmt: skip
    """The chart of runs finished in the *window* before *now*, in *count* buckets."""
    inside = [r for r in rows if r.finished_at >= now - window]
    buckets = _buckets(inside, now, window, count)
    width = WIDTH / count
    max_rate = max((b.per_minute for b in buckets), default=0.0) or 1.0
    max_duration = max((b.p95 or 0.0 for b in buckets), default=0.0) or 1.0
    bars = [
        (i * width, HEIGHT - b.per_minute / max_rate * HEIGHT, max(width - 1, 1),
         b.per_minute / max_rate * HEIGHT)
        for i, b in enumerate(buckets) if b.per_minute
    ]  # fmt: skip
    durations = _durations(inside)
    oldest = min((r.finished_at for r in inside), default=None)
    return Chart(
        title=title, buckets=buckets, total=len(inside), p50=percentile(durations, 0.5),
        p95=percentile(durations, 0.95), max_rate=max_rate, max_duration=max_duration,
        bars=bars, p50_line=_line(buckets, "p50", max_duration, width),
        p95_line=_line(buckets, "p95", max_duration, width),
        sampled_from=None if complete else oldest,
    )  # fmt: skip


@attrs.frozen(kw_only=True)
class LagRow:
    """Fire lag of one time trigger: how late its runs were enqueued and started (seconds)."""

    trigger_id: str
    runs: int
    enqueue_p50: float | None
    enqueue_max: float | None
    start_p50: float | None
    start_max: float | None


def _lag_row(trigger_id: str, items: Sequence[RunTiming]) -> LagRow:
    fired, started = [], []
    for r in items:
        assert r.scheduled_fire is not None
        fired.append((r.enqueued_at - r.scheduled_fire).total_seconds())
        if r.started_at is not None:
            started.append((r.started_at - r.scheduled_fire).total_seconds())
    return LagRow(
        trigger_id=trigger_id, runs=len(items), enqueue_p50=percentile(fired, 0.5),
        enqueue_max=max(fired, default=None), start_p50=percentile(started, 0.5),
        start_max=max(started, default=None),
    )  # fmt: skip


def fire_lag(rows: Sequence[RunTiming]) -> list[LagRow]:
    """Per time trigger (cron, interval): lag of enqueue and start behind the planned fire."""
    by_trigger: dict[str, list[RunTiming]] = {}
    for row in rows:
        if row.trigger_source in TIME_SOURCES and row.scheduled_fire and row.trigger_id:
            by_trigger.setdefault(row.trigger_id, []).append(row)
    return [_lag_row(tid, items) for tid, items in sorted(by_trigger.items())]
