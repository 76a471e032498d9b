"""The :class:`~stargraph.store.base.RunStore` protocol implemented once for the SQL stores.

:class:`SQLStore` holds what does not depend on the backend: the guards (empty input, bad
limits), the docstrings, completion validation ("terminal statuses only, first completion
wins"), ``list_runs`` paging, prune chunking and the trigger-state readers. A backend subclass
supplies :meth:`SQLStore._run` (how a blocking ``fn(conn)`` reaches the database), its
``leases`` and ``queries`` modules (same function names and signatures in both backends), and
the operations whose arguments differ (``_op_*``: PostgreSQL adds its NOTIFY channel and lock
prefix), each in its own hand-tuned SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

from stargraph.store._sql import queries
from stargraph.store._sql.dialect import Dialect
from stargraph.store.base import (
    Attempt,
    Completion,
    Enqueued,
    EnqueueRequest,
    Run,
    RunError,
    RunFilter,
    RunPage,
    RunStatus,
    RunTiming,
    TriggerState,
)

__all__ = ["LeaseSQL", "QuerySQL", "SQLStore", "Undo"]

T = TypeVar("T")
#: Undoes a result that was committed but will never reach its cancelled caller.
Undo = Callable[[Any, T], None]


class LeaseSQL(Protocol):
    """The blocking lease operations both backends' ``leases`` modules define alike."""

    def heartbeat(
        self, conn: Any, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
    ) -> tuple[set[str], set[str]]: ...

    def complete_many(
        self, conn: Any, *, owner: str, completions: Sequence[Completion], now: datetime
    ) -> set[str]: ...

    def request_cancel(self, conn: Any, *, run_id: str, now: datetime) -> Run | None: ...


class QuerySQL(Protocol):
    """The blocking reads and writes both backends' ``queries`` modules define alike."""

    #: The cheapest statement that proves the database answers.
    PING: str
    #: Rows deleted per prune transaction, so claims and enqueues interleave with a big prune.
    PRUNE_CHUNK: int

    def listing_hint(self, conn: Any, status: RunStatus | None) -> str: ...

    def next_due(self, conn: Any) -> datetime | None: ...

    def status_counts(self, conn: Any) -> list[tuple[str, int]]: ...

    def prune_chunk(self, conn: Any, *, finished_before: datetime, limit: int) -> int: ...

    def set_trigger_cursor(
        self, conn: Any, *, trigger_id: str, cursor: datetime, now: datetime
    ) -> None: ...

    def set_trigger_paused(
        self, conn: Any, *, trigger_id: str, paused: bool, now: datetime, note: str | None,
        cursor: datetime | None,
    ) -> TriggerState: ...  # fmt: skip

    def claim_trigger_anchors(
        self, conn: Any, *, anchors: Mapping[str, datetime], now: datetime
    ) -> dict[str, datetime]: ...


