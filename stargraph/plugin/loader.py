"""Build the plugin manager from installed entry points, one isolated entry point at a time.

Groups: ``stargraph`` (a module or object of ``@hookimpl`` functions, a Trigger class, or a
``stargraph_plugin`` factory function) and ``stargraph.triggers`` (a Trigger class -- instantiated
here -- or a module of hook implementations). Each entry point is registered as
``"{dist}:{group}:{name}"``; the order is sorted by (dist, group, name). Stargraph's own triggers
(``stargraph:stargraph.triggers:manual``, ``cron``, ``webhook``) load the same way.

A failing entry point (import error, constructor raising, duplicate name, factory returning
junk, hook signature mismatch) is logged as ``plugin.load.failed`` and skipped. What happened to
each entry point is kept in a :class:`LoadReport`: ``load_report(pm)``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from stargraph._log import log_event
from stargraph.errors import PluginLoadError
from stargraph.plugin import hookspecs
from stargraph.plugin._adapter import as_plugin
from stargraph.plugin._markers import PROJECT
from stargraph.plugin._report import (
    API_VERSION,
    LoadRecord,
    LoadReport,
    PluginMetadata,
    StargraphPluginManager,
    load_report,
)
from stargraph.plugin._trace import enable_trace_from_env, plugin_logger

__all__ = [
    "FACTORY_NAME",
    "GROUPS",
    "LoadRecord",
    "LoadReport",
    "PluginMetadata",
    "build_plugin_manager",
    "load_report",
]

GROUPS = ("stargraph", "stargraph.triggers")
FACTORY_NAME = "stargraph_plugin"


def build_plugin_manager(disable: Iterable[str] = ()) -> StargraphPluginManager:
    """Return a plugin manager holding every loadable trigger plugin.

    *disable* lists plugin names (``"dist:group:name"``) or whole distribution names to skip;
    their entry points are not even imported (``plugin.disabled``).
    """
    enable_trace_from_env()
    pm = StargraphPluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = frozenset(disable)
    log_event(plugin_logger, "plugin.discovery.start", groups=list(GROUPS))
    records: list[LoadRecord] = []
    seen: set[str] = set()
    for ep in _discover():
        records.append(_load_entry_point(pm, ep, disabled, seen))
        seen.add(records[-1].name)
    report = pm.report = LoadReport(records=tuple(records))
    log_event(
        plugin_logger,
        "plugin.discovery.done",
        registered=len(report.by_status("registered")),
        failed=len(report.by_status("load_failed")),
        disabled=len(report.by_status("disabled")),
    )
    return pm


def _dist_name(ep: EntryPoint) -> str:
    dist = ep.dist
    name = dist.metadata["Name"] if dist is not None else None
    return str(name) if name else "unknown-dist"


def _discover() -> list[EntryPoint]:
    found = [ep for group in GROUPS for ep in entry_points(group=group)]
    return sorted(found, key=lambda ep: (_dist_name(ep).lower(), ep.group, ep.name))


def _load_entry_point(
    pm: pluggy.PluginManager, ep: EntryPoint, disabled: frozenset[str], seen: set[str]
) -> LoadRecord:
    dist = _dist_name(ep)
    name = f"{dist}:{ep.group}:{ep.name}"
    base: dict[str, Any] = {"name": name, "dist": dist, "group": ep.group, "entry_point": ep.name}
    if name in disabled or dist in disabled:
        pm.set_blocked(name)
        log_event(plugin_logger, "plugin.disabled", **base)
        return LoadRecord(**base, status="disabled")
    try:
        if name in seen:
            raise PluginLoadError(
                f"{name}: duplicate plugin name; entry point {ep.value!r} is declared twice or "
                "by two installed copies of the distribution -- keep one",
                plugin_name=name,
            )
        metadata = _register(pm, ep, name)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log_event(plugin_logger, "plugin.load.failed", logging.WARNING, **base, error=error)
        return LoadRecord(**base, status="load_failed", error=error)
    log_event(plugin_logger, "plugin.register", **base, value=ep.value)
    return LoadRecord(**base, status="registered", metadata=metadata)


def _register(pm: pluggy.PluginManager, ep: EntryPoint, name: str) -> PluginMetadata | None:
    obj = ep.load()
    metadata = None
    if ep.group == "stargraph" and inspect.isfunction(obj):
        obj, metadata = _call_factory(obj, name)
    plugin = as_plugin(obj, name)
    try:
        pm.register(plugin, name=name)
    except ValueError as exc:  # pluggy: the same object is already registered under another name
        raise PluginLoadError(f"{name}: {str(exc).splitlines()[0]}", plugin_name=name) from exc
    _reject_unknown_hooks(pm, plugin, name)
    return metadata


def _call_factory(factory: Callable[[], object], name: str) -> tuple[object, PluginMetadata | None]:
    produced = factory()
    if not isinstance(produced, PluginMetadata):
        return produced, None
    if produced.api_version != API_VERSION:
        raise PluginLoadError(
            f"{name}: PluginMetadata {produced.name!r} declares api_version="
            f"{produced.api_version}, but this Stargraph speaks api_version={API_VERSION}; "
            "install a plugin release built for it",
            plugin_name=name,
        )
    return produced.plugin, produced


def _reject_unknown_hooks(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    unknown = sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or ()
        if not caller.has_spec()
        and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls())
    )
    if unknown:
        pm.unregister(plugin)
        raise PluginLoadError(
            f"{name}: implements unknown hook(s) {', '.join(unknown)}; the hooks are "
            + ", ".join(hookspecs.ALL_HOOKS),
            plugin_name=name,
            hook=", ".join(unknown),
        )
