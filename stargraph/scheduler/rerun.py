"""Retry a finished run as a new one: the path ``POST /v1/runs/{id}/retry`` and the CLI share.

The new run has the same graph and params, ``retry_of`` = the old run's id, and an
idempotency key derived from the old one: ``{key}:retry:1`` for a first-generation run,
``{base}:retry:{n + 1}`` for a run whose key is ``{base}:retry:{n}``. The key depends only on
the retried run, so retrying the same run twice (a double click, a client retry after a
timeout) yields the same new run (``deduplicated``); to try again after a retry failed, retry
the newest run of the chain.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from stargraph.errors import RunNotFinished
from stargraph.triggers import MAX_KEY_LENGTH

if TYPE_CHECKING:
    from stargraph.scheduler.receipt import Enqueued
    from stargraph.scheduler.scheduler import Scheduler

__all__ = ["retry_key", "retry_run"]

_GENERATION = re.compile(r"(?P<base>.*):retry:(?P<n>[0-9]{1,9})", re.DOTALL)


def retry_key(old_key: str) -> str:
    """The idempotency key of the retry of a run keyed *old_key* (hashed when too long)."""
    match = _GENERATION.fullmatch(old_key)
    base, n = (match["base"], int(match["n"])) if match else (old_key, 0)
    key = f"{base}:retry:{n + 1}"
    if len(key) > MAX_KEY_LENGTH:
        key = f"{hashlib.sha256(base.encode('utf-8', 'surrogatepass')).hexdigest()}:retry:{n + 1}"
    return key


async def retry_run(scheduler: Scheduler, run_id: str) -> Enqueued:
    """Enqueue a new run retrying the finished *run_id*; wait until it is durable.

    Raises RunNotFound for an unknown id and :class:`~stargraph.errors.RunNotFinished` while
    the run is pending or running. The new run is recorded as ``manual``.
    """
    old = await scheduler.get_run(run_id)
    if not old.finished:
        raise RunNotFinished(run_id, str(old.status))
    return await scheduler.submit(
        old.graph_id,
        old.params,
        retry_key(old.idempotency_key),
        trigger_source="manual",
        retry_of=old.run_id,
    )
