"""One scheduling loop for every cron spec: a heap of next fires, woken by time or by changes.

Per spec the loop keeps two things: its next planned fire (epoch seconds, or None while
paused or finished) and a paused flag. Heap items are single ints, ``fire << 24 | index``; an
item whose fire no longer equals the spec's next fire is stale and dropped when popped. Each
fire is emitted as a :class:`~stargraph.triggers.TriggerEvent` with its cursor advance (one
transaction in the store); the fires due in one second go over in chunks of 256 with
``emit_many`` (one receipt per chunk). Receipts are awaited by a collector task
(:mod:`stargraph.triggers.cron._outcomes`), and a fire whose enqueue failed or found the intake
full is retried.

Error policy: a fire refused by the scheduler (busy, closed) or whose commit failed is retried;
a failed commit backs off per trigger (``FAIL_RETRY`` doubling up to ``FAIL_RETRY_MAX``, reset by
the trigger's next committed fire) and is logged as at most one ``cron.fire.retry`` line per
trigger per ``RETRY_LOG_EVERY`` seconds, with the count of failures it stands for (a store
outage costs bounded log lines, not one per outstanding fire per second); a fire whose graph or
params became invalid is skipped and logged; a store error while reading cursors or pause flags
ends the loop (the plugin's supervisor decides about a restart).

A spec has at most one live heap item: an item is accepted only while it equals the spec's next
fire, and equal items (a pause + resume within one interval pushes the same fire again) are
accepted once, so no instant is enqueued twice.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import NoReturn

import anyio
from anyio.abc import TaskStatus
from anyio.lowlevel import checkpoint
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from stargraph._log import log_event
from stargraph.clock import Clock
from stargraph.errors import SchedulerBusy, SchedulerClosed, StargraphError, StoreError
from stargraph.metrics import Metrics
from stargraph.store.base import CursorAdvance, RunStore, TriggerState
from stargraph.triggers import Enqueuer, TriggerEvent, TriggerSource
from stargraph.triggers.cron._outcomes import (
    FAIL_RETRY,
    FAIL_RETRY_MAX,
    LABEL_LIMIT,
    RETRY_LOG_EVERY,
    Fire,
    FireOutcomes,
    Receipt,
)
from stargraph.triggers.cron.interval import IntervalSpec, TimeSpec
from stargraph.triggers.cron.policy import CatchUp, next_fire, plan_missed
from stargraph.triggers.cron.schedule import from_epoch, to_epoch

__all__ = [
    "FAIL_RETRY",
    "FAIL_RETRY_MAX",
    "LABEL_LIMIT",
    "LATE_GRACE",
    "RETRY_LOG_EVERY",
    "CronLoop",
    "fire_key",
]

logger = logging.getLogger("stargraph.triggers.cron")

# perf: benchmarks/cron_startup.py (memory per spec), cron_burst.py: one int per heap item
_SHIFT = 24
_MASK = (1 << _SHIFT) - 1
LATE_GRACE = 10  # seconds: a fire later than this (clock jump, stall) is a missed fire
BUSY_RETRY = 0.05  # seconds before retrying fires refused by a full intake
REFRESH_SECONDS = 30.0  # re-read pause flags set by other processes
REFRESH_MAX = 300.0  # the longest wait between refresh attempts while the store fails
CURSOR_WRITERS = 64  # new specs' cursors stored concurrently (group-committed on SQLite)
_YIELD_EVERY = 256

CursorWrite = tuple[str, int]  # (trigger id, cursor epoch) stored without a run


class _SharedNext:
    """``next_fire`` memoised for specs that share a compiled schedule and have no bounds
    (after a restart, thousands of specs with one expression share their cursor)."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], int | None] = {}

    def __call__(self, spec: TimeSpec, after: int) -> int | None:
        if spec.start_at is not None or spec.end_at is not None or spec.kind != "cron":
            return next_fire(spec, after)
        key = (id(spec.compiled), after)
        if key not in self._memo:
            self._memo[key] = next_fire(spec, after)
        return self._memo[key]


