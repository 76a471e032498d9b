"""The scheduler: durable enqueue (group commit), dispatch, execution, retries and cancel.

::

    scheduler.enqueue ──► intake stream ──► writer (one transaction per batch) ──► store
    store ──► dispatcher (claim with lease) ──► executor (cancel scope, timeout, retry)
"""

from __future__ import annotations

from stargraph.scheduler.graphs import Graph, GraphRegistry, RunContext, RunPolicy
from stargraph.scheduler.receipt import BatchReceipt, Enqueued, EnqueueReceipt
from stargraph.scheduler.scheduler import Scheduler
from stargraph.scheduler.settings import SchedulerSettings

__all__ = [
    "BatchReceipt",
    "EnqueueReceipt",
    "Enqueued",
    "Graph",
    "GraphRegistry",
    "RunContext",
    "RunPolicy",
    "Scheduler",
    "SchedulerSettings",
]
