"""The :class:`RunStore` contract and the value types that cross it.

A store holds runs, trigger state (cursor, pause) and webhook replay nonces. Every method is async;
implementations do their blocking I/O in worker threads. All datetimes crossing this interface
are timezone-aware UTC. The caller passes ``now`` so tests can drive the clock.

Run life cycle (``attempt`` counts from 1)::

    pending ──claim──► running ──complete──► succeeded | failed | cancelled
       ▲                  │
       └──retry/release───┘   (retry: attempt + 1 and a not_before; release: attempt unchanged)

An expired lease (its process died or stalled) is rescued by :meth:`RunStore.requeue_expired`:
the run goes back to ``pending`` with ``attempt`` unchanged and ``interruptions + 1`` (process
death costs no attempt), or ends ``failed`` (error type ``Interrupted``) once it has been
interrupted more than ``max_interruptions`` times. Every attempt that did not end the run (a
retried failure, an interruption) is kept as an :class:`Attempt` row; the last one is the run
row itself (:func:`attempt_history`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from stargraph._json import JSONObject, JSONValue

__all__ = [
    "TERMINAL_STATUSES",
    "Attempt",
    "Completion",
    "CursorAdvance",
    "EnqueueRequest",
    "Enqueued",
    "NewRun",
    "Nonce",
    "Run",
    "RunError",
    "RunFilter",
    "RunPage",
    "RunStatus",
    "RunStore",
    "RunTiming",
    "TriggerState",
    "attempt_history",
    "attempt_outcome",
]


class RunStatus(enum.StrEnum):
    """Where a run is in its life cycle."""

    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled})


@attrs.frozen(kw_only=True)
class RunError:
    """Why a run (or one attempt) failed: exception type name, message, formatted traceback."""

    type: str
    message: str
    traceback: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_columns(
        cls, type_: str | None, message: str | None, traceback: str | None
    ) -> RunError | None:
        """The error stored in a row's three error columns, or None (both stores' decoders)."""
        if type_ is None:
            return None
        return cls(type=type_, message=message or "", traceback=traceback)


@attrs.frozen(kw_only=True)
class Attempt:
    """One execution of a run: its number, times, how it ended and why it failed.

    ``outcome`` is ``succeeded``, ``failed``, ``timed_out``, ``cancelled``, ``interrupted`` (its
    process died or stalled: the lease expired) or ``running``. An interrupted execution keeps
    its attempt ``number``, so two executions can share one.
    """

    number: int
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str
    error: RunError | None = None


def attempt_outcome(status: str, error: RunError | None) -> str:
    """How an attempt that ended the run with *status* (and *error*) is reported."""
    if status == "failed" and error is not None:
        if error.type == "TimeoutError":
            return "timed_out"
        if error.type == "Interrupted":
            return "interrupted"
    return status


@attrs.frozen(kw_only=True)
class NewRun:
    """A run to insert. ``run_id`` is minted by the scheduler before the insert."""

    run_id: str
    graph_id: str
    idempotency_key: str
    params: JSONObject = attrs.field(factory=dict, repr=False)
    trigger_id: str | None = None
    trigger_source: str = "manual"
    scheduled_fire: datetime | None = None
    enqueued_at: datetime
    not_before: datetime
    max_attempts: int = 1
    max_interruptions: int = 3
    retry_of: str | None = None
    #: True for a run that ``POST /v1/triggers/{id}/backfill`` enqueued for a past fire.
    backfill: bool = False


@attrs.frozen(kw_only=True)
class CursorAdvance:
    """Move a time-based trigger's cursor (its last planned fire) forward, never back."""

    trigger_id: str
    cursor: datetime


@attrs.frozen(kw_only=True)
class Nonce:
    """A webhook replay nonce to record; a copy expired at ``expires_at`` may be used again."""

    scope: str
    nonce: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class EnqueueRequest:
    """One insert for :meth:`RunStore.enqueue_batch`, with an optional cursor advance and nonce.

    Both side-writes commit in the same transaction as the insert, whether the insert was new
    or deduplicated: a cron fire moves its trigger's cursor, a verified webhook delivery records
    its replay nonce (so a failed commit consumes no nonce).
    """

    run: NewRun
    cursor: CursorAdvance | None = None
    nonce: Nonce | None = None
    #: A time trigger's overlap policy (``skip``, ``buffer_one``, ``cancel_previous``), decided
    #: in the insert's transaction against unfinished runs of ``run.trigger_id``; ``None`` (or
    #: ``allow``): insert as usual. See ``docs/time.md``.
    overlap: str | None = None


