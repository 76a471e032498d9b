"""Graphs: an id, a callable and its run policy; the registry that maps ids to graphs.

A graph callable is ``async def fn(params, ctx)`` or a plain ``def fn(params, ctx)`` (run in a
worker thread). It receives the run's params (a JSON object) and a :class:`RunContext`, and
returns a JSON-serialisable value (recorded as the run's result) or raises (recorded as the
error, retried when the policy allows).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any

import attrs

from stargraph._imports import load_object
from stargraph._log import log_event
from stargraph._validators import non_negative, non_negative_int, optional, positive, positive_int
from stargraph.errors import ConfigError, UnknownGraph

__all__ = ["Graph", "GraphFn", "GraphRegistry", "RunContext", "RunPolicy", "load_object"]

logger = logging.getLogger("stargraph.scheduler")

GraphFn = Callable[[dict[str, Any], "RunContext"], Any]
ENTRY_POINT_GROUP = "stargraph.graphs"


def _exception_types(value: Iterable[type[BaseException]]) -> tuple[type[BaseException], ...]:
    return tuple(value)


def _check_retry_on(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    for exc_type in value:
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise ConfigError(f"RunPolicy.retry_on must hold exception types, got {exc_type!r}")


@attrs.frozen(kw_only=True)
class RunPolicy:
    """How runs of one graph execute.

    ``concurrency``: most runs of this graph running at once across the whole deployment
    (``None``: no per-graph limit). ``timeout``: seconds per attempt (``None``: none).
    ``max_attempts``: attempts in total, 1 means no retry. A failed attempt whose exception is
    an instance of ``retry_on`` is retried after ``min(backoff_max, backoff_base * 2**(n-1))``
    seconds (n = the attempt that failed), scaled by a random factor in ``1 ± jitter``.
    ``max_interruptions``: how many times a run may be interrupted (its process died or
    stalled, so its lease expired) and still run again, with no attempt counted; the next
    interruption fails it (``Interrupted``). 0 fails a run at its first interruption.
    """

    concurrency: int | None = attrs.field(default=None, validator=optional(positive_int))
    timeout: float | None = attrs.field(default=None, validator=optional(positive))
    max_attempts: int = attrs.field(default=1, validator=positive_int)
    max_interruptions: int = attrs.field(default=3, validator=non_negative_int)
    backoff_base: float = attrs.field(default=1.0, validator=non_negative)
    backoff_max: float = attrs.field(default=300.0, validator=non_negative)
    jitter: float = attrs.field(default=0.1, validator=non_negative)
    retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=(Exception,), converter=_exception_types, validator=_check_retry_on
    )

    def backoff(self, failed_attempt: int, rand: float) -> float:
        """Seconds to wait after *failed_attempt*; *rand* is uniform in [0, 1)."""
        base = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, failed_attempt - 1))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))

    def retryable(self, exc: BaseException) -> bool:
        """True if *exc* is one of the retryable exception types."""
        return isinstance(exc, self.retry_on)


def _check_graph_id(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise ConfigError(f"Graph id must be a non-empty string (<= 200 chars), got {value!r}")


def _check_fn(inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if not callable(value):
        raise ConfigError(f"Graph fn must be callable as fn(params, ctx), got {value!r}")


@attrs.frozen(kw_only=True)
class Graph:
    """A registered unit of work: ``graph_id``, its callable ``fn`` and its ``policy``."""

    graph_id: str = attrs.field(validator=_check_graph_id)
    fn: GraphFn = attrs.field(validator=_check_fn, eq=False)
    policy: RunPolicy = attrs.field(factory=RunPolicy)
    #: True when ``fn`` is a coroutine function (awaited); else it runs in a worker thread.
    is_async: bool = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(lambda self: _is_coroutine_fn(self.fn), takes_self=True),
    )


def _is_coroutine_fn(fn: object) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


@attrs.frozen(kw_only=True)
class RunContext:
    """What a graph callable knows about the run it executes.

    ``interruptions``: how many earlier executions of this run were cut short by the death or
    stall of their process (the lease expired); they cost no attempt. Execution is
    at-least-once: a graph with side effects uses ``idempotency_key`` (and ``interruptions``
    / ``attempt``) to make them happen once.
    """

    run_id: str
    graph_id: str
    attempt: int
    trigger_id: str | None
    trigger_source: str
    scheduled_fire: datetime | None
    idempotency_key: str
    interruptions: int = 0


class GraphRegistry:
    """The graphs a scheduler can run, by id."""

    def __init__(self, graphs: Iterable[Graph] = ()) -> None:
        self._graphs: dict[str, Graph] = {}
        for graph in graphs:
            self.add(graph)

    def add(self, graph: Graph, *, replace: bool = False) -> Graph:
        """Register *graph*; a second graph with the same id is a ConfigError unless *replace*."""
        if not isinstance(graph, Graph):
            raise ConfigError(f"GraphRegistry.add expects a Graph, got {type(graph).__name__}")
        if graph.graph_id in self._graphs and not replace:
            raise ConfigError(f"Graph {graph.graph_id!r} is already registered")
        self._graphs[graph.graph_id] = graph
        return graph

    def get(self, graph_id: str) -> Graph:
        """Return the graph, or raise :class:`UnknownGraph` naming the registered ids."""
        try:
            return self._graphs[graph_id]
        except (KeyError, TypeError):
            raise UnknownGraph(str(graph_id), list(self._graphs)) from None

    def ids(self) -> list[str]:
        """Return the registered graph ids, sorted."""
        return sorted(self._graphs)

    def graph_limits(self) -> dict[str, int]:
        """Map each graph with a concurrency limit to that limit."""
        return {g.graph_id: g.policy.concurrency for g in self if g.policy.concurrency is not None}

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._graphs

    def __iter__(self) -> Iterator[Graph]:
        return iter(list(self._graphs.values()))

    def __len__(self) -> int:
        return len(self._graphs)

    def load_target(
        self,
        target: str,
        *,
        graph_id: str | None = None,
        policy: RunPolicy | None = None,
        replace: bool = False,
    ) -> Graph:
        """Import ``"module:callable"`` and register it.

        The target may name a :class:`Graph` (kept as is unless *graph_id* or *policy* override
        it) or a callable (registered as *graph_id*, default: the callable's ``__name__``).
        """
        graph = _as_graph(load_object(target, "Graph target"), target, graph_id, policy)
        return self.add(graph, replace=replace)

    def load_entry_points(self, *, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register every graph of the ``stargraph.graphs`` entry-point group.

        The entry point's name is the graph id; its object is a callable or a :class:`Graph`.
        Ids already registered are kept (explicit registration wins) and logged as skipped.
        Returns the ids added.
        """
        added: list[str] = []
        for ep in entry_points(group=group):
            if ep.name in self._graphs:
                log_event(logger, "graph.entry_point.skipped", graph_id=ep.name, reason="exists")
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                raise ConfigError(
                    f"Graph entry point {ep.name!r} ({ep.value}) in group {group!r} failed to "
                    f"load: {type(exc).__name__}: {exc}"
                ) from exc
            self.add(_as_graph(obj, ep.value, ep.name, None))
            added.append(ep.name)
        return added


def _as_graph(obj: Any, target: str, graph_id: str | None, policy: RunPolicy | None) -> Graph:
    if isinstance(obj, Graph):
        changes: dict[str, Any] = {}
        if graph_id is not None:
            changes["graph_id"] = graph_id
        if policy is not None:
            changes["policy"] = policy
        return attrs.evolve(obj, **changes) if changes else obj
    if not callable(obj):
        raise ConfigError(f"Graph target {target!r} is neither a Graph nor callable: {obj!r}")
    name = graph_id if graph_id is not None else getattr(obj, "__name__", None)
    if not name:
        raise ConfigError(f"Graph target {target!r} has no __name__; give an explicit graph_id")
    return Graph(graph_id=name, fn=obj, policy=policy or RunPolicy())
