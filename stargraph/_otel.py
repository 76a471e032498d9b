"""OpenTelemetry spans for enqueue, commit, claim and each attempt (the ``otel`` extra).

Imported only by :func:`stargraph._tracing.make_tracer`. One trace per run: the
``stargraph.enqueue`` span (a child of the caller's context, e.g. an HTTP ``traceparent``) is
stored with the run as W3C text, and every ``stargraph.attempt`` span is its child, on whichever
node claims the run. A commit and a claim serve many runs at once: each is a root span of its
own (``stargraph.commit``, ``stargraph.claim``) linked to the traces it served, and each attempt
links back to its claim. Tracers come from the global provider at call time, so a provider set
after start-up is used (none set: the API's no-op spans, nothing stored).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from stargraph._batch import Failed
from stargraph._tracing import NOOP_ATTEMPT, AttemptSpan

if TYPE_CHECKING:
    from stargraph.store.base import Enqueued, Run

__all__ = ["OtelTracer", "parse_context"]

_W3C = TraceContextTextMapPropagator()
_ROOT = Context()  # an empty context: the span starts a trace of its own
PROVIDER_RECHECK = 1.0  # seconds between provider lookups while none is set


def _stored(span: trace.Span) -> str | None:
    """The span's context as W3C text: ``traceparent`` (and ``\\ntracestate``), or None."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    parent = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    state = ctx.trace_state.to_header() if ctx.trace_state else ""
    return f"{parent}\n{state}" if state else parent


def parse_context(stored: str | None) -> Context:
    """The context a run's stored trace context describes (empty when none or unreadable)."""
    if not stored:
        return _ROOT
    parent, _, state = stored.partition("\n")
    carrier = {"traceparent": parent, "tracestate": state} if state else {"traceparent": parent}
    return _W3C.extract(carrier, _ROOT)


def _outcome(outcome: Enqueued | Failed) -> str:
    if isinstance(outcome, Failed):
        return "failed"
    if outcome.skipped:
        return "skipped"
    if outcome.replay:
        return "replay"
    return "deduplicated" if outcome.deduplicated else "inserted"


class _Attempt:
    """One attempt's span; ``with`` makes it current for the graph call (threads included)."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> _Attempt:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if e is not None and self._span.is_recording():  # cancelled from outside: interrupted
            self.end("interrupted")

    def end(self, outcome: str, error: BaseException | None = None) -> None:
        span = self._span
        span.set_attribute("stargraph.attempt.outcome", outcome)
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()


class OtelTracer:
    """The scheduler's tracing hooks (:class:`~stargraph._tracing.RunTracer`) over OTel."""

    enabled = True

    def __init__(self) -> None:
        from stargraph import __version__

        self._tracer = trace.get_tracer("stargraph", __version__)
        self._configured = False
        self._recheck_at = -math.inf  # time.monotonic() of the next provider check

    def _unconfigured(self) -> bool:
        """True while no tracer provider is set (every span would be a no-op).

        Looked up at most once per ``PROVIDER_RECHECK`` seconds (the lookup reads the
        environment: ~2 µs a call, 10,000 calls in a burst of cron fires); a provider, once
        set, stays set, so the check stops as soon as one is.
        """
        if self._configured:
            return False
        now = time.monotonic()
        if now < self._recheck_at:
            return True
        self._recheck_at = now + PROVIDER_RECHECK
        self._configured = type(trace.get_tracer_provider()) is not trace.ProxyTracerProvider
        return not self._configured

    def enqueue(
        self, graph_id: str, key: str, trigger_id: str | None, source: str
    ) -> tuple[str | None, object | None]:
        if self._unconfigured():  # no span to record: pass the caller's context on, if any
            parent = trace.get_current_span()
            return (None if parent is trace.INVALID_SPAN else _stored(parent)), None
        attributes: dict[str, Any] = {
            "stargraph.graph_id": graph_id,
            "stargraph.idempotency_key": key,
            "stargraph.trigger_source": source,
        }
        if trigger_id is not None:
            attributes["stargraph.trigger_id"] = trigger_id
        span = self._tracer.start_span(
            "stargraph.enqueue", kind=SpanKind.PRODUCER, attributes=attributes
        )
        return _stored(span), span if span.is_recording() else None

    def committed(
        self,
        handles: Sequence[object | None],
        outcomes: Sequence[Enqueued | Failed] | BaseException,
        started_ns: int,
    ) -> None:
        spans = [h for h in handles if isinstance(h, trace.Span)]
        commit = self._tracer.start_span(
            "stargraph.commit", _ROOT, kind=SpanKind.INTERNAL, start_time=started_ns,
            links=[Link(span.get_span_context()) for span in spans],
            attributes={"stargraph.batch.size": len(handles)},
        )  # fmt: skip
        if isinstance(outcomes, BaseException):
            _fail(commit, outcomes)
            for span in spans:
                _fail(span, outcomes)
                span.end()
        else:
            for handle, outcome in zip(handles, outcomes, strict=True):
                if isinstance(handle, trace.Span):
                    _annotate(handle, outcome)
        commit.end()

    def claimed(self, runs: Sequence[Run], started_ns: int, owner: str) -> object | None:
        if self._unconfigured():
            return None
        parents = [
            trace.get_current_span(parse_context(run.trace_context)).get_span_context()
            for run in runs
            if run.trace_context
        ]
        links = [Link(parent) for parent in parents if parent.is_valid]
        if not links:
            return None
        claim = self._tracer.start_span(
            "stargraph.claim", _ROOT, kind=SpanKind.INTERNAL, start_time=started_ns, links=links,
            attributes={"stargraph.claim.count": len(runs), "stargraph.node_id": owner},
        )  # fmt: skip
        claim.end()
        context = claim.get_span_context()
        return context if context.is_valid else None

    def attempt(self, run: Run, claim: object | None) -> AttemptSpan:
        if run.trace_context is None and self._unconfigured():
            return NOOP_ATTEMPT
        links = [Link(claim)] if isinstance(claim, trace.SpanContext) else None
        span = self._tracer.start_span(
            "stargraph.attempt", parse_context(run.trace_context), kind=SpanKind.CONSUMER,
            links=links, attributes={
                "stargraph.run_id": run.run_id, "stargraph.graph_id": run.graph_id,
                "stargraph.attempt": run.attempt, "stargraph.interruptions": run.interruptions,
            },
        )  # fmt: skip
        return _Attempt(span)

    def incoming(self, headers: Any) -> AbstractContextManager[object]:
        return _activated(propagate.extract(headers))


@contextlib.contextmanager
def _activated(ctx: Context) -> Iterator[object]:
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def _annotate(span: trace.Span, outcome: Enqueued | Failed) -> None:
    """Record an enqueue's committed outcome on its span and end it."""
    if isinstance(outcome, Failed):
        span.set_attribute("stargraph.enqueue.outcome", "failed")
        _fail(span, outcome.error)
    else:  # run_id: the run that holds the key (a skipped fire: the run that blocked it)
        span.set_attributes({
            "stargraph.enqueue.outcome": _outcome(outcome),
            "stargraph.deduplicated": outcome.deduplicated, "stargraph.run_id": outcome.run_id,
        })  # fmt: skip
    span.end()


def _fail(span: trace.Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