@attrs.frozen(kw_only=True)
class Enqueued:
    """A committed enqueue: the id of the run that holds the key, and whether it existed.

    ``replay`` is True when the request carried a :class:`Nonce` whose unexpired copy was
    already recorded (a webhook replay, DESIGN §5b); the run part deduplicates as usual.
    """

    run_id: str
    deduplicated: bool
    replay: bool = False
    #: True when an overlap policy refused the fire (``run_id`` is then the unfinished run of
    #: the trigger that blocked it; nothing was inserted, the cursor still advanced).
    skipped: bool = False


@attrs.frozen(kw_only=True)
class Completion:
    """A terminal outcome to record with :meth:`RunStore.complete_many`."""

    run_id: str
    status: RunStatus
    result: JSONValue = attrs.field(default=None, repr=False)
    error: RunError | None = None


@attrs.frozen(kw_only=True)
class Run:
    """A run as the store holds it."""

    run_id: str
    graph_id: str
    status: RunStatus
    idempotency_key: str
    params: JSONObject = attrs.field(repr=False)
    trigger_id: str | None
    trigger_source: str
    scheduled_fire: datetime | None
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    max_attempts: int
    not_before: datetime
    result: JSONValue = attrs.field(default=None, repr=False)
    error: RunError | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    interruptions: int = 0
    max_interruptions: int = 3
    retry_of: str | None = None
    backfill: bool = False

    @property
    def finished(self) -> bool:
        """True once the run reached a terminal status."""
        return self.status in TERMINAL_STATUSES


def attempt_history(run: Run, earlier: Sequence[Attempt]) -> list[Attempt]:
    """Every attempt of *run*: the stored *earlier* ones, then the one the run row describes.

    The run row holds the attempt that is running or that ended the run (it is not stored
    twice); a pending run or one cancelled before it started adds none.
    """
    if run.started_at is None or run.status is RunStatus.pending:
        return list(earlier)
    outcome = (
        "running" if run.status is RunStatus.running else attempt_outcome(run.status, run.error)
    )
    last = Attempt(
        number=run.attempt, started_at=run.started_at, finished_at=run.finished_at,
        outcome=outcome, error=None if outcome == "running" else run.error,
    )  # fmt: skip
    return [*earlier, last]


@attrs.frozen(kw_only=True)
class RunFilter:
    """Filters for :meth:`RunStore.list_runs`; ``None`` means "any"."""

    graph_id: str | None = None
    status: RunStatus | None = None
    trigger_id: str | None = None
    trigger_source: str | None = None
    enqueued_after: datetime | None = None
    enqueued_before: datetime | None = None


@attrs.frozen(kw_only=True)
class RunTiming:
    """The times of one finished run (what the console's charts and fire lag read)."""

    trigger_id: str | None
    trigger_source: str
    status: RunStatus
    scheduled_fire: datetime | None
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime


@attrs.frozen(kw_only=True)
class RunPage:
    """One page of runs, newest first, and the opaque cursor of the next page (or ``None``)."""

    items: list[Run]
    next_cursor: str | None


@attrs.frozen(kw_only=True)
class TriggerState:
    """Persisted state of one trigger: its cursor (last planned fire) and pause flag.

    ``anchor`` is an interval trigger's default ``start_at`` (the first time any node saw it).
    """

    trigger_id: str
    cursor: datetime | None = None
    paused: bool = False
    note: str | None = None
    updated_at: datetime | None = None
    anchor: datetime | None = None


