"""Run the conformance suite: :func:`check_trigger` (async, the running backend) and
:func:`run_checks` (sync, one or both backends, as ``stargraph plugins check`` does)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio

from stargraph.clock import Clock
from stargraph.plugin._adapter import TriggerAdapter, as_plugin
from stargraph.plugin.check.checks import Signal, check_backend
from stargraph.plugin.check.report import CheckReport, CheckResult, Status
from stargraph.plugin.check.target import Target, resolve
from stargraph.triggers import Trigger

__all__ = ["check_trigger", "run_checks", "static_checks"]


def static_checks(target: Target) -> list[CheckResult]:
    """``load`` and ``protocol``: what holds whatever the backend."""
    out = [CheckResult(check="load", status=Status.passed, reason=target.loaded)]
    plugin = as_plugin(target.make(), target.name)
    if isinstance(plugin, TriggerAdapter):
        ok = isinstance(plugin.trigger, Trigger)
        reason = f"isinstance({type(plugin.trigger).__name__}(), Trigger) is {ok}"
        out.append(CheckResult(check="protocol", status=Status.passed, reason=reason))
    else:
        reason = "a carrier of @hookimpl functions: the Trigger Protocol applies to objects"
        out.append(CheckResult(check="protocol", status=Status.not_applicable, reason=reason))
    return out


def _load_failed(entry: str, why: str) -> CheckReport:
    result = CheckResult(
        check="load",
        status=Status.failed,
        reason=why,
        fix="give the class init/start/stop/routes (or mark hook functions with @hookimpl), "
        "and make it import without errors",
    )
    return CheckReport(plugin=entry, results=(result,))


async def check_trigger(
    plugin: object | Target,
    deps: Mapping[str, Any] | None = None,
    *,
    signal: Signal | None = None,
    clock: Clock | None = None,
    timeout: float = 5.0,
    quiet: float = 0.5,
    name: str = "check:stargraph.triggers:plugin",
) -> CheckReport:
    """Check *plugin* (an object, a class, or a :class:`Target`) on the running backend.

    For tests: ``report = await check_trigger(MyTrigger, deps, signal=drop_files)`` then
    ``assert report.ok, report.text()``.
    """
    target = plugin if isinstance(plugin, Target) else Target.from_object(plugin, name)
    workdir = Path(tempfile.mkdtemp(prefix="stargraph-check-"))
    try:
        results, asyncio_only = await check_backend(
            target,
            deps or {},
            signal=signal,
            workdir=workdir,
            clock=clock,
            timeout=timeout,
            quiet=quiet,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return CheckReport(
        plugin=target.name,
        results=(*static_checks(target), *results),
        asyncio_only=asyncio_only,
    )


def run_checks(
    entry: str,
    deps: Mapping[str, Any] | None = None,
    *,
    backends: Iterable[str] = ("asyncio", "trio"),
    signal: Signal | None = None,
    timeout: float = 5.0,
) -> CheckReport:
    """Resolve *entry* and check it on each backend (``stargraph plugins check``)."""
    target, why = resolve(entry)
    if target is None:
        return _load_failed(entry, why or "did not load")
    results = static_checks(target)
    asyncio_only = False
    for backend in backends:
        report = anyio.run(_one, target, deps or {}, signal, timeout, backend=backend)
        results.extend(r for r in report.results if r.backend is not None)
        asyncio_only = asyncio_only or report.asyncio_only
    return CheckReport(plugin=target.name, results=tuple(results), asyncio_only=asyncio_only)


async def _one(
    target: Target, deps: Mapping[str, Any], signal: Signal | None, timeout: float
) -> CheckReport:
    return await check_trigger(target, deps, signal=signal, timeout=timeout)
