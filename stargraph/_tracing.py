"""Tracing hooks of the scheduler: a no-op by default, OpenTelemetry when ``stargraph[otel]`` is in.

This module never imports ``opentelemetry``. :func:`make_tracer` imports
:mod:`stargraph._otel` (which does) only when tracing is not switched off, and falls back to
:data:`NOOP` when the package is absent. The scheduler's tasks call the hooks below with the
run (and its stored trace context) in hand, so nothing relies on context variables flowing
through the batch writer or the dispatcher. See ``docs/observability.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from stargraph.errors import ConfigError

if TYPE_CHECKING:
    from stargraph._batch import Failed
    from stargraph.store.base import Enqueued, Run

__all__ = ["NOOP", "NOOP_ATTEMPT", "AttemptSpan", "RunTracer", "make_tracer"]


class AttemptSpan(Protocol):
    """The span of one attempt: current inside ``with`` (the graph's own spans nest in it)."""

    def __enter__(self) -> AttemptSpan: ...

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def end(self, outcome: str, error: BaseException | None = None) -> None:
        """Record *outcome* (and *error*: status ERROR, exception event) and end the span."""


class RunTracer(Protocol):
    """What the scheduler calls; every handle crosses tasks explicitly, never via contextvars."""

    enabled: bool

    def enqueue(
        self, graph_id: str, key: str, trigger_id: str | None, source: str
    ) -> tuple[str | None, object | None]:
        """Start the span of an enqueue (parent: the current context).

        Return the trace context to store with the run and a handle for :meth:`committed`
        (``None`` when the span records nothing).
        """

    def committed(
        self,
        handles: Sequence[object | None],
        outcomes: Sequence[Enqueued | Failed] | BaseException,
        started_ns: int,
    ) -> None:
        """Record a batch commit begun at *started_ns* (a span linked to each enqueue span)
        and end the enqueue spans; *handles* and *outcomes* are aligned with the batch."""

    def claimed(self, runs: Sequence[Run], started_ns: int, owner: str) -> object | None:
        """Record a claim (a span linked to each run's trace); return a link for the attempts."""

    def attempt(self, run: Run, claim: object | None) -> AttemptSpan:
        """Start the span of the attempt *run* describes, a child of its stored trace context."""

    def incoming(self, headers: Any) -> AbstractContextManager[object]:
        """Make the W3C trace context of an HTTP request's *headers* current inside ``with``.

        *headers*: Quart's request headers, or a dict with lower-case names.
        """


class _NoopAttempt:
    __slots__ = ()

    def __enter__(self) -> _NoopAttempt:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def end(self, outcome: str, error: BaseException | None = None) -> None:
        return None


NOOP_ATTEMPT: AttemptSpan = _NoopAttempt()
_NULL = contextlib.nullcontext()


class _NoopTracer:
    """Tracing off: every hook does nothing (and ``opentelemetry`` is never imported)."""

    enabled = False

    def enqueue(
        self, graph_id: str, key: str, trigger_id: str | None, source: str
    ) -> tuple[str | None, object | None]:
        return None, None

    def committed(self, handles: Sequence[object | None], outcomes: Any, started_ns: int) -> None:
        return None

    def claimed(self, runs: Sequence[Run], started_ns: int, owner: str) -> object | None:
        return None

    def attempt(self, run: Run, claim: object | None) -> AttemptSpan:
        return NOOP_ATTEMPT

    def incoming(self, headers: Any) -> AbstractContextManager[object]:
        return _NULL


NOOP: RunTracer = _NoopTracer()


def make_tracer(enabled: bool | None) -> RunTracer:
    """The tracer for ``SchedulerSettings.tracing``: off (``False``), on (``True``: the
    ``otel`` extra must be installed) or, by default, on when ``opentelemetry-api`` imports."""
    if enabled is False:
        return NOOP
    try:
        from stargraph import _otel
    except ImportError as exc:
        if enabled:
            raise ConfigError(
                f"tracing = true needs OpenTelemetry ({exc}); install it with "
                "pip install 'stargraph[otel]', or set tracing = false"
            ) from None
        return NOOP
    return _otel.OtelTracer()
