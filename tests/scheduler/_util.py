"""Helpers shared by the scheduler tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from stargraph.scheduler import SchedulerSettings


def fast_settings(**overrides: Any) -> SchedulerSettings:
    """Settings with short intervals so tests finish quickly."""
    values: dict[str, Any] = {
        "poll_interval": 0.05,
        "lease_seconds": 5.0,
        "shutdown_grace": 2.0,
        "heartbeat_interval": 0.1,
    }
    values.update(overrides)
    return SchedulerSettings(**values)


class ManualClock:
    """A clock that moves only when the test says so (``sleep_until`` polls it)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    async def sleep_until(self, when: datetime) -> None:
        while self.current < when:
            await anyio.sleep(0.01)
