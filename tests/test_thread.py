"""WorkerThread (stargraph._thread): the SQLite store's own thread and its hop on both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

from stargraph._thread import WorkerThread


@pytest.fixture
def worker() -> Iterator[WorkerThread]:
    thread = WorkerThread("test-worker")
    thread.start()
    yield thread
    thread.stop()


async def test_runs_calls_in_its_one_thread_and_returns_their_values(
    worker: WorkerThread,
) -> None:
    idents = [await worker.run(threading.get_ident) for _ in range(50)]
    assert len(set(idents)) == 1
    assert idents[0] != threading.get_ident()
    assert await worker.run(divmod, 17, 5) == (3, 2)


async def test_an_exception_in_the_thread_is_raised_in_the_caller(worker: WorkerThread) -> None:
    with pytest.raises(ZeroDivisionError):
        await worker.run(divmod, 1, 0)
    assert await worker.run(int, "7") == 7  # the thread survives it


async def test_a_cancelled_caller_waits_for_the_taken_call_then_is_cancelled(
    worker: WorkerThread,
) -> None:
    entered, release, done = threading.Event(), threading.Event(), []

    def slow() -> str:
        entered.set()
        release.wait(5)
        done.append(True)
        return "finished"

    got: list[str] = []
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                got.append(await worker.run(slow))
                await anyio.lowlevel.checkpoint()
                got.append("not cancelled")

            tg.start_soon(call)
            await anyio.to_thread.run_sync(entered.wait, 5)
            scope.cancel()
            await anyio.sleep(0.05)
            assert not done  # still running in the thread: the caller did not abandon it
            release.set()
    assert scope.cancelled_caught
    assert done == [True] and got == ["finished"]  # result delivered, then the cancellation
    assert await worker.run(int, "8") == 8  # the next call gets its own result, not a stale one


async def test_stop_ends_the_thread_after_queued_calls_and_run_then_refuses() -> None:
    worker = WorkerThread("test-stop")
    with pytest.raises(RuntimeError, match="not running; start"):
        await worker.run(int)
    worker.start()
    ident = await worker.run(threading.get_ident)
    worker.stop()
    worker.stop()  # idempotent
    assert ident not in {t.ident for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match="test-stop"):
        await worker.run(int)
