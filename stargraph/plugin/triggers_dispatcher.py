"""Per-plugin lifecycle dispatch under its documented import path (DESIGN §3).

The implementation is :mod:`stargraph.triggers._lifecycle`; see its docstring for the contract.
"""

from __future__ import annotations

from stargraph.triggers._lifecycle import (
    LIFECYCLE_HOOKS,
    DispatchResult,
    LifecycleHook,
    acall_hook,
    acollect_trigger_routes,
    adispatch_trigger_lifecycle,
    call_hook,
    collect_trigger_routes,
    dispatch_trigger_lifecycle,
    flatten_routes,
    plugins_in_load_order,
)

__all__ = [
    "LIFECYCLE_HOOKS",
    "DispatchResult",
    "LifecycleHook",
    "acall_hook",
    "acollect_trigger_routes",
    "adispatch_trigger_lifecycle",
    "call_hook",
    "collect_trigger_routes",
    "dispatch_trigger_lifecycle",
    "flatten_routes",
    "plugins_in_load_order",
]