class SQLStore:
    """A RunStore over SQL: the protocol once, the backend's blocking operations below it."""

    url: str
    dialect: ClassVar[Dialect]
    #: The backend's ``leases`` and ``queries`` modules (the operations alike in signature).
    lease_sql: ClassVar[LeaseSQL]
    query_sql: ClassVar[QuerySQL]

    async def _run(
        self, fn: Callable[[Any], T], *, what: str, write: bool = False,
        undo: Undo[T] | None = None,
    ) -> T:  # fmt: skip
        """Run ``fn(conn)`` in a worker thread; map driver errors to StoreError.

        ``write=True`` marks the hot-path writes a backend may group-commit with concurrent
        ones (see :mod:`stargraph.store.sqlite.store`). *what* names the operation in errors.
        """
        raise NotImplementedError

    # -- runs -----------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        await self._run(lambda conn: conn.execute(self.query_sql.PING).fetchall(), what="ping")

    async def enqueue_batch(self, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
        """Insert runs in one transaction (see :meth:`RunStore.enqueue_batch`)."""
        if not requests:
            return []
        return await self._run(
            partial(self._op_enqueue, requests=requests), what="enqueue", write=True
        )

    async def claim(
        self, *, owner: str, limit: int, now: datetime, lease_seconds: float,
        graph_limits: Mapping[str, int], graph_ids: Sequence[str] | None = None,
    ) -> list[Run]:  # fmt: skip
        """Lease due pending runs, oldest first, within the global and per-graph limits."""
        if limit <= 0 or (graph_ids is not None and not graph_ids):
            return []
        only = None if graph_ids is None else list(graph_ids)
        op = partial(
            self._op_claim, owner=owner, limit=limit, now=now, lease_seconds=lease_seconds,
            graph_limits=dict(graph_limits), graph_ids=only,
        )  # fmt: skip
        return await self._run(op, what="claim", write=True, undo=self._undo_claim(owner))

    async def heartbeat(
        self, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
    ) -> tuple[set[str], set[str]]:
        """Extend *owner*'s leases; return ``(still_held, cancel_requested)``."""
        if not run_ids:
            return set(), set()
        op = partial(
            self.lease_sql.heartbeat, owner=owner, run_ids=list(run_ids), now=now,
            lease_seconds=lease_seconds,
        )  # fmt: skip
        return await self._run(op, what="heartbeat")

    async def complete_many(
        self, *, owner: str, completions: Sequence[Completion], now: datetime
    ) -> set[str]:
        """Record terminal outcomes for runs *owner* still leases, in one transaction."""
        if not completions:
            return set()
        unique = queries.unique_terminal(completions)
        op = partial(self.lease_sql.complete_many, owner=owner, completions=unique, now=now)
        return await self._run(op, what="complete", write=True)

    async def retry(
        self, *, run_id: str, owner: str, not_before: datetime, error: RunError, now: datetime
    ) -> bool:
        """Send a failed attempt back to pending with ``attempt + 1``."""
        op = partial(
            self._op_retry, run_id=run_id, owner=owner, not_before=not_before, error=error, now=now
        )
        return await self._run(op, what="retry")

    async def release(self, *, owner: str, run_ids: Sequence[str], now: datetime) -> int:
        """Return leased runs to pending without counting an attempt."""
        if not run_ids:
            return 0
        op = partial(self._op_release, owner=owner, run_ids=list(dict.fromkeys(run_ids)))
        return await self._run(op, what="release")

    async def requeue_expired(self, *, now: datetime) -> int:
        """Rescue runs whose lease expired (any live node may call this); return how many."""
        return len(await self.rescue_expired(now=now))

    async def rescue_expired(self, *, now: datetime) -> list[tuple[str, str]]:
        """Rescue runs whose lease expired; return ``(graph_id, new status)`` per run."""
        return await self._run(partial(self._op_requeue, now=now), what="requeue_expired")

    async def request_cancel(self, run_id: str, *, now: datetime) -> Run | None:
        """Cancel a pending run, flag a running one; ``None`` for an unknown id."""
        op = partial(self.lease_sql.request_cancel, run_id=run_id, now=now)
        return await self._run(op, what="request_cancel")

    async def get_run(self, run_id: str) -> Run | None:
        """Return the run, or ``None``."""
        return await self._run(
            partial(queries.get_run, d=self.dialect, run_id=run_id), what="get_run"
        )

    async def list_attempts(self, run_id: str) -> list[Attempt]:
        """Return the stored (earlier) attempts of *run_id*, oldest first."""
        op = partial(queries.list_attempts, d=self.dialect, run_id=run_id)
        return await self._run(op, what="list_attempts")

    async def list_runs(self, flt: RunFilter, *, limit: int, cursor: str | None) -> RunPage:
        """Return matching runs, newest first, paginated by an opaque cursor."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")

        def page(conn: Any) -> RunPage:
            hint = self.query_sql.listing_hint(conn, flt.status)
            return queries.list_runs(conn, self.dialect, flt, limit, cursor, hint)

        return await self._run(page, what="list_runs")

    async def finished_since(self, since: datetime, *, limit: int) -> list[RunTiming]:
        """Return the times of up to *limit* runs finished at or after *since*, newest first."""
        op = partial(queries.finished_since, d=self.dialect, since=since, limit=limit)
        return await self._run(op, what="finished_since")

    async def next_due(self) -> datetime | None:
        """Return the earliest ``not_before`` of any pending run."""
        return await self._run(self.query_sql.next_due, what="next_due")

    async def count_by_status(self) -> dict[RunStatus, int]:
        """Return how many runs are in each status (every status present, zero included)."""
        counts = dict.fromkeys(RunStatus, 0)
        for status, count in await self._run(self.query_sql.status_counts, what="count_by_status"):
            counts[RunStatus(status)] = int(count)
        return counts

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete finished runs older than *finished_before*; return how many.

        Deletes in chunks of the backend's ``PRUNE_CHUNK``, one transaction and one
        worker-thread call each, so a large backlog never holds the store for long.
        """
        chunk = self.query_sql.PRUNE_CHUNK
        op = partial(self.query_sql.prune_chunk, finished_before=finished_before, limit=chunk)
        total = 0
        while True:
            deleted = await self._run(op, what="prune")
            total += deleted
            if deleted < chunk:
                return total

    # -- triggers -------------------------------------------------------------------------------

    async def get_trigger_state(self, trigger_id: str) -> TriggerState | None:
        """Return the trigger's persisted state, or ``None``."""
        op = partial(queries.get_trigger_state, d=self.dialect, trigger_id=trigger_id)
        return await self._run(op, what="get_trigger_state")

    async def list_trigger_states(self) -> list[TriggerState]:
        """Return every trigger's persisted state."""
        op = partial(queries.list_trigger_states, d=self.dialect)
        return await self._run(op, what="list_trigger_states")

    async def set_trigger_cursor(self, trigger_id: str, cursor: datetime, *, now: datetime) -> None:
        """Move the cursor forward only, creating the row if needed."""
        op = partial(
            self.query_sql.set_trigger_cursor, trigger_id=trigger_id, cursor=cursor, now=now
        )
        await self._run(op, what="set_trigger_cursor", write=True)

    async def set_trigger_paused(
        self, trigger_id: str, *, paused: bool, now: datetime, note: str | None = None,
        cursor: datetime | None = None,
    ) -> TriggerState:  # fmt: skip
        """Set the pause flag and note; a given *cursor* is stored as is."""
        op = partial(
            self.query_sql.set_trigger_paused, trigger_id=trigger_id, paused=paused, now=now,
            note=note, cursor=cursor,
        )  # fmt: skip
        return await self._run(op, what="set_trigger_paused")

    async def claim_trigger_anchors(
        self, anchors: Mapping[str, datetime], *, now: datetime
    ) -> dict[str, datetime]:
        """Store each anchor unless one is stored (first writer wins); return the stored ones."""
        if not anchors:
            return {}
        op = partial(self.query_sql.claim_trigger_anchors, anchors=dict(anchors), now=now)
        return await self._run(op, what="claim_trigger_anchors")

    # -- what a backend supplies (blocking; ``conn`` is the backend's connection) ---------------

    def _undo_claim(self, owner: str) -> Undo[list[Run]] | None:
        """How to release runs a cancelled claim leased anyway (``None``: cannot happen)."""
        return None

    def _op_enqueue(self, conn: Any, *, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
        raise NotImplementedError

    def _op_claim(
        self, conn: Any, *, owner: str, limit: int, now: datetime, lease_seconds: float,
        graph_limits: Mapping[str, int], graph_ids: Sequence[str] | None,
    ) -> list[Run]:  # fmt: skip
        raise NotImplementedError

    def _op_retry(
        self, conn: Any, *, run_id: str, owner: str, not_before: datetime, error: RunError,
        now: datetime,
    ) -> bool:  # fmt: skip
        raise NotImplementedError

    def _op_release(self, conn: Any, *, owner: str, run_ids: Sequence[str]) -> int:
        raise NotImplementedError

    def _op_requeue(self, conn: Any, *, now: datetime) -> list[tuple[str, str]]:
        raise NotImplementedError
