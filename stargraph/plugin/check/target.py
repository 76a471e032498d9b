"""What ``stargraph plugins check ENTRY`` checks: an installed entry point or ``module:Class``.

ENTRY is a plugin name (``dist:group:name``), an entry-point name when only one installed
plugin has it (``fswatch``), or an importable ``module:attr``. Entry points are loaded by the
real plugin loader (:func:`~stargraph.plugin.loader.build_plugin_manager`); a ``module:attr``
goes through the loader's own adapter (classes are instantiated, Trigger objects wrapped).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

import attrs

from stargraph._imports import load_object
from stargraph.errors import PluginLoadError, StargraphError
from stargraph.plugin._adapter import as_plugin
from stargraph.plugin._report import LoadRecord, PluginMetadata, load_report
from stargraph.plugin.loader import GROUPS, build_plugin_manager
from stargraph.triggers import TriggerSource
from stargraph.triggers.queue.spec import KINDS as QUEUE_KINDS

__all__ = ["Target", "resolve"]

BUNDLED_DIST = "stargraph"
PLUGIN = TriggerSource.plugin.value
#: bundled entry points whose runs carry a source other than their own name.
BUNDLED_SOURCES = dict.fromkeys(QUEUE_KINDS, TriggerSource.queue.value)


@attrs.frozen(kw_only=True)
class Target:
    """A plugin to check: its name, a way to make the object to host, how it loaded."""

    name: str
    make: Callable[[], object]
    loaded: str
    fresh: bool
    source: str  # the trigger_source its runs must carry

    @classmethod
    def from_object(cls, obj: object, name: str = "check:stargraph.triggers:plugin") -> Target:
        """A target for an object in hand (a trigger, a class, a hookimpl module)."""
        as_plugin(obj, name)  # the loader's adapter: raises PluginLoadError when it would
        return cls(
            name=name,
            make=lambda: obj,
            loaded="loaded with the plugin loader's adapter (an object, not an entry point)",
            fresh=isinstance(obj, type),
            source=PLUGIN,
        )


def _source(dist: str, entry_point: str) -> str:
    if dist != BUNDLED_DIST:
        return PLUGIN
    if entry_point in BUNDLED_SOURCES:
        return BUNDLED_SOURCES[entry_point]
    return entry_point if entry_point in TriggerSource.__members__ else PLUGIN


def _entry_point(record: LoadRecord) -> EntryPoint:
    for ep in entry_points(group=record.group, name=record.entry_point):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else None
        if dist == record.dist:
            return ep
    raise PluginLoadError(f"{record.name}: entry point vanished", plugin_name=record.name)


def _maker(record: LoadRecord) -> tuple[Callable[[], object], bool]:
    obj = _entry_point(record).load()
    if record.group == "stargraph" and inspect.isfunction(obj):
        factory = obj

        def produce() -> object:
            made = factory()
            return made.plugin if isinstance(made, PluginMetadata) else made

        return produce, True
    return (lambda: obj), isinstance(obj, type)


def _find(entry: str, records: tuple[LoadRecord, ...]) -> LoadRecord:
    if entry.count(":") == 2:
        found = [r for r in records if r.name == entry]
    else:
        found = [r for r in records if r.entry_point == entry]
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(r.name for r in found)
        raise StargraphError(f"{entry!r} is ambiguous: {names}; give the full plugin name")
    known = ", ".join(r.name for r in records) or "none"
    raise StargraphError(
        f"no installed plugin {entry!r} (groups {', '.join(GROUPS)}; installed: {known}); "
        "pip install your distribution, or name a class as module:Class"
    )


def resolve(entry: str) -> tuple[Target | None, str | None]:
    """Return ``(target, None)``, or ``(None, why it did not load)``.

    Raises :class:`StargraphError` when *entry* names nothing installed or importable.
    """
    if entry.count(":") == 1:
        obj = load_object(entry, "plugins check")
        try:
            return Target.from_object(obj, name=entry), None
        except PluginLoadError as exc:
            return None, str(exc)
    record = _find(entry, load_report(build_plugin_manager()).records)
    if record.status != "registered":
        return None, f"{record.name}: {record.status}: {record.error or 'disabled'}"
    make, fresh = _maker(record)
    target = Target(
        name=record.name,
        make=make,
        loaded=f"{record.name} registered by the plugin loader",
        fresh=fresh,
        source=_source(record.dist, record.entry_point),
    )
    return target, None
