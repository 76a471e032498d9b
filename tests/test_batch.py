"""BatchWriter, Ticket, GroupTicket (stargraph._batch); Waker, Broadcast (stargraph._wakeup)."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from stargraph._batch import BatchWriter, Failed, GroupTicket, Ticket
from stargraph._wakeup import Broadcast, Waker


class Store:
    """A commit function that records its batches and can be told to fail or block."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail: Exception | None = None
        self.gate: anyio.Event | None = None

    async def commit(self, items: list[int]) -> list[int]:
        if self.gate is not None:
            await self.gate.wait()
        await checkpoint()
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(items))
        return [item * 10 for item in items]


def _writer(store: Store, **kwargs: object) -> BatchWriter[int, int]:
    writer = BatchWriter[int, int](store.commit, batch_size=3, **kwargs)  # type: ignore[arg-type]
    writer.open()
    return writer


async def test_batches_of_at_most_n_resolve_each_ticket_after_its_commit() -> None:
    store = Store()
    writer = _writer(store)
    tickets = [Ticket[int]() for _ in range(7)]
    for n, ticket in enumerate(tickets):
        writer.put(n, ticket)
    writer.put(99)  # no ticket: committed, nobody told
    assert writer.depth() == 8 and not tickets[0].done()
    writer.close()
    with anyio.fail_after(5):
        await writer.run()
    assert store.batches == [[0, 1, 2], [3, 4, 5], [6, 99]]
    assert [t.result() for t in tickets] == [0, 10, 20, 30, 40, 50, 60]
    assert [await t for t in tickets] == [0, 10, 20, 30, 40, 50, 60]
    assert writer.finished and writer.depth() == 0


async def test_a_failed_commit_fails_only_its_batch_and_the_writer_goes_on() -> None:
    store = Store()
    mapped: list[tuple[list[int], BaseException]] = []

    def on_error(items: Sequence[int], exc: BaseException) -> BaseException:
        mapped.append((list(items), exc))
        return LookupError(f"mapped {exc}")

    writer = _writer(store, on_error=on_error)
    first, second = Ticket[int](), Ticket[int]()
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run)
        store.fail = OSError("disk")
        writer.put(1, first)
        with pytest.raises(LookupError, match="mapped disk"):
            with anyio.fail_after(5):
                await first
        store.fail = None
        writer.put(2, second)
        with anyio.fail_after(5):
            assert await second == 20
        writer.close()
    assert [(items, str(exc)) for items, exc in mapped] == [([1], "disk")]
    with pytest.raises(LookupError):
        first.result()


async def test_bounded_closed_and_not_open_refusals() -> None:
    writer = BatchWriter[int, int](Store().commit, batch_size=3, capacity=2)
    with pytest.raises(anyio.ClosedResourceError):
        writer.put(1)  # not open yet
    writer.open()
    writer.put(1)
    writer.put(2)
    with pytest.raises(anyio.WouldBlock):
        writer.put(3)
    writer.close()
    with pytest.raises(anyio.ClosedResourceError):
        writer.put(4)


async def test_a_group_spans_commits_and_resolves_once_with_every_outcome_in_order() -> None:
    store = Store()
    writer = _writer(store)
    writer.put(0)
    group = GroupTicket[int](4)
    writer.put_many([1, 2, 3, 4], group)  # split over two commits (batch_size 3)
    assert writer.depth() == 5
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run)
        with anyio.fail_after(5):
            assert await group == [10, 20, 30, 40]
        writer.close()
    assert store.batches == [[0, 1, 2], [3, 4]]
    assert group.result() == [10, 20, 30, 40] and await group == [10, 20, 30, 40]


async def test_a_group_keeps_each_items_own_failure() -> None:
    async def commit(items: list[int]) -> list[int | Failed]:
        return [Failed(ValueError(f"bad {n}")) if n == 2 else n for n in items]

    writer = BatchWriter[int, int](commit, batch_size=10)
    writer.open()
    group = GroupTicket[int](3)
    writer.put_many([1, 2, 3], group)
    writer.close()
    await writer.run()
    first, second, third = group.result()
    assert (first, third) == (1, 3)
    assert isinstance(second, ValueError) and str(second) == "bad 2"


