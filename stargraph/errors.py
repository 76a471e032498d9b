"""Every error Stargraph raises, rooted at :class:`StargraphError`.

::

    StargraphError
    ├── StargraphRuntimeError        misuse at run time (missing deps, not started, ...)
    │   └── SchedulerClosed          enqueue after the scheduler stopped
    ├── SchedulerBusy                the intake stream is full; retry later (HTTP 503)
    ├── RunAlreadyFinished           cancel of a run that has already ended (HTTP 409)
    ├── RunNotFinished               retry of a run that has not ended yet (HTTP 409)
    ├── ConfigError (ValueError)     an invalid configuration value (file, key, reason)
    ├── PluginLoadError              an entry point could not be loaded or registered
    ├── UnknownGraph (LookupError)   a graph id that is not registered
    ├── RunNotFound (LookupError)    a run id the store does not hold
    ├── TriggerNotFound (LookupError) a trigger id no hosted trigger owns
    ├── InvalidParams (ValueError)   run params that are not a JSON object
    ├── InvalidTriggerEvent (ValueError)
    ├── InvalidCursor (ValueError)   a list_runs page cursor that was not issued by a store
    ├── StoreError                   the store failed or holds an unexpected schema
    │   └── StoreRejected            the store refused a value it cannot hold (not an outage)
    └── WebhookRejected              a webhook delivery failed verification (has ``.code``)

Messages name the offending value and, where one exists, the fix. The HTTP status and error
code of each is in one table, ``stargraph.serve._errors`` (documented in ``docs/api.md``).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InvalidCursor",
    "InvalidParams",
    "InvalidTriggerEvent",
    "PluginLoadError",
    "RunAlreadyFinished",
    "RunNotFinished",
    "RunNotFound",
    "SchedulerBusy",
    "SchedulerClosed",
    "StargraphError",
    "StargraphRuntimeError",
    "StoreError",
    "StoreRejected",
    "TriggerNotFound",
    "UnknownGraph",
    "WebhookRejected",
    "describe_error",
    "first_leaf",
]


class StargraphError(Exception):
    """Root of every error Stargraph raises."""


class StargraphRuntimeError(StargraphError):
    """Stargraph was used in a way that cannot work (missing deps, not started, ...)."""


class SchedulerBusy(StargraphError):
    """The scheduler's bounded intake is full; the caller should retry later (not misuse)."""

    def __init__(self, capacity: int, retry_after: float = 1.0) -> None:
        self.capacity = capacity
        self.retry_after = retry_after
        super().__init__(
            f"Scheduler intake is full ({capacity} requests waiting); retry in about "
            f"{retry_after:g} s or raise [scheduler] intake_capacity"
        )


class SchedulerClosed(StargraphRuntimeError):
    """The scheduler is not running (not started yet, or already stopped)."""


class RunAlreadyFinished(StargraphError):
    """A cancel was asked of a run that has already ended; ``status`` is how it ended."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} already ended ({status})")


class RunNotFinished(StargraphError):
    """A retry was asked of a run that has not ended yet; ``status`` is where it is."""

    def __init__(self, run_id: str, status: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(
            f"run {run_id} is {status}, not finished; retry it once it has ended "
            "(or cancel it first)"
        )


class ConfigError(StargraphError, ValueError):
    """An invalid configuration value; the message names the source, key and reason."""


class PluginLoadError(StargraphError):
    """A plugin entry point could not be loaded, instantiated or registered.

    ``plugin_name`` is the registration name (``"{dist}:{group}:{name}"``) when known, ``hook``
    the hook implementation at fault (e.g. ``"trigger_init"``) when the failure is about one.
    """

    def __init__(
        self, message: str, *, plugin_name: str | None = None, hook: str | None = None
    ) -> None:
        self.plugin_name = plugin_name
        self.hook = hook
        super().__init__(message)


class UnknownGraph(StargraphError, LookupError):
    """A graph id that no registered graph has."""

    def __init__(self, graph_id: str, known: list[str] | None = None) -> None:
        self.graph_id = graph_id
        hint = f"; registered graphs: {', '.join(sorted(known))}" if known else ""
        super().__init__(f"Unknown graph {graph_id!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


class RunNotFound(StargraphError, LookupError):
    """A run id the store does not hold."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"No run with id {run_id!r}")

    def __str__(self) -> str:
        return str(self.args[0])


class TriggerNotFound(StargraphError, LookupError):
    """A trigger id that no hosted trigger owns."""

    def __init__(self, trigger_id: str) -> None:
        self.trigger_id = trigger_id
        super().__init__(f"No trigger with id {trigger_id!r}")

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidParams(StargraphError, ValueError):
    """Run params that are not a JSON-serialisable object."""


class InvalidTriggerEvent(StargraphError, ValueError):
    """A :class:`~stargraph.triggers.TriggerEvent` field holds an invalid value."""


class InvalidCursor(StargraphError, ValueError):
    """A pagination cursor that no store issued (corrupt, truncated or hand-made)."""


class StoreError(StargraphError):
    """The store failed, or its schema is newer than this Stargraph understands."""


class StoreRejected(StoreError):
    """The store refused a value of the write (a data error, e.g. a character it cannot
    encode): the database is fine, and retrying the same value fails again."""


class WebhookRejected(StargraphError):
    """A webhook delivery was refused; ``code`` is the API error code, ``status`` the HTTP one."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        self.code = code
        self.status = status
        super().__init__(message)


def first_leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups, or *exc* itself."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe_error(exc: BaseException | None) -> str:
    """``"Type: message"`` of *exc*, or of the first leaf of an exception group."""
    if exc is None:
        return "unknown error"
    leaf = first_leaf(exc)
    return f"{type(leaf).__name__}: {leaf}"
