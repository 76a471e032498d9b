"""Supervised hosting of trigger plugins: each in its own task group, restarted on crashes."""

from __future__ import annotations

from stargraph.hosting._taskgroup import PluginTaskGroup
from stargraph.hosting._types import HostOptions, PluginState, PluginStatus
from stargraph.hosting.host import TriggerHost

__all__ = ["HostOptions", "PluginState", "PluginStatus", "PluginTaskGroup", "TriggerHost"]
