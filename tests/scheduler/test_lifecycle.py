"""The scheduler's lifecycle: states, named services, a failed start that unwinds itself."""

from __future__ import annotations

from typing import Any, NoReturn

import anyio
import pytest

from stargraph.errors import SchedulerClosed, StargraphRuntimeError
from stargraph.lifecycle import LifecycleState
from stargraph.scheduler import Graph, RunContext, Scheduler
from stargraph.store import RunStatus, RunStore

from ._util import fast_settings

SERVICES = ("executor", "dispatcher", "writer", "heartbeat", "rescue", "prune", "watch")


def _task_names() -> set[str]:
    return {task.name for task in anyio.get_running_tasks()}


def _services_of(node_id: str) -> set[str]:
    return {name for name in _task_names() if name.endswith(f"@{node_id}")}


async def test_states_follow_the_lifecycle_and_it_is_single_use(store: RunStore) -> None:
    scheduler = Scheduler(store, [], settings=fast_settings())
    assert scheduler.state is LifecycleState.new and not scheduler.running
    async with scheduler as s:
        assert s is scheduler
        assert scheduler.state is LifecycleState.running and scheduler.running
    assert scheduler.state is LifecycleState.stopped and not scheduler.running
    with pytest.raises(StargraphRuntimeError, match="only once"):
        async with scheduler:
            pass
    assert scheduler.state is LifecycleState.stopped


async def test_every_service_is_a_named_task_that_ends_with_the_scheduler(
    store: RunStore,
) -> None:
    scheduler = Scheduler(store, [], settings=fast_settings(), node_id="node-a")
    async with scheduler:
        expected = {f"stargraph.scheduler:{name}@node-a" for name in SERVICES}
        assert expected <= _services_of("node-a")
        assert "stargraph.scheduler:services@node-a" in _task_names()
    assert _services_of("node-a") == set()


async def test_a_failed_start_unwinds_the_services_already_started(store: RunStore) -> None:
    class Boom(Exception):
        pass

    scheduler = Scheduler(store, [], settings=fast_settings(), node_id="node-b")
    seen: list[set[str]] = []

    async def broken_prune(*, task_status: Any) -> NoReturn:
        seen.append(_services_of("node-b"))  # executor, dispatcher, writer, ... are running
        raise Boom("prune could not start")

    scheduler._maintenance.prune_loop = broken_prune  # type: ignore[method-assign]
    with pytest.RaisesGroup(Boom, flatten_subgroups=True):
        async with scheduler:
            raise AssertionError("the body must not run after a failed start")
    assert "stargraph.scheduler:executor@node-b" in seen[0]
    assert _services_of("node-b") == set()
    assert scheduler.state is LifecycleState.stopped
    with pytest.raises(SchedulerClosed, match="stopped"):
        scheduler.enqueue("g")


async def test_outer_cancellation_during_the_body_still_drains(store: RunStore) -> None:
    """The services sit in one shielded scope: cancelling the body does not kill them before
    the drain has let a running run finish and recorded it."""
    started, finished = anyio.Event(), anyio.Event()

    async def slow(params: dict[str, Any], ctx: RunContext) -> str:
        started.set()
        await anyio.sleep(0.3)
        finished.set()
        return "done"

    scheduler = Scheduler(
        store, [Graph(graph_id="s", fn=slow)], settings=fast_settings(shutdown_grace=5)
    )
    with anyio.CancelScope() as outer:
        async with scheduler:
            out = await scheduler.submit("s")
            with anyio.fail_after(5):
                await started.wait()
            outer.cancel()
            await anyio.sleep_forever()
    assert finished.is_set() and scheduler.state is LifecycleState.stopped
    run = await store.get_run(out.run_id)
    assert run is not None and run.status is RunStatus.succeeded and run.result == "done"