async def test_put_many_is_all_or_none() -> None:
    writer = BatchWriter[int, int](Store().commit, batch_size=3, capacity=4)
    with pytest.raises(anyio.ClosedResourceError):
        writer.put_many([1], GroupTicket[int](1))
    writer.open()
    writer.put(0)
    with pytest.raises(anyio.WouldBlock):
        writer.put_many([1, 2, 3, 4], GroupTicket[int](4))  # 1 + 4 > capacity
    assert writer.depth() == 1
    writer.put_many([1, 2, 3], GroupTicket[int](3))
    assert writer.depth() == 4
    assert GroupTicket[int](0).result() == []  # nothing to wait for


async def test_fail_all_fails_what_is_queued_and_pending_lists_in_flight_first() -> None:
    store = Store()
    store.gate = anyio.Event()
    writer = _writer(store)
    tickets = [Ticket[int]() for _ in range(5)]
    async with anyio.create_task_group() as tg:
        for n, ticket in enumerate(tickets):
            writer.put(n, ticket)
        tg.start_soon(writer.run)
        await wait_all_tasks_blocked()
        assert list(writer.pending()) == [0, 1, 2, 3, 4]  # 0-2 in flight, 3-4 queued
        assert writer.depth() == 2
        assert writer.fail_all(RuntimeError("stopped")) == 2
        store.gate.set()
    assert [t.result() for t in tickets[:3]] == [0, 10, 20]
    for ticket in tickets[3:]:
        with pytest.raises(RuntimeError, match="stopped"):
            ticket.result()
    assert list(writer.pending()) == [] and writer.finished


async def test_fail_all_settles_a_group_split_between_in_flight_and_queued() -> None:
    store = Store()
    store.gate = anyio.Event()
    writer = _writer(store)
    group = GroupTicket[int](5)
    async with anyio.create_task_group() as tg:
        writer.put_many([0, 1, 2, 3, 4], group)
        tg.start_soon(writer.run)
        await wait_all_tasks_blocked()
        writer.fail_all(RuntimeError("stopped"))
        assert not group.done()  # 0-2 still in flight
        store.gate.set()
    outcomes = group.result()
    assert outcomes[:3] == [0, 10, 20]
    assert all(isinstance(o, RuntimeError) for o in outcomes[3:])


async def test_cancelled_mid_commit_fails_the_batch_and_propagates() -> None:
    store = Store()
    store.gate = anyio.Event()
    writer = _writer(store, on_error=lambda _items, exc: RuntimeError(type(exc).__name__))
    ticket = Ticket[int]()
    writer.put(1, ticket)
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run)
        await wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    with pytest.raises(RuntimeError):
        ticket.result()
    with anyio.fail_after(5):
        await writer.join()  # run() has returned


async def test_ticket_first_outcome_wins_and_is_not_ready_before() -> None:
    ticket = Ticket[str]()
    with pytest.raises(RuntimeError, match="Ticket is not resolved yet"):
        ticket.result()
    ticket.resolve("a")
    ticket.fail(ValueError("late"))
    ticket.resolve("b")
    assert ticket.done() and ticket.result() == "a"


async def test_waker_is_sticky_and_times_out() -> None:
    waker = Waker()
    waker.wake()
    assert await waker.wait(0) is True  # woken before the wait: not lost
    assert await waker.wait(0.01) is False
    async with anyio.create_task_group() as tg:
        results: list[bool] = []

        async def waiter() -> None:
            results.append(await waker.wait())

        tg.start_soon(waiter)
        await wait_all_tasks_blocked()
        waker.wake()
    assert results == [True]


async def test_broadcast_wakes_every_current_waiter_only() -> None:
    broadcast = Broadcast()
    broadcast.notify()  # nobody waits: not sticky
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await broadcast.wait()
        woken.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(waiter, n)
        await wait_all_tasks_blocked()
        assert woken == []
        broadcast.notify()
    assert sorted(woken) == [0, 1, 2]
    with anyio.fail_after(1):
        await broadcast.wait(0.01)  # times out quietly
