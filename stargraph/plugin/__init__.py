"""Stargraph's plugin system: pluggy markers, hook specifications, loading and dispatch.

See ``docs/plugins.md`` for how to write a trigger plugin.
"""

from __future__ import annotations

from stargraph.plugin import hookspecs, triggers_dispatcher
from stargraph.plugin._adapter import TriggerAdapter, unwrap
from stargraph.plugin._markers import hookimpl, hookspec
from stargraph.plugin._report import (
    API_VERSION,
    LoadRecord,
    LoadReport,
    PluginMetadata,
    StargraphPluginManager,
    load_report,
)
from stargraph.plugin.loader import build_plugin_manager
from stargraph.plugin.triggers_dispatcher import (
    DispatchResult,
    adispatch_trigger_lifecycle,
    collect_trigger_routes,
    dispatch_trigger_lifecycle,
)

__all__ = [
    "API_VERSION",
    "DispatchResult",
    "LoadRecord",
    "LoadReport",
    "PluginMetadata",
    "StargraphPluginManager",
    "TriggerAdapter",
    "adispatch_trigger_lifecycle",
    "build_plugin_manager",
    "collect_trigger_routes",
    "dispatch_trigger_lifecycle",
    "hookimpl",
    "hookspec",
    "hookspecs",
    "load_report",
    "triggers_dispatcher",
    "unwrap",
]
