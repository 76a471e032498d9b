"""Turn whatever an entry point yields into something pluggy can register.

- a class is instantiated (no arguments), then treated as the instance below;
- an object or module carrying ``@hookimpl`` functions is registered as is;
- any other object with ``init``/``start``/``stop``/``routes`` (a :class:`Trigger`) is wrapped
  in a :class:`TriggerAdapter`, whose hook implementations call those methods.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from stargraph.errors import PluginLoadError
from stargraph.plugin._markers import PROJECT, hookimpl
from stargraph.triggers._contract import Trigger

__all__ = ["TriggerAdapter", "as_plugin", "has_hookimpls", "unwrap"]

_IMPL_ATTR = f"{PROJECT}_impl"
_TRIGGER_METHODS = ("init", "start", "stop", "routes")


class TriggerAdapter:
    """Answer the four trigger hooks with a :class:`Trigger` object's own methods.

    Each hook returns what the method returns; a coroutine is awaited by the async dispatcher
    and the host, never here.
    """

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger

    def __repr__(self) -> str:
        return f"TriggerAdapter({self.trigger!r})"

    @hookimpl
    def trigger_init(self, deps: dict[str, Any]) -> Any:
        return self.trigger.init(deps)

    @hookimpl
    def trigger_start(self) -> Any:
        return self.trigger.start()

    @hookimpl
    def trigger_stop(self) -> Any:
        return self.trigger.stop()

    @hookimpl
    def trigger_routes(self) -> Any:
        return self.trigger.routes()


def has_hookimpls(obj: object) -> bool:
    """Return True when *obj* has at least one attribute marked with Stargraph's ``hookimpl``."""
    for attr in dir(obj):
        try:
            value = getattr(obj, attr, None)
        except Exception:  # a property that raises is not a hook implementation
            continue
        if hasattr(value, _IMPL_ATTR):
            return True
    return False


def as_plugin(obj: object, origin: str) -> object:
    """Return the object to register for *obj*; raise :class:`PluginLoadError` if it is neither
    a Trigger nor a carrier of hook implementations. *origin* names it in messages."""
    if isinstance(obj, type):
        cls = obj
        try:
            obj = cls()
        except Exception as exc:
            raise PluginLoadError(
                f"{origin}: constructing {cls.__qualname__}() raised {type(exc).__name__}: {exc}",
                plugin_name=origin,
            ) from exc
    if has_hookimpls(obj):
        return obj
    if isinstance(obj, Trigger):
        return TriggerAdapter(obj)
    raise PluginLoadError(f"{origin}: {_describe(obj)} {_what_is_missing(obj)}", plugin_name=origin)


def unwrap(plugin: object) -> object:
    """Return the trigger object behind a :class:`TriggerAdapter`, else *plugin* itself."""
    return plugin.trigger if isinstance(plugin, TriggerAdapter) else plugin


def _describe(obj: object) -> str:
    if isinstance(obj, ModuleType):
        return f"module {obj.__name__!r}"
    return f"{type(obj).__name__} object {_short_repr(obj)}"


def _what_is_missing(obj: object) -> str:
    missing = [name for name in _TRIGGER_METHODS if not callable(getattr(obj, name, None))]
    return (
        "is neither a Trigger (missing " + ", ".join(missing) + ") nor a carrier of "
        "@hookimpl functions (mark them with stargraph.plugin._markers.hookimpl)"
    )


def _short_repr(obj: object) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."
