"""``plugins check`` on deliberately broken triggers: each fails with its own reason, on
asyncio and trio; a correct one passes."""

from __future__ import annotations

from typing import Any

import pytest

from stargraph.plugin.check import CheckReport, SignalContext, Status, check_trigger

from . import broken


def signal(ctx: SignalContext) -> None:
    ctx.deps["signals"][:] = ["s1", "s2"]  # the same two signals every round


async def check(cls: type, **kw: Any) -> CheckReport:
    return await check_trigger(cls, {"signals": []}, signal=signal, timeout=0.5, quiet=0.2, **kw)


def only_failure(report: CheckReport) -> Any:
    assert [r.check for r in report.failed] == [report.failed[0].check], report.text()
    return report.failed[0]


async def test_a_correct_trigger_passes() -> None:
    report = await check(broken.Good)
    assert report.ok, report.text()
    assert report.result("idempotency").status is Status.passed
    assert report.result("source").status is Status.passed
    assert not report.asyncio_only


async def test_missing_dep_is_a_bare_key_error() -> None:
    failure = only_failure(await check(broken.MissingDep))
    assert failure.check == "missing-dep"
    assert "bare KeyError" in failure.reason and "StargraphRuntimeError" in (failure.fix or "")


async def test_unstable_key(anyio_backend: str) -> None:
    failure = only_failure(await check(broken.UnstableKey))
    assert failure.check == "idempotency"
    assert "made 2 new run(s)" in failure.reason and "unstable:" in failure.reason


async def test_stop_that_hangs() -> None:
    report = await check(broken.HangingStop)
    assert {r.check for r in report.failed} == {"stop", "restart"}, report.text()
    assert "it hangs" in report.result("stop").reason


async def test_wrong_routes_type() -> None:
    failure = only_failure(await check(broken.WrongRoutes))
    assert failure.check == "routes"
    assert "must return a list of Blueprints, got str" in failure.reason


async def test_routes_that_clash() -> None:
    failure = only_failure(await check(broken.ClashingRoutes))
    assert failure.reason == "route GET /healthz clashes with Stargraph's own route"


@pytest.mark.parametrize(
    ("cls", "what"),
    [
        (broken.LeakingTask, "task "),
        (broken.LeakingThread, "thread 'leaked-by-LeakingThread'"),
        (broken.LeakingFile, "open file /"),
    ],
)
# These triggers leak on purpose; the leaked file is closed by the garbage collector later.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_leaks(cls: type, what: str) -> None:
    try:
        report = await check(cls)
    finally:
        for release in broken.LeakingThread.releases:
            release.set()
        while broken.LeakingFile.leaked:  # closed here, not by a later test's GC
            broken.LeakingFile.leaked.pop().close()
    assert {r.check for r in report.failed} == {"cleanup", "restart"}, report.text()
    assert f"after stop(), still there: {what}" in report.result("cleanup").reason


# On trio the seed form builds its coroutine before asyncio.create_task refuses: expected here.
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_seed_style_asyncio_task_on_trio_is_asyncio_only(anyio_backend: str) -> None:
    report = await check(broken.AsyncioOnly)
    if anyio_backend == "asyncio":
        assert report.ok and not report.asyncio_only, report.text()
        assert report.result("cancel").status is Status.not_applicable
        return
    assert report.ok and report.asyncio_only, report.text()
    assert "asyncio only: start() raised RuntimeError" in report.result("start").reason


@pytest.mark.parametrize("cls", [broken.Good])
async def test_text_and_json(cls: type) -> None:
    report = await check(cls)
    assert report.text().splitlines()[-1] == "verdict: passed"
    assert report.to_json()["ok"] is True
