"""The one batching writer: bounded queue → drain up to N → one commit → resolve each caller.

:class:`BatchWriter` is the group-commit machinery of the scheduler's intake (one transaction
per batch of enqueues) and of the executor's completer (one ``complete_many`` per batch of
finished runs). Callers that want the outcome pass a :class:`Ticket`; the writer resolves it
with the commit's result for that item, or fails it with the commit's error. Closing refuses
new items; :meth:`BatchWriter.run` commits what is queued and returns;
:meth:`BatchWriter.fail_all` fails whatever is still queued.

Resource handling: no anyio primitive exists before the writer runs inside the event loop.
Error handling: a commit that raises fails its batch's tickets (mapped by ``on_error``); an
``Exception`` leaves the writer running, a cancellation propagates. A commit that isolates a
bad item returns :class:`Failed` in that item's place: only its ticket fails.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from typing import Any, Generic, Protocol, TypeVar

import anyio

from stargraph._wakeup import Broadcast, Waker

__all__ = ["BatchWriter", "Failed", "GroupTicket", "Ticket"]

T = TypeVar("T")
R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class Settles(Protocol[R_contra]):
    """What the writer resolves per item: a :class:`Ticket`, or one item's share of a
    :class:`GroupTicket`."""

    def resolve(self, value: R_contra) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class Ticket(Generic[R]):
    """A one-shot awaitable result: ``await ticket`` gives the value once it is resolved.

    Awaiting raises the error it was failed with. It can be awaited any number of times, by any
    task of the event loop that resolves it, on asyncio or trio.
    """

    __slots__ = ("_done", "_error", "_event", "_result")

    def __init__(self) -> None:
        self._done = False
        self._result: R | None = None
        self._error: BaseException | None = None
        self._event: anyio.Event | None = None  # created lazily, inside the running loop

    def done(self) -> bool:
        """True once resolved or failed."""
        return self._done

    def result(self) -> R:
        """Return the value now; raise the error, or RuntimeError if not done yet."""
        if self._error is not None:
            raise self._error
        if not self._done:
            raise RuntimeError(f"{type(self).__name__} is not resolved yet; await it instead")
        return self._result  # type: ignore[return-value]

    def __await__(self) -> Generator[Any, None, R]:
        if not self._done:
            yield from self._wait().__await__()
        return self.result()

    async def _wait(self) -> None:
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()

    def resolve(self, value: R) -> None:
        """Set the value (the first resolve or fail wins)."""
        if not self._done:
            self._done, self._result = True, value
            if self._event is not None:
                self._event.set()

    def fail(self, error: BaseException) -> None:
        """Set the error that awaiting raises (the first resolve or fail wins)."""
        if not self._done:
            self._done, self._error = True, error
            if self._event is not None:
                self._event.set()


_UNSET = object()  # an item of a GroupTicket not settled yet


class GroupTicket(Ticket[list[R | BaseException]]):
    """One ticket for *size* items: ``await`` gives every item's outcome, in order (its result,
    or the error it failed with), once the last one is settled."""

    __slots__ = ("_missing", "_outcomes")

    def __init__(self, size: int) -> None:
        super().__init__()
        self._outcomes: list[R | BaseException | object] = [_UNSET] * size
        self._missing = size
        if not size:
            self.resolve([])

    def parts(self) -> list[_Part[R]]:
        """One share per item, for :meth:`BatchWriter.put_many`."""
        return [_Part(self, index) for index in range(len(self._outcomes))]

    def _settle(self, index: int, outcome: R | BaseException) -> None:
        if self._outcomes[index] is _UNSET:
            self._outcomes[index] = outcome
            self._missing -= 1
            if not self._missing:
                self.resolve(self._outcomes)  # type: ignore[arg-type]


class _Part(Generic[R]):
    """Item *index*'s share of a :class:`GroupTicket` (the first resolve or fail wins)."""

    __slots__ = ("group", "index")

    def __init__(self, group: GroupTicket[R], index: int) -> None:
        self.group, self.index = group, index

    def resolve(self, value: R) -> None:
        self.group._settle(self.index, value)

    def fail(self, error: BaseException) -> None:
        self.group._settle(self.index, error)


