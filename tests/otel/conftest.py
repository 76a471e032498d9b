"""tests/otel fixtures: an SDK tracer provider with an in-memory exporter, per test.

OpenTelemetry sets its global provider once per process; the fixture installs a fresh one and
resets the globals afterwards (as ``opentelemetry-test-utils``' ``reset_trace_globals`` does),
so no other test sees a provider. The SDK is imported lazily: ``test_no_import`` runs without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def _reset_globals() -> None:
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span ended during the test, exported in memory (the global provider is reset)."""
    pytest.importorskip("opentelemetry.sdk", reason="install the test extra (opentelemetry-sdk)")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_globals()
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        _reset_globals()


def named(finished: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """The spans called *name*, in the order they ended."""
    return [span for span in finished if span.name == name]


def tid(span: ReadableSpan) -> int:
    """The span's trace id."""
    assert span.context is not None
    return span.context.trace_id
