"""Call trigger hooks plugin by plugin, so one failing plugin cannot stop the others.

``pm.hook.trigger_init(deps=...)`` keeps pluggy's behaviour (the first exception aborts the call
and loses the other results). The functions here call each plugin's implementation separately,
in load order, log a failure as ``trigger.lifecycle.failed`` (fields ``plugin``, ``hook``,
``error_type``, ``message``) and record it in that plugin's :class:`DispatchResult`. Plugins
that do not implement the hook get no result.

This module lives under ``stargraph.triggers`` (it needs only pluggy, not Stargraph's plugin
loading) so that ``stargraph.plugin`` depends on ``stargraph.triggers`` and never the reverse;
``stargraph.plugin.triggers_dispatcher`` re-exports it under the seed's import path.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import anyio
import attrs
import pluggy

from stargraph._log import log_event
from stargraph.errors import StargraphRuntimeError

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

LifecycleHook = Literal["trigger_init", "trigger_start", "trigger_stop"]
DEFAULT_TIMEOUT = 10.0
_log = logging.getLogger("stargraph.triggers")

LIFECYCLE_HOOKS = ("trigger_init", "trigger_start", "trigger_stop")
"""The hooks :func:`dispatch_trigger_lifecycle` accepts (``trigger_routes`` is collected)."""


@attrs.frozen(kw_only=True)
class DispatchResult:
    """One plugin's outcome: ``result`` when ``success``, else the exception in ``error``."""

    plugin_name: str
    success: bool
    result: Any = None
    error: BaseException | None = None


def plugins_in_load_order(pm: pluggy.PluginManager) -> list[tuple[str, object]]:
    """Return ``(name, plugin)`` pairs in registration order, without blocked names."""
    return [(name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None]


def _impls(pm: pluggy.PluginManager, hook: str, plugin: object) -> list[pluggy.HookImpl]:
    caller = getattr(pm.hook, hook)
    return [
        impl
        for impl in reversed(caller.get_hookimpls())  # pluggy lists them in reverse call order
        if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper)
    ]


def _check_lifecycle(hook_name: str) -> None:
    if hook_name not in LIFECYCLE_HOOKS:
        raise ValueError(
            f"hook_name must be one of {', '.join(LIFECYCLE_HOOKS)}; got {hook_name!r}"
        )


