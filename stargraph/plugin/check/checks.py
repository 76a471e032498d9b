"""The conformance checks, run on one backend against a :class:`TriggerHarness`.

Order: ``missing-dep``, ``init``, ``routes``, ``start``, ``stop``, ``cleanup``, ``restart``,
``cancel``, then, with a signal hook, ``signal``, ``idempotency`` and ``source``. A check whose
precondition failed is reported ``n/a`` with the reason.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from quart import Blueprint

from stargraph.clock import Clock
from stargraph.errors import StargraphError
from stargraph.plugin.check._util import asyncio_only, bound, describe, forget, mount
from stargraph.plugin.check.context import Signal, SignalContext
from stargraph.plugin.check.harness import TriggerHarness
from stargraph.plugin.check.probe import settled_leaks, snapshot
from stargraph.plugin.check.report import CheckResult, Status
from stargraph.plugin.check.target import Target
from stargraph.store.base import Run
from stargraph.triggers.control import ControllableTrigger

__all__ = ["Signal", "SignalContext", "check_backend"]  # the first two live in .context


class _Checks:
    """One backend's run of the suite; ``results`` in the order the checks ran."""

    def __init__(
        self,
        target: Target,
        harness: TriggerHarness,
        work: Path,
        signal: Signal | None,
        backend: str,
        quiet: float,
    ) -> None:
        self.t = target
        self.h = harness
        self.work = work
        self.signal = signal
        self.backend = backend
        self.quiet = quiet
        self.results: list[CheckResult] = []
        self.asyncio_only = False
        self.first_runs: list[Run] = []
        self.first_crash: BaseException | None = None

    def add(self, check: str, status: Status, reason: str, fix: str | None = None) -> None:
        self.results.append(
            CheckResult(check=check, status=status, reason=reason, fix=fix, backend=self.backend)
        )

    def skip(self, checks: str, reason: str) -> None:
        for check in checks.split():
            self.add(check, Status.not_applicable, reason)

    async def run(self) -> None:
        await self.missing_dep()
        if not await self.init():
            self.skip(
                "routes start stop cleanup restart cancel signal idempotency source", "init failed"
            )
            return
        await self.routes()
        if not await self.lifecycle():
            return
        await self.restart_and_cancel()
        await self.signals()

    # -- init -----------------------------------------------------------------------------------

    async def missing_dep(self) -> None:
        deps = {k: v for k, v in self.h.plugin_deps().items() if k != "scheduler"}
        try:
            await self.h.call("trigger_init", deps)
        except StargraphError as exc:
            self.add("missing-dep", Status.passed, f"without deps['scheduler']: {describe(exc)}")
        except Exception as exc:
            self.add(
                "missing-dep",
                Status.failed,
                f"init without deps['scheduler'] raised a bare {describe(exc)}",
                "check the key and raise stargraph.errors.StargraphRuntimeError naming it, e.g. "
                "\"MyTrigger.init(deps) requires deps['scheduler']\"",
            )
        else:
            self.add("missing-dep", Status.passed, "init without deps['scheduler'] returned")
        if self.t.fresh:  # the real run starts from a new instance
            await self.h.replace(self.t.make())

    async def init(self) -> bool:
        try:
            await self.h.init()
        except Exception as exc:
            self.add(
                "init",
                Status.failed,
                f"init(deps) raised {describe(exc)}",
                "pass the keys it reads with --deps KEY=VALUE (or --config), and make init "
                "return promptly (no I/O that can hang)",
            )
            return False
        keys = ", ".join(sorted(self.h.user_deps)) or "no config keys"
        self.add("init", Status.passed, f"init(deps) returned ({keys})")
        return True

    # -- routes ---------------------------------------------------------------------------------

    async def routes(self) -> None:
        fix = "return a list of quart.Blueprint objects from routes() (or [])"
        try:
            found = await self.h.routes()
        except Exception as exc:
            self.add("routes", Status.failed, f"routes() failed: {describe(exc)}", fix)
            return
        bad = [b for b in found if not isinstance(b, Blueprint)]
        if bad:
            what = f"{type(bad[0]).__name__} {bad[0]!r}"[:80]
            self.add("routes", Status.failed, f"routes() returned a list holding {what}", fix)
            return
        clash = mount(found, self.backend)
        if clash:
            self.add(
                "routes",
                Status.failed,
                clash,
                "serve your routes under your own prefix (url_prefix=...) and give the Blueprint "
                "a unique name",
            )
            return
        rules = sum(len(list(b.deferred_functions)) for b in found)
        self.add("routes", Status.passed, f"{len(found)} Blueprint(s), {rules} route(s), no clash")

    # -- start / stop ---------------------------------------------------------------------------

    async def lifecycle(self) -> bool:
        before = snapshot()
        began = time.perf_counter()
        try:
            await self.h.start()
        except Exception as exc:
            await self._stop_quietly()
            if self.backend == "trio" and asyncio_only(exc):
                self.h.start_error = None
                forget(exc)
                self.asyncio_only = True
                self.skip(
                    "start stop cleanup restart cancel signal idempotency source",
                    f"asyncio only: start() raised {describe(exc)} on trio",
                )
                return False
            self.add(
                "start",
                Status.failed,
                f"start() raised {describe(exc)}" + bound(exc, self.h.timeout),
                "start background work with deps['task_group'].start_soon(...) and return",
            )
            self.skip("stop cleanup restart cancel signal idempotency source", "start failed")
            return False
        self.add("start", Status.passed, f"start() returned in {time.perf_counter() - began:.2f} s")
        if self.signal is not None:
            self.first_runs = await self._round(1)
            self.first_crash = self.h.crash
        await self._stop_checked(before, "stop", "cleanup")
        return True

    async def _stop_quietly(self) -> None:
        try:
            await self.h.stop()
        except Exception:
            return

    async def _stop_checked(self, before: Any, stop: str, cleanup: str) -> bool:
        began = time.perf_counter()
        try:
            await self.h.stop()
        except Exception as exc:
            self.add(
                stop,
                Status.failed,
                f"stop() raised {describe(exc)}" + bound(exc, self.h.timeout),
                "stop() must return promptly: the host has already cancelled deps['task_group']"
                "; release only what the task group does not own",
            )
            self.skip(cleanup, "stop failed")
            return False
        self.add(stop, Status.passed, f"stop() returned in {time.perf_counter() - began:.2f} s")
        left = await settled_leaks(before, grace=min(1.0, self.h.timeout))
        if left:
            self.add(
                cleanup,
                Status.failed,
                "after stop(), still there: " + "; ".join(left)[:300],
                "start tasks in deps['task_group'] (the host cancels them), and close threads "
                "and files in stop()",
            )
            return False
        self.add(cleanup, Status.passed, "no task, thread or open file left behind")
        return True

    async def restart_and_cancel(self) -> None:
        before = snapshot()
        try:
            await self.h.start()
        except Exception as exc:
            await self._stop_quietly()
            self.add(
                "restart",
                Status.failed,
                f"start() after stop() raised {describe(exc)}",
                "the host restarts a crashed plugin with start() only (init is not called "
                "again): keep what start() needs from init, and reset per-run state in start()",
            )
            self.skip("cancel", "restart failed")
            return
        await self.cancel(before)
        if await self._stop_checked(before, "restart", "restart"):
            self.results.pop()  # one line: restart passed (stop and cleanup both held)
            self.results[-1] = attrs.evolve(
                self.results[-1], reason="start() again (new task group, no init) and stop() clean"
            )

    async def cancel(self, before: Any) -> None:
        if not await self.h.cancel():
            self.add(
                "cancel",
                Status.failed,
                f"its task group did not end within {self.h.timeout:g} s of being cancelled",
                "do not catch cancellation (anyio.get_cancelled_exc_class(), BaseException) "
                "in tasks; put cleanup in finally",
            )
            return
        outside = [
            x
            for x in await settled_leaks(before, grace=min(0.3, self.h.timeout))
            if x.startswith("task ")
        ]
        if outside:
            self.add(
                "cancel",
                Status.not_applicable,
                "asyncio form: a task outside deps['task_group'] survives the cancellation ("
                + outside[0][:120]
                + "); only stop() ends it",
                "start it with deps['task_group'].start_soon(...) so the host can stop it",
            )
            return
        self.add("cancel", Status.passed, "cancelling deps['task_group'] stopped it")

    # -- signals --------------------------------------------------------------------------------

    async def _round(self, number: int) -> list[Run]:
        assert self.signal is not None
        ctx = SignalContext(harness=self.h, workdir=self.work, round=number)
        result = self.signal(ctx)
        if inspect.isawaitable(result):
            await result
        try:
            if number == 1:
                await self.h.wait_for_runs(1, timeout=10)
            return await self.h.quiet(self.quiet, timeout=30)
        except TimeoutError:
            return await self.h.runs()

    async def signals(self) -> None:
        if self.signal is None:
            self.skip(
                "signal idempotency source",
                "no signal hook: pass --signal module:function (docs/plugins.md, the kit)",
            )
            return
        first = self.first_runs
        if not first:
            self.add(
                "signal",
                Status.failed,
                "the signal hook ran but no run was stored within 10 s"
                + (
                    f" (its task group crashed: {describe(self.first_crash)})"
                    if self.first_crash
                    else ""
                ),
                "make the signal hook produce what the trigger watches, with the deps given",
            )
            self.skip("idempotency source", "no run to compare")
            return
        self.add("signal", Status.passed, f"{len(first)} run(s) from the first round of signals")
        await self.idempotency(first)
        self.source(first)

    async def idempotency(self, first: list[Run]) -> None:
        if self.t.fresh:
            await self.h.replace(self.t.make())
        how = "a new instance" if self.t.fresh else "the same object, restarted"
        known = {r.idempotency_key for r in await self.h.runs()}  # the restart's runs too
        try:
            await self.h.start()
            again = await self._round(2)
        finally:
            await self._stop_quietly()
        new = [r for r in again if r.idempotency_key not in known]
        if new:
            self.add(
                "idempotency",
                Status.failed,
                f"the same signals, replayed on {how}, made {len(new)} new run(s), e.g. key "
                f"{new[0].idempotency_key!r} (first round: {first[0].idempotency_key!r})",
                "derive the idempotency key from the signal itself (a message id, path + "
                "content hash, a planned fire time), never from the clock, a counter or uuid4",
            )
            return
        self.add("idempotency", Status.passed, f"same signals on {how}: no new run")

    def source(self, runs: list[Run]) -> None:
        trigger = self.h.trigger
        ids = {self.t.name}
        if isinstance(trigger, ControllableTrigger):
            ids.update(trigger.trigger_ids())
        wrong = [r for r in runs if r.trigger_source != self.t.source or r.trigger_id not in ids]
        if wrong:
            r = wrong[0]
            self.add(
                "source",
                Status.failed,
                f"run {r.run_id} was recorded with trigger_source={r.trigger_source!r}, "
                f"trigger_id={r.trigger_id!r} (expected {self.t.source!r} and one of "
                f"{sorted(ids)})",
                "enqueue through deps['scheduler'] without overriding trigger_source; pass "
                "trigger_id only with an id trigger_ids() lists",
            )
            return
        self.add(
            "source",
            Status.passed,
            f"runs recorded with trigger_source={self.t.source!r} and its trigger id",
        )


