"""Stargraph: durable, deduplicated graph runs from triggers, on asyncio or trio.

The everyday names are importable from here: ``from stargraph import Runtime, Graph, RunPolicy,
Scheduler, SchedulerSettings, Trigger, TriggerEvent``. Errors are imported at once (a leaf
module); the rest resolve on first access, so ``import stargraph.errors`` (and the CLI's start)
does not pay for the scheduler, the stores and pluggy. The canonical modules stay importable.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from stargraph.errors import (
    ConfigError,
    InvalidCursor,
    InvalidParams,
    InvalidTriggerEvent,
    PluginLoadError,
    RunAlreadyFinished,
    RunNotFound,
    SchedulerBusy,
    SchedulerClosed,
    StargraphError,
    StargraphRuntimeError,
    StoreError,
    TriggerNotConfigured,
    TriggerNotFound,
    UnknownGraph,
    WebhookRejected,
)

if TYPE_CHECKING:
    from stargraph.plugin._markers import hookimpl
    from stargraph.runtime import Runtime
    from stargraph.scheduler import (
        Graph,
        GraphRegistry,
        RunContext,
        RunPolicy,
        Scheduler,
        SchedulerSettings,
    )
    from stargraph.store import open_store
    from stargraph.store.base import Run, RunFilter, RunStatus
    from stargraph.triggers import ControllableTrigger, Trigger, TriggerEvent, TriggerInfo

try:
    __version__ = version("stargraph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_LAZY = {
    "Runtime": "stargraph.runtime",
    "Graph": "stargraph.scheduler",
    "GraphRegistry": "stargraph.scheduler",
    "RunContext": "stargraph.scheduler",
    "RunPolicy": "stargraph.scheduler",
    "Scheduler": "stargraph.scheduler",
    "SchedulerSettings": "stargraph.scheduler",
    "Run": "stargraph.store.base",
    "RunFilter": "stargraph.store.base",
    "RunStatus": "stargraph.store.base",
    "open_store": "stargraph.store",
    "Trigger": "stargraph.triggers",
    "TriggerEvent": "stargraph.triggers",
    "ControllableTrigger": "stargraph.triggers",
    "TriggerInfo": "stargraph.triggers",
    "hookimpl": "stargraph.plugin._markers",
}

__all__ = [
    "ConfigError",
    "ControllableTrigger",
    "Graph",
    "GraphRegistry",
    "InvalidCursor",
    "InvalidParams",
    "InvalidTriggerEvent",
    "PluginLoadError",
    "Run",
    "RunAlreadyFinished",
    "RunContext",
    "RunFilter",
    "RunNotFound",
    "RunPolicy",
    "RunStatus",
    "Runtime",
    "Scheduler",
    "SchedulerBusy",
    "SchedulerClosed",
    "SchedulerSettings",
    "StargraphError",
    "StargraphRuntimeError",
    "StoreError",
    "Trigger",
    "TriggerEvent",
    "TriggerInfo",
    "TriggerNotConfigured",
    "TriggerNotFound",
    "UnknownGraph",
    "WebhookRejected",
    "__version__",
    "hookimpl",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """Resolve a lazily exported name from its canonical module (then cache it here)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'stargraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
