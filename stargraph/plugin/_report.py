"""What :func:`~stargraph.plugin.loader.build_plugin_manager` did with each entry point."""

from __future__ import annotations

from typing import Literal

import attrs
import pluggy

from stargraph.plugin._markers import PROJECT

__all__ = [
    "API_VERSION",
    "LoadRecord",
    "LoadReport",
    "LoadStatus",
    "PluginMetadata",
    "StargraphPluginManager",
    "load_report",
]

API_VERSION = 1
"""The plugin API major version this Stargraph speaks; :class:`PluginMetadata` must match it."""

LoadStatus = Literal["registered", "disabled", "load_failed"]


def _non_empty(_inst: object, attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"PluginMetadata.{attr.name} must be a non-empty string, got {value!r}")


@attrs.frozen(kw_only=True)
class PluginMetadata:
    """What a ``stargraph_plugin`` factory may return: the plugin plus who it is.

    ``plugin`` is registered like any entry point's object (a Trigger class or instance, or a
    module/object of ``@hookimpl`` functions). ``api_version`` must equal :data:`API_VERSION`.
    """

    name: str = attrs.field(validator=_non_empty)
    plugin: object
    version: str = ""
    api_version: int = attrs.field(default=API_VERSION, validator=attrs.validators.instance_of(int))
    description: str = ""


@attrs.frozen(kw_only=True)
class LoadRecord:
    """One entry point's outcome; ``name`` is ``"{dist}:{group}:{entry point name}"``."""

    name: str
    dist: str
    group: str
    entry_point: str
    status: LoadStatus
    error: str | None = None
    metadata: PluginMetadata | None = None


@attrs.frozen(kw_only=True)
class LoadReport:
    """Every entry point seen, in load order."""

    records: tuple[LoadRecord, ...] = ()

    def by_status(self, status: LoadStatus) -> list[LoadRecord]:
        """Return the records with *status*, in load order."""
        return [r for r in self.records if r.status == status]


class StargraphPluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``stargraph`` project that carries its :class:`LoadReport`."""

    def __init__(self, project_name: str = PROJECT) -> None:
        super().__init__(project_name)
        self.report: LoadReport | None = None
        """What :func:`~stargraph.plugin.loader.build_plugin_manager` did; ``None`` by hand."""


def load_report(pm: pluggy.PluginManager) -> LoadReport:
    """Return what loading *pm* did; for a manager built by hand, every plugin is registered."""
    report = pm.report if isinstance(pm, StargraphPluginManager) else None
    if report is not None:
        return report
    return LoadReport(
        records=tuple(
            LoadRecord(name=name, dist="", group="", entry_point=name, status="registered")
            for name, plugin in pm.list_name_plugin()
            if plugin is not None
        )
    )
