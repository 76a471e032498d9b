"""Value types of the trigger host: states, statuses and options."""

from __future__ import annotations

import enum

import attrs

from stargraph._validators import non_negative_int, positive

__all__ = ["HostOptions", "PluginState", "PluginStatus"]


class PluginState(enum.StrEnum):
    """Where a plugin stands. The first four are hosted states; the last two come from loading.

    Members are lower-case like every other enum of the package (``RunStatus``,
    ``LifecycleState``); the upper-case names are aliases of the same members, kept so code
    written against the first release keeps working. The values (what ``/v1/plugins`` shows)
    are unchanged.
    """

    running = "running"
    """Started; its tasks run in its own task group."""
    failed = "failed"
    """``init``, ``routes`` or ``stop`` failed, or it crashed more often than allowed."""
    restarting = "restarting"
    """It crashed (or ``start`` failed) and waits out its backoff before starting again."""
    stopped = "stopped"
    """Not running: initialised but not started yet, stopped by the host, or ended by itself."""
    disabled = "disabled"
    """Named in the disable list; never imported."""
    load_failed = "load_failed"
    """Its entry point could not be loaded or registered."""

    RUNNING = running
    FAILED = failed
    RESTARTING = restarting
    STOPPED = stopped
    DISABLED = disabled
    LOAD_FAILED = load_failed


@attrs.frozen(kw_only=True)
class PluginStatus:
    """One plugin as the API shows it; ``error`` is ``"Type: message"`` of the last failure."""

    name: str
    state: PluginState
    error: str | None = None
    restarts: int = 0


@attrs.frozen(kw_only=True)
class HostOptions:
    """Timeouts (seconds) and the restart policy of :class:`~stargraph.hosting.TriggerHost`.

    A crashed plugin is restarted after ``backoff_initial * backoff_factor ** n`` seconds (at
    most ``backoff_max``), where ``n`` counts its consecutive restarts; after ``max_restarts``
    of them it is ``failed``. A run that lasted ``stable_after`` seconds resets ``n``. A bad
    value raises :class:`~stargraph.errors.ConfigError`.
    """

    init_timeout: float = attrs.field(default=10.0, validator=positive)
    routes_timeout: float = attrs.field(default=5.0, validator=positive)
    start_timeout: float = attrs.field(default=10.0, validator=positive)
    stop_timeout: float = attrs.field(default=5.0, validator=positive)
    max_restarts: int = attrs.field(default=5, validator=non_negative_int)
    backoff_initial: float = attrs.field(default=1.0, validator=positive)
    backoff_factor: float = attrs.field(default=2.0, validator=positive)
    backoff_max: float = attrs.field(default=60.0, validator=positive)
    stable_after: float = attrs.field(default=60.0, validator=positive)

    def backoff(self, restarts: int) -> float:
        """Return the delay before restart number ``restarts + 1``."""
        return float(min(self.backoff_max, self.backoff_initial * self.backoff_factor**restarts))