async def check_backend(
    target: Target,
    deps: Mapping[str, Any],
    *,
    signal: Signal | None,
    workdir: Path,
    clock: Clock | None = None,
    timeout: float = 5.0,
    quiet: float = 0.5,
) -> tuple[list[CheckResult], bool]:
    """Run the suite on the running backend; return the results and the asyncio-only flag."""
    backend = "trio" if _on_trio() else "asyncio"
    work = workdir / "work"
    work.mkdir(parents=True, exist_ok=True)
    filled = {k: _fill(v, work) for k, v in deps.items()}
    harness = TriggerHarness(
        target.make(), filled, name=target.name, workdir=workdir, clock=clock, timeout=timeout
    )
    quiet_log = _Quiet()
    logging.getLogger("stargraph.triggers").addFilter(quiet_log)
    try:
        async with harness:
            checks = _Checks(target, harness, work, signal, backend, quiet)
            await checks.run()
    finally:
        logging.getLogger("stargraph.triggers").removeFilter(quiet_log)
    return checks.results, checks.asyncio_only


class _Quiet(logging.Filter):
    """Drop ``trigger.lifecycle.failed`` while checking: each failure is a check result."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "trigger.lifecycle.failed" not in record.getMessage()


def _fill(value: Any, work: Path) -> Any:
    return value.replace("{workdir}", str(work)) if isinstance(value, str) else value


def _on_trio() -> bool:
    import sniffio

    return sniffio.current_async_library() == "trio"
