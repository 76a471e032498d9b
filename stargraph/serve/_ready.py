"""Readiness: can the store commit a write now? (``/readyz``)

A read (``ping``) proves the store answers, not that it can commit: a full disk or a read-only
file still answers reads. So readiness is a bounded write probe — the trigger-state row
:data:`PROBE_ID` has its cursor moved to now, a one-row upsert through the store's writer —
cached for :data:`PROBE_EVERY` seconds so a burst of probes costs one write; and any
``StoreError`` the API answered within :data:`RECENT_FAILURE` seconds also reports not ready
(a full disk can let a one-row write through while real enqueues fail).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import anyio

from stargraph._log import log_event
from stargraph.serve._state import AppState

if TYPE_CHECKING:
    from stargraph.runtime import Runtime

__all__ = ["PROBE_EVERY", "PROBE_ID", "PROBE_TIMEOUT", "RECENT_FAILURE", "store_not_ready"]

logger = logging.getLogger("stargraph.serve")
PROBE_ID = "stargraph.readyz"
PROBE_TIMEOUT = 5.0
PROBE_EVERY = 1.0
RECENT_FAILURE = 5.0

REASONS = {
    "store_unreachable": "the store does not answer a read",
    "store_not_writable": "the store answers but cannot commit a write (disk full or read-only?)",
    "store_timeout": f"the store did not commit a probe write within {PROBE_TIMEOUT:g} s",
    "store_failing": f"a request failed on the store within the last {RECENT_FAILURE:g} s",
}
"""The ``503`` codes of ``/readyz`` and their messages (no path, no server name)."""


async def _probe(runtime: Runtime) -> str | None:
    step = "store_unreachable"
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            await runtime.store.ping()
            step = "store_not_writable"
            now = runtime.clock.now()
            await runtime.store.set_trigger_cursor(PROBE_ID, now, now=now)
    except TimeoutError:
        step = "store_timeout"
    except Exception as exc:
        log_event(logger, "http.readyz.failed", logging.WARNING, reason=step, error=f"{exc}"[:300])
        return step
    else:
        return None
    log_event(logger, "http.readyz.failed", logging.WARNING, reason=step)
    return step


async def store_not_ready(state: AppState, runtime: Runtime) -> str | None:
    """``None`` when the store can commit now, else the reason code (a key of :data:`REASONS`)."""
    clock = time.monotonic()
    if state.last_probe is None or clock - state.last_probe[0] >= PROBE_EVERY:
        state.last_probe = (clock, await _probe(runtime))
    if state.last_probe[1] is not None:
        return state.last_probe[1]
    failed = state.store_failed_at
    if failed is not None and time.monotonic() - failed < RECENT_FAILURE:
        return "store_failing"
    return None