class Failed:
    """A commit's result for one item that failed alone: its ticket fails with ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Failed({self.error!r})"


def _same_error(_items: Sequence[Any], exc: BaseException) -> BaseException:
    return exc


class BatchWriter(Generic[T, R]):
    """Queue items without waiting; one task commits them in batches; see the module docstring.

    *commit* receives up to *batch_size* items and returns one result per item, in order
    (:class:`Failed` for an item whose ticket fails alone).
    *on_error* maps a commit's error to the error the batch's tickets fail with.
    """

    def __init__(
        self,
        commit: Callable[[list[T]], Awaitable[Sequence[R | Failed]]],
        *,
        batch_size: int,
        capacity: float = math.inf,
        on_error: Callable[[Sequence[T], BaseException], BaseException] = _same_error,
    ) -> None:
        self._commit = commit
        self._batch_size = batch_size
        self.capacity = capacity
        self._on_error = on_error
        self._queue: deque[tuple[T, Settles[R] | None]] = deque()
        self._inflight: list[tuple[T, Settles[R] | None]] = []
        self._waker = Waker()
        self._exited = Broadcast()
        self.opened = False
        self.closed = False
        self.finished = False

    def open(self) -> None:
        """Start accepting items."""
        self.opened = True

    def put(self, item: T, ticket: Settles[R] | None = None) -> None:
        """Queue *item*; ``anyio.WouldBlock`` when full, ``anyio.ClosedResourceError`` when
        not open or closed."""
        if self.closed or not self.opened:
            raise anyio.ClosedResourceError
        if len(self._queue) >= self.capacity:
            raise anyio.WouldBlock
        self._queue.append((item, ticket))
        self._waker.wake()

    def put_many(self, items: Sequence[T], ticket: GroupTicket[R]) -> None:
        """Queue all of *items* or none (as :meth:`put`); *ticket* gets their outcomes."""
        if self.closed or not self.opened:
            raise anyio.ClosedResourceError
        if len(self._queue) + len(items) > self.capacity:
            raise anyio.WouldBlock
        self._queue.extend(zip(items, ticket.parts(), strict=True))
        self._waker.wake()

    def close(self) -> None:
        """Refuse further items; :meth:`run` commits what is queued, then returns."""
        self.closed = True
        self._waker.wake()

    def depth(self) -> int:
        """Items waiting for a commit."""
        return len(self._queue)

    def pending(self) -> Iterator[T]:
        """Items not committed yet: the batch being committed, then the queued ones."""
        for item, _ in self._inflight:
            yield item
        for item, _ in self._queue:
            yield item

    async def run(self) -> None:
        """Commit batches until closed and empty (cancellation also ends it)."""
        queue, size = self._queue, self._batch_size
        try:
            while True:
                if not queue:
                    if self.closed:
                        return
                    await self._waker.wait()
                    continue
                if len(queue) <= size:
                    batch = list(queue)
                    queue.clear()
                else:
                    batch = [queue.popleft() for _ in range(size)]
                await self._write(batch)
        finally:
            self.finished = True
            self._exited.notify()

    async def join(self) -> None:
        """Return once :meth:`run` has returned (after :meth:`close`, or cancelled)."""
        while not self.finished:
            await self._exited.wait()

    async def _write(self, batch: list[tuple[T, Settles[R] | None]]) -> None:
        self._inflight = batch
        items = [item for item, _ in batch]
        try:
            results = await self._commit(items)
        except BaseException as exc:
            error = self._on_error(items, exc)
            for _, ticket in batch:
                if ticket is not None:
                    ticket.fail(error)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._inflight = []
        for (_, ticket), result in zip(batch, results, strict=True):
            if ticket is not None:
                if isinstance(result, Failed):
                    ticket.fail(result.error)
                else:
                    ticket.resolve(result)

    def fail_all(self, error: BaseException) -> int:
        """Close, fail every queued item's ticket with *error*, drop them; return the count."""
        self.close()
        failed = len(self._queue)
        for _, ticket in self._queue:
            if ticket is not None:
                ticket.fail(error)
        self._queue.clear()
        return failed
