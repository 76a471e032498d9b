"""The same trigger as plain pluggy hooks around a module-level instance.

It watches its own folder, ``deps["fswatch_hooks_path"]`` (graph
``deps["fswatch_hooks_graph_id"]``), with trigger id ``fswatch_hooks``, so it never enqueues the
files the class entry point already watches; without ``fswatch_hooks_path`` it stays idle.
"""

from __future__ import annotations

from typing import Any

from my_triggers.fswatch import FilesystemWatchTrigger
from stargraph.plugin._markers import hookimpl


class _HookedWatch(FilesystemWatchTrigger):
    trigger_id = "fswatch_hooks"


_trigger = _HookedWatch()
_active = False


@hookimpl
def trigger_init(deps: dict[str, Any]) -> None:
    global _active
    _active = "fswatch_hooks_path" in deps
    if _active:
        _trigger.init(deps)


@hookimpl
def trigger_start(deps: dict[str, Any]) -> None:
    if _active:
        _trigger.start()


@hookimpl
def trigger_stop(deps: dict[str, Any]) -> None:
    if _active:
        _trigger.stop()


@hookimpl
def trigger_routes() -> list[Any]:
    return _trigger.routes()
