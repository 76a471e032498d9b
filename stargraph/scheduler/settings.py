"""Scheduler settings; the config's ``[scheduler]`` table is read straight into them."""

from __future__ import annotations

import attrs

from stargraph._validators import (
    at_least,
    int_at_most,
    non_negative,
    optional,
    positive,
    positive_int,
)

__all__ = ["MAX_CONCURRENT_RUNS", "MIN_POLL_INTERVAL", "SchedulerSettings"]

MAX_CONCURRENT_RUNS = 10_000
"""Each slot is a worker task and a store lease; past this, start-up and shutdown (which
cancels and releases every slot) take minutes on one node: run more nodes instead."""
MIN_POLL_INTERVAL = 0.01
"""Below this an idle scheduler polls its store so often that it keeps a core busy."""


@attrs.frozen(kw_only=True)
class SchedulerSettings:
    """How one scheduler (one process, one node) claims and runs work.

    ``max_concurrent_runs``: graph callables executing at once on this node.
    ``lease_seconds``: how long a claim stays valid without a heartbeat; a dead node's runs are
    rescued after this. ``retention_days``: finished runs older than this are pruned (and their
    idempotency keys become free again). ``intake_capacity``: enqueues waiting for the writer
    before ``SchedulerBusy``. ``shutdown_grace``: seconds running runs get to finish at shutdown
    before they are cancelled and released. ``poll_interval``: the longest the dispatcher
    sleeps before looking at the store again (at least 0.01 s). ``max_concurrent_runs`` is at
    most 10,000 (see :data:`MAX_CONCURRENT_RUNS`). ``heartbeat_interval``: default
    ``min(lease_seconds / 3, 5)``. ``batch_size``: most enqueues per commit.
    ``tracing``: OpenTelemetry spans (``docs/observability.md``): ``None`` (default) when
    ``opentelemetry-api`` is installed, ``True`` requires it, ``False`` never imports it.
    """

    max_concurrent_runs: int = attrs.field(
        default=16,
        validator=int_at_most(
            MAX_CONCURRENT_RUNS,
            "one node cannot start and stop more slots promptly; run more nodes",
        ),
    )
    lease_seconds: float = attrs.field(default=30, validator=positive)
    retention_days: float = attrs.field(default=7, validator=positive)
    intake_capacity: int = attrs.field(default=10_000, validator=positive_int)
    shutdown_grace: float = attrs.field(default=10, validator=non_negative)
    poll_interval: float = attrs.field(
        default=1.0,
        validator=at_least(MIN_POLL_INTERVAL, "a shorter poll keeps an idle server's core busy"),
    )
    heartbeat_interval: float | None = attrs.field(default=None, validator=optional(positive))
    batch_size: int = attrs.field(default=1000, validator=positive_int)
    tracing: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )

    @property
    def heartbeat_every(self) -> float:
        """Seconds between lease renewals."""
        if self.heartbeat_interval is not None:
            return self.heartbeat_interval
        return min(self.lease_seconds / 3, 5.0)

    @property
    def rescue_every(self) -> float:
        """Seconds between scans for expired leases."""
        return min(self.lease_seconds / 2, 5.0)

    @property
    def prune_every(self) -> float:
        """Seconds between retention passes (at most hourly, at least every second)."""
        return max(1.0, min(3600.0, self.retention_days * 86_400 / 10))