def _args(impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> list[Any]:
    return [kwargs[name] for name in impl.argnames]


def _failed(name: str, hook: str, exc: Exception) -> DispatchResult:
    log_event(
        _log,
        "trigger.lifecycle.failed",
        logging.ERROR,
        plugin=name,
        hook=hook,
        error_type=type(exc).__name__,
        message=str(exc),
    )
    return DispatchResult(plugin_name=name, success=False, error=exc)


def _single(results: list[Any]) -> Any:
    return results[0] if len(results) == 1 else results


def _refuse_awaitable(value: Any, hook: str) -> Any:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise StargraphRuntimeError(
            f"{hook} returned an awaitable; the sync dispatcher cannot await it -- use "
            "adispatch_trigger_lifecycle / acollect_trigger_routes (the host does)"
        )
    return value


def call_hook(
    pm: pluggy.PluginManager, name: str, plugin: object, hook: str, kwargs: Mapping[str, Any]
) -> DispatchResult | None:
    """Call *plugin*'s implementation of *hook* synchronously; None if it has none."""
    impls = _impls(pm, hook, plugin)
    if not impls:
        return None
    try:
        results = [_refuse_awaitable(i.function(*_args(i, kwargs)), hook) for i in impls]
        value = _finish(hook, results)
    except Exception as exc:
        return _failed(name, hook, exc)
    return DispatchResult(plugin_name=name, success=True, result=value)


async def _await_all(impls: list[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> list[Any]:
    results = []
    for impl in impls:
        value = impl.function(*_args(impl, kwargs))
        if inspect.isawaitable(value):
            value = await value
        results.append(value)
    return results


async def _bounded(awaitable: Awaitable[list[Any]], hook: str, timeout: float | None) -> list[Any]:
    with anyio.move_on_after(timeout):
        return await awaitable
    if inspect.iscoroutine(awaitable):
        awaitable.close()
    raise TimeoutError(f"{hook} did not return within {timeout:g} s")


async def acall_hook(
    pm: pluggy.PluginManager,
    name: str,
    plugin: object,
    hook: str,
    kwargs: Mapping[str, Any],
    timeout: float | None = DEFAULT_TIMEOUT,
    *,
    expected: Callable[[Exception], bool] | None = None,
) -> DispatchResult | None:
    """Call *plugin*'s implementation of *hook*, awaiting a coroutine for at most *timeout*
    seconds (a sync hook that blocks the event loop cannot be interrupted).

    An error for which *expected* returns True is returned without the
    ``trigger.lifecycle.failed`` event (the caller reports it, e.g. as not configured).
    """
    impls = _impls(pm, hook, plugin)
    if not impls:
        return None
    try:
        value = _finish(hook, await _bounded(_await_all(impls, kwargs), hook, timeout))
    except Exception as exc:
        if expected is not None and expected(exc):
            return DispatchResult(plugin_name=name, success=False, error=exc)
        return _failed(name, hook, exc)
    return DispatchResult(plugin_name=name, success=True, result=value)


def _finish(hook: str, results: list[Any]) -> Any:
    if hook != "trigger_routes":
        return _single(results)
    routes: list[Any] = []
    for value in results:
        if value is None:
            continue
        if not isinstance(value, list | tuple):
            raise TypeError(
                f"trigger_routes() must return a list of Blueprints, got {type(value).__name__}"
            )
        routes.extend(value)
    return routes


def dispatch_trigger_lifecycle(
    pm: pluggy.PluginManager, hook_name: str, deps: dict[str, Any]
) -> list[DispatchResult]:
    """Call *hook_name* (``trigger_init``/``_start``/``_stop``) on every plugin, isolated.

    A plugin whose hook returns a coroutine gets a failed result (use the async twin).
    """
    _check_lifecycle(hook_name)
    kwargs = {"deps": deps}
    outcomes = (call_hook(pm, n, p, hook_name, kwargs) for n, p in plugins_in_load_order(pm))
    return [o for o in outcomes if o is not None]


async def adispatch_trigger_lifecycle(
    pm: pluggy.PluginManager,
    hook_name: str,
    deps: dict[str, Any],
    timeout: float | None = DEFAULT_TIMEOUT,
) -> list[DispatchResult]:
    """Like :func:`dispatch_trigger_lifecycle`, awaiting coroutines; each plugin's call is
    bounded by *timeout* seconds (a timeout is a failed result holding a ``TimeoutError``)."""
    _check_lifecycle(hook_name)
    outcomes = [
        await acall_hook(pm, n, p, hook_name, {"deps": deps}, timeout)
        for n, p in plugins_in_load_order(pm)
    ]
    return [o for o in outcomes if o is not None]


def collect_trigger_routes(pm: pluggy.PluginManager) -> list[DispatchResult]:
    """Call ``trigger_routes()`` on every plugin; each ``result`` is a list of Blueprints."""
    outcomes = (call_hook(pm, n, p, "trigger_routes", {}) for n, p in plugins_in_load_order(pm))
    return [o for o in outcomes if o is not None]


async def acollect_trigger_routes(
    pm: pluggy.PluginManager, timeout: float | None = DEFAULT_TIMEOUT
) -> list[DispatchResult]:
    """Like :func:`collect_trigger_routes`, awaiting ``async def routes()``."""
    outcomes = [
        await acall_hook(pm, n, p, "trigger_routes", {}, timeout)
        for n, p in plugins_in_load_order(pm)
    ]
    return [o for o in outcomes if o is not None]


def flatten_routes(results: Iterable[DispatchResult]) -> list[Any]:
    """Return the Blueprints of every successful result, in order."""
    return [route for r in results if r.success for route in r.result]
