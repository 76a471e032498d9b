"""The hooks a Stargraph plugin may implement (all four are optional, all collect every result).

A hook implementation may be a plain function or ``async def``; the host awaits coroutines.
Implementations may declare fewer arguments than the spec (pluggy passes only what they name).
"""

from __future__ import annotations

from typing import Any

from stargraph.plugin._markers import hookspec
from stargraph.triggers._lifecycle import LIFECYCLE_HOOKS

__all__ = [
    "ALL_HOOKS",
    "LIFECYCLE_HOOKS",
    "trigger_init",
    "trigger_routes",
    "trigger_start",
    "trigger_stop",
]

ALL_HOOKS = (*LIFECYCLE_HOOKS, "trigger_routes")


@hookspec
def trigger_init(deps: dict[str, Any]) -> Any:
    """Prepare the trigger: read and validate ``deps``, keep what it needs; start nothing yet.

    ``deps`` holds ``"scheduler"``, every key of the config's ``[deps]`` table, and the plugin's
    own ``"task_group"``. Raise :class:`~stargraph.errors.StargraphRuntimeError` naming the
    missing key when something required is absent.
    """


@hookspec
def trigger_start(deps: dict[str, Any]) -> Any:
    """Begin emitting runs, typically ``deps["task_group"].start_soon(loop)``; return promptly."""


@hookspec
def trigger_stop(deps: dict[str, Any]) -> Any:
    """Clean up after the host cancelled the plugin's task group (close files, cancel tasks)."""


@hookspec
def trigger_routes() -> Any:
    """Return a list of Quart ``Blueprint`` objects to mount, or an empty list."""