@runtime_checkable
class RunStore(Protocol):
    """Durable storage for runs, trigger state and webhook nonces (SQLite or PostgreSQL)."""

    url: str

    async def open(self) -> None:
        """Connect and apply schema migrations (safe when several processes start at once)."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def ping(self) -> None:
        """Raise :class:`~stargraph.errors.StoreError` if the store cannot be reached."""

    # -- runs ---------------------------------------------------------------------------------

    async def enqueue_batch(self, requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
        """Insert runs in **one transaction**, one outcome per request, in order.

        A request whose ``(graph_id, idempotency_key)`` already exists (pending, running, or
        finished and not yet pruned) inserts nothing and reports the existing run id with
        ``deduplicated=True``; so does a later request in the same batch with the same key.
        Cursor advances commit in the same transaction (``max(old, new)``), and so do nonces:
        a nonce with an unexpired copy (``expires_at`` after the run's ``enqueued_at``), or
        one that came earlier in the batch, reports ``replay=True``; expired nonces are swept.
        """

    async def claim(
        self,
        *,
        owner: str,
        limit: int,
        now: datetime,
        lease_seconds: float,
        graph_limits: Mapping[str, int],
        graph_ids: Sequence[str] | None = None,
    ) -> list[Run]:
        """Lease up to *limit* due pending runs (``not_before <= now``), oldest first.

        ``graph_limits`` maps a graph id to its deployment-wide concurrency: a run is claimed
        only while fewer than that many runs of its graph are ``running`` in the store.
        ``graph_ids``, when given, restricts claims to graphs this node can execute. Claimed
        runs become ``running`` with ``started_at=now``, ``lease_owner=owner`` and
        ``lease_expires_at=now+lease_seconds``. No run is ever leased to two owners.
        """

    async def heartbeat(
        self, *, owner: str, run_ids: Sequence[str], now: datetime, lease_seconds: float
    ) -> tuple[set[str], set[str]]:
        """Extend the leases *owner* still holds; return ``(still_held, cancel_requested)``."""

    async def complete_many(
        self, *, owner: str, completions: Sequence[Completion], now: datetime
    ) -> set[str]:
        """Record terminal outcomes in one transaction, for runs *owner* still leases.

        Sets ``finished_at=now`` and clears the lease. Returns the run ids actually recorded
        (a run whose lease was lost, e.g. rescued by another node, is left alone).
        """

    async def retry(
        self, *, run_id: str, owner: str, not_before: datetime, error: RunError, now: datetime
    ) -> bool:
        """Send a failed attempt back to ``pending`` with ``attempt + 1`` and *not_before*.

        The failed attempt is recorded as an :class:`Attempt` in the same transaction.
        """

    async def release(self, *, owner: str, run_ids: Sequence[str], now: datetime) -> int:
        """Return leased runs to ``pending`` without counting an attempt (shutdown)."""

    async def requeue_expired(self, *, now: datetime) -> int:
        """Rescue runs whose lease expired; return how many were rescued, failed or cancelled.

        A cancel-requested run ends ``cancelled``. Any other goes back to ``pending`` with its
        ``attempt`` unchanged and ``interruptions + 1`` (the interrupted execution is recorded
        as an :class:`Attempt`), or, when that would exceed ``max_interruptions``, ends
        ``failed`` with an ``Interrupted`` error naming the count.
        """

    async def rescue_expired(self, *, now: datetime) -> list[tuple[str, str]]:
        """:meth:`requeue_expired`, returning ``(graph_id, new status)`` per rescued run."""

    async def request_cancel(self, run_id: str, *, now: datetime) -> Run | None:
        """Cancel a run: pending ends ``cancelled`` at once; running gets ``cancel_requested``.

        A finished run is returned unchanged; an unknown id returns ``None``.
        """

    async def get_run(self, run_id: str) -> Run | None:
        """Return the run, or ``None``."""

    async def list_attempts(self, run_id: str) -> list[Attempt]:
        """Return the stored attempts of *run_id* that did not end it, oldest first.

        Rows are written in the transaction of the retry or rescue that ended the attempt and
        pruned with their run; :func:`attempt_history` adds the attempt the run row holds.
        """

    async def list_runs(self, flt: RunFilter, *, limit: int, cursor: str | None) -> RunPage:
        """Return runs matching *flt*, newest ``enqueued_at`` first, paginated by *cursor*."""

    async def finished_since(self, since: datetime, *, limit: int) -> list[RunTiming]:
        """Return the times of up to *limit* runs finished at or after *since*, newest first."""

    async def next_due(self) -> datetime | None:
        """Return the earliest ``not_before`` of any pending run, or ``None``."""

    async def count_by_status(self) -> dict[RunStatus, int]:
        """Return how many runs are in each status."""

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete finished runs whose ``finished_at`` is older than *finished_before*."""

    # -- triggers -------------------------------------------------------------------------------

    async def get_trigger_state(self, trigger_id: str) -> TriggerState | None:
        """Return the trigger's persisted state, or ``None`` if it has none yet."""

    async def list_trigger_states(self) -> list[TriggerState]:
        """Return every trigger's persisted state."""

    async def set_trigger_cursor(self, trigger_id: str, cursor: datetime, *, now: datetime) -> None:
        """Move the cursor to *cursor* (forward only), creating the row if needed."""

    async def set_trigger_paused(
        self,
        trigger_id: str,
        *,
        paused: bool,
        now: datetime,
        note: str | None = None,
        cursor: datetime | None = None,
    ) -> TriggerState:
        """Set the pause flag (and note); a given *cursor* is stored as is ("resume from now")."""

    async def claim_trigger_anchors(
        self, anchors: Mapping[str, datetime], *, now: datetime
    ) -> dict[str, datetime]:
        """Store each trigger's anchor unless one is stored already; return the stored ones.

        First writer wins across nodes, so every node computes the same interval instants.
        """

    # -- wake-ups -------------------------------------------------------------------------------

    async def wait_for_work(self, timeout: float) -> None:
        """Return when another process may have enqueued work, or after *timeout* seconds.

        SQLite simply sleeps; PostgreSQL listens for notifications.
        """