def fire_key(trigger_id: str, fire: int, iso: str | None = None, kind: str = "cron") -> str:
    """The idempotency key of the planned fire at epoch *fire* (DESIGN §5a); *iso* may pass
    ``from_epoch(fire).isoformat()`` when the caller already has it. *kind* is the spec's
    (``cron`` or ``interval``): a backfill computes the same key as the live fire."""
    return f"{kind}:{trigger_id}:{from_epoch(fire).isoformat() if iso is None else iso}"


class CronLoop(FireOutcomes):
    """Schedules every spec from one task; see the module docstring (and
    :class:`~stargraph.triggers.cron._outcomes.FireOutcomes` for what follows each fire)."""

    def __init__(
        self,
        specs: Sequence[TimeSpec],
        *,
        scheduler: Enqueuer,
        store: RunStore,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        super().__init__(list(specs), clock, metrics)  # interval specs get anchors in specs
        self.index = {s.trigger_id: i for i, s in enumerate(specs)}
        self.scheduler, self.store = scheduler, store
        self._next: list[int | None] = [None] * len(specs)
        self._paused = bytearray(len(specs))
        self._fired = bytearray(len(specs))
        self._heap: list[int] = []
        self._send: MemoryObjectSendStream[Receipt] | None = None
        self._cursors: MemoryObjectSendStream[CursorWrite] | None = None
        self._new: list[int] = []
        self._started_at = 0
        # perf: benchmarks/cron_burst.py (one datetime and ISO text per burst, not per spec)
        self._last_fire = (-1, from_epoch(0), "")  # (epoch, datetime, ISO text) of a fire

    # -- state --------------------------------------------------------------------------------

    def next_fire_of(self, i: int) -> int | None:
        """The next planned fire of spec *i* (None while paused or after end_at)."""
        return self._next[i]

    def is_paused(self, i: int) -> bool:
        """Whether spec *i* is paused."""
        return bool(self._paused[i])

    def set_next(self, i: int, fire: int | None) -> None:
        """Make *fire* the next planned fire of spec *i* and wake the loop."""
        self._next[i] = fire
        if fire is not None:
            heapq.heappush(self._heap, self.due_at(i, fire) << _SHIFT | i)
        self.wake()

    def set_paused(self, i: int, paused: bool, cursor: int) -> None:
        """Pause spec *i*, or resume it with no fire at or before *cursor*."""
        self._paused[i] = paused
        self.set_next(i, None if paused else next_fire(self.specs[i], cursor))

    # -- start-up -------------------------------------------------------------------------------

    async def prepare(self) -> list[tuple[int, CatchUp]]:
        """Read every cursor and pause flag; plan catch-ups; fill the heap."""
        states = {st.trigger_id: st for st in await self.store.list_trigger_states()}
        now = to_epoch(self.clock.now())
        self._started_at = now
        await self._anchor(states, now)
        plans: list[tuple[int, CatchUp]] = []
        shared = _SharedNext()
        for i, spec in enumerate(self.specs):
            if i % 4096 == 4095:
                await checkpoint()  # 100,000 specs take seconds: let the rest of the app run
            st = states.get(spec.trigger_id)
            if spec.paused or (st is not None and st.paused):
                self._paused[i] = 1
                continue
            if st is None or st.cursor is None:
                self._new.append(i)
                self._next[i] = shared(spec, now)
                continue
            cursor = to_epoch(st.cursor)
            first = shared(spec, cursor)
            if first is not None and first <= now:
                plans.append((i, plan_missed(spec, cursor, now)))
                first = shared(spec, now)
            self._next[i] = first
        self._heap = [
            self.due_at(i, n) << _SHIFT | i for i, n in enumerate(self._next) if n is not None
        ]
        heapq.heapify(self._heap)
        return plans

    async def _anchor(self, states: dict[str, TriggerState], now: int) -> None:
        """Give every interval spec without ``start_at`` its persisted anchor (first sight).

        Anchors not stored yet are claimed in one write; the store keeps the first one any node
        wrote, so every node plans the same instants.
        """
        need = [
            i
            for i, s in enumerate(self.specs)
            if isinstance(s, IntervalSpec) and s.start_at is None
        ]
        if not need:
            return
        anchors = {}
        for i in need:
            st = states.get(self.specs[i].trigger_id)
            if st is not None and st.anchor is not None:
                anchors[self.specs[i].trigger_id] = st.anchor
        missing = {
            self.specs[i].trigger_id: from_epoch(now)
            for i in need
            if self.specs[i].trigger_id not in anchors
        }
        if missing:
            anchors.update(await self.store.claim_trigger_anchors(missing, now=self.clock.now()))
        for i in need:
            spec = self.specs[i]
            assert isinstance(spec, IntervalSpec)
            self.specs[i] = spec.anchored(anchors[spec.trigger_id])

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Prepare, report started, then schedule until cancelled."""
        plans = await self.prepare()
        send, receive = anyio.create_memory_object_stream[Receipt](math.inf)
        cursors, cursors_in = anyio.create_memory_object_stream[CursorWrite](math.inf)
        self._send, self._cursors = send, cursors
        async with anyio.create_task_group() as tg, send, receive, cursors, cursors_in:
            tg.start_soon(self._collect, receive, name="stargraph.cron:collect")
            tg.start_soon(self._write_cursors, cursors_in, name="stargraph.cron:write-cursors")
            tg.start_soon(self._persist_new_cursors, name="stargraph.cron:persist-new-cursors")
            tg.start_soon(self._refresh, name="stargraph.cron:refresh")
            task_status.started()
            for n, (i, plan) in enumerate(plans, 1):
                self._apply(i, plan)
                if n % _YIELD_EVERY == 0:
                    await checkpoint()
            await self._loop()

    # -- the loop -------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            now = to_epoch(self.clock.now())
            due = self._pop_due(now)
            retry = self._retry
            if retry and retry[0][0] <= self.clock.now().timestamp():
                stamp = self.clock.now().timestamp()
                while retry and retry[0][0] <= stamp:
                    _, fire, i = heapq.heappop(retry)
                    self._enqueue(i, fire)
            if due:
                await self._fire_due(due, now)
            else:
                await self._wait()

    def _pop_due(self, now: int) -> list[tuple[int, int]]:
        heap, nxt, due, jit, last = self._heap, self._next, [], self._jitter, -1
        while heap and heap[0] >> _SHIFT <= now:
            item = heapq.heappop(heap)
            if item == last:  # equal items pop together: a re-pushed fire is accepted once
                continue
            last = item
            at, i = item >> _SHIFT, item & _MASK
            fire = nxt[i]
            if fire is None or self._paused[i]:
                continue
            if fire == at if not (jit and i in jit) else self.due_at(i, fire) == at:
                due.append((fire, i))
        return due

    async def _fire_due(self, due: list[Fire], now: int) -> None:
        late = [(f, i) for f, i in due if now - self.due_at(i, f) > LATE_GRACE]
        on_time = [(f, i) for f, i in due if now - self.due_at(i, f) <= LATE_GRACE]
        batches: dict[str, list[Fire]] = {}  # kind -> on-time fires without an overlap policy
        for fire, i in on_time:
            spec = self.specs[i]
            if spec.overlap == "allow":
                batches.setdefault(spec.kind, []).append((fire, i))
            else:
                self._enqueue(i, fire)
        for kind, fires in batches.items():
            for start in range(0, len(fires), _YIELD_EVERY):
                self._enqueue_many(fires[start : start + _YIELD_EVERY], TriggerSource(kind))
                await checkpoint()
        for fire, i in late:  # a clock jump or a stall: the spec's policy decides
            self._apply(i, plan_missed(self.specs[i], fire - 1, now - LATE_GRACE))
            self._reschedule(i, next_fire(self.specs[i], now - LATE_GRACE))
        shared = _SharedNext()
        for n, (fire, i) in enumerate(on_time, 1):
            self._reschedule(i, shared(self.specs[i], fire))
            if n % _YIELD_EVERY == 0:
                await checkpoint()

    def _reschedule(self, i: int, fire: int | None) -> None:
        if self._paused[i]:
            return
        self._next[i] = fire
        if fire is not None:
            heapq.heappush(self._heap, self.due_at(i, fire) << _SHIFT | i)

    async def _wait(self) -> None:
        targets = [] if not self._heap else [float(self._heap[0] >> _SHIFT)]
        if self._retry:
            targets.append(self._retry[0][0])
        async with anyio.create_task_group() as tg:

            async def sleeper(when: float) -> None:
                await self.clock.sleep_until(from_epoch(0) + timedelta(seconds=when))
                tg.cancel_scope.cancel()

            async def waker() -> None:
                await self._waker.wait()
                tg.cancel_scope.cancel()

            if targets:
                tg.start_soon(sleeper, min(targets))
            tg.start_soon(waker)

    # -- enqueueing -----------------------------------------------------------------------------

    def _apply(self, i: int, plan: CatchUp) -> None:
        """Enqueue a catch-up's fires, count its skipped ones, queue its cursor write."""
        spec = self.specs[i]
        if plan.skipped:
            self.metrics.cron_fires_skipped.labels(self.label(i)).inc(plan.skipped)
        log_event(
            logger,
            "cron.catchup",
            logging.INFO if plan.skipped else logging.DEBUG,
            trigger_id=spec.trigger_id,
            policy=spec.missed_fire_policy,
            fired=len(plan.fires),
            skipped=plan.skipped,
            skipped_is_lower_bound=plan.capped,
        )
        for fire in plan.fires:
            self._enqueue(i, fire)
        if plan.cursor is not None:
            assert self._cursors is not None
            self._cursors.send_nowait((spec.trigger_id, plan.cursor))

    def _event(self, i: int, fire: int) -> TriggerEvent:
        spec = self.specs[i]
        if fire != self._last_fire[0]:
            when = from_epoch(fire)
            self._last_fire = (fire, when, when.isoformat())
        _, when, iso = self._last_fire
        return TriggerEvent(
            trigger_id=spec.trigger_id,
            scheduled_fire=when,
            idempotency_key=fire_key(spec.trigger_id, fire, iso, spec.kind),
            payload=spec.params,
        )

    def _enqueue(self, i: int, fire: int) -> None:
        spec = self.specs[i]
        try:
            event = self._event(i, fire)
            cursor = CursorAdvance(trigger_id=spec.trigger_id, cursor=event.scheduled_fire)
            receipt = self.scheduler.emit(
                event, graph_id=spec.graph_id, source=TriggerSource(spec.kind), cursor=cursor,
                overlap=None if spec.overlap == "allow" else spec.overlap,
            )  # fmt: skip
        except (SchedulerBusy, SchedulerClosed) as exc:
            self._schedule_retry(i, fire, BUSY_RETRY if isinstance(exc, SchedulerBusy) else 1.0)
            return
        except StargraphError as exc:  # the graph vanished or params became invalid
            self._refused(i, fire, exc)
            return
        self._fired[i] = 1
        assert self._send is not None
        self._send.send_nowait((receipt, [(fire, i)]))

    def _enqueue_many(self, fires: list[Fire], source: TriggerSource) -> None:
        """Enqueue same-kind fires with one ``emit_many`` (one receipt: a burst's fast path).

        A fire whose event cannot be made is refused alone; if ``emit_many`` refuses the rest
        for one bad event, they are enqueued one by one, so only that one fails.
        """
        events, ready = [], []
        for fire, i in fires:
            try:
                events.append(self._event(i, fire))
            except StargraphError as exc:  # e.g. a trigger id too long for its fire keys
                self._refused(i, fire, exc)
                continue
            ready.append((fire, i))
        if not ready:
            return
        graph_ids = [self.specs[i].graph_id for _, i in ready]
        try:
            receipt = self.scheduler.emit_many(
                events, graph_id=graph_ids, source=source, cursors=True
            )
        except (SchedulerBusy, SchedulerClosed) as exc:
            delay = BUSY_RETRY if isinstance(exc, SchedulerBusy) else 1.0
            for fire, i in ready:
                self._schedule_retry(i, fire, delay)
            return
        except StargraphError:
            for fire, i in ready:
                self._enqueue(i, fire)
            return
        for _, i in ready:
            self._fired[i] = 1
        assert self._send is not None
        self._send.send_nowait((receipt, ready))

    def _refused(self, i: int, fire: int, exc: StargraphError) -> None:
        self.metrics.cron_fires_skipped.labels(self.label(i)).inc()
        log_event(
            logger,
            "cron.fire.refused",
            logging.ERROR,
            trigger_id=self.specs[i].trigger_id,
            fire=from_epoch(fire).isoformat(),
            error=f"{type(exc).__name__}: {exc}",
        )

    # -- background upkeep ----------------------------------------------------------------------

    async def _write_cursors(self, receive: MemoryObjectReceiveStream[CursorWrite]) -> None:
        """Store cursors that no run carries (skipped fires), off the scheduling path."""
        async for trigger_id, cursor in receive:
            await self.store.set_trigger_cursor(
                trigger_id, from_epoch(cursor), now=self.clock.now()
            )

    async def _persist_new_cursors(self) -> None:
        """Store "start from now" for specs seen for the first time (unless a fire did).

        Several writes are in flight at once, so a store that group-commits (SQLite) stores
        many cursors per commit instead of paying one fsync per new spec.
        """
        when = from_epoch(self._started_at)
        todo = iter(self._new)  # shared by the writers: each spec is taken once
        errors: list[Exception] = []

        async def writer() -> None:
            try:
                for i in todo:
                    if not self._fired[i]:
                        await self.store.set_trigger_cursor(
                            self.specs[i].trigger_id, when, now=self.clock.now()
                        )
            except Exception as exc:
                errors.append(exc)
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            for _ in range(min(CURSOR_WRITERS, len(self._new))):
                tg.start_soon(writer)
        if errors:
            raise errors[0]
        self._new = []

    async def _refresh(self) -> NoReturn:
        """Adopt pause and resume decisions that other processes stored.

        Error policy: a store error is logged (``cron.refresh_failed``) and retried with backoff
        (the interval doubles up to ``REFRESH_MAX``, back to ``REFRESH_SECONDS`` once a read
        works); the schedule keeps firing meanwhile, so a store outage never crash-loops cron.
        """
        delay = REFRESH_SECONDS
        while True:
            await self.clock.sleep_until(self.clock.now() + timedelta(seconds=delay))
            try:
                states = await self.store.list_trigger_states()
            except StoreError as exc:
                delay = min(delay * 2, REFRESH_MAX)
                log_event(
                    logger,
                    "cron.refresh_failed",
                    logging.WARNING,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=delay,
                )
                continue
            delay = REFRESH_SECONDS
            for st in states:
                i = self.index.get(st.trigger_id)
                if i is None or self.specs[i].paused or st.paused == bool(self._paused[i]):
                    continue
                cursor = to_epoch(st.cursor) if st.cursor else to_epoch(self.clock.now())
                log_event(logger, "cron.state.adopted", trigger_id=st.trigger_id, paused=st.paused)
                self.set_paused(i, st.paused, max(cursor, to_epoch(self.clock.now())))
