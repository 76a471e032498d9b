"""The bundled ``manual`` trigger: "run it now", from the API, the CLI or your own code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stargraph.errors import StargraphRuntimeError
from stargraph.scheduler.receipt import EnqueueReceipt
from stargraph.triggers import Enqueuer, TriggerSource

__all__ = ["ManualTrigger"]


class ManualTrigger:
    """Enqueue runs on request; owns no background work and no routes.

    Loaded as ``stargraph:stargraph.triggers:manual``. Without an idempotency key the scheduler
    mints a random one, so every call is a new run. Its runs are recorded as
    ``trigger_source="manual"`` (not ``plugin``, although the host hosts it as a plugin).
    """

    def __init__(self) -> None:
        self._scheduler: Enqueuer | None = None

    def init(self, deps: dict[str, Any]) -> None:
        """Keep ``deps["scheduler"]``; raise :class:`StargraphRuntimeError` without it."""
        scheduler = deps.get("scheduler")
        if scheduler is None:
            raise StargraphRuntimeError("ManualTrigger.init(deps) requires deps['scheduler']")
        self._scheduler = scheduler

    def start(self) -> None:
        """Nothing to start: runs are enqueued on request."""

    def stop(self) -> None:
        """Nothing to stop."""

    def routes(self) -> list[Any]:
        """No routes: the core API's ``POST /v1/runs`` covers manual runs."""
        return []

    def enqueue(
        self,
        graph_id: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> EnqueueReceipt:
        """Enqueue one run of *graph_id*; return the scheduler's ``EnqueueReceipt``."""
        if self._scheduler is None:
            raise StargraphRuntimeError(
                "ManualTrigger.enqueue() requires init(deps) to have been called first "
                "(the runtime does this when it hosts the trigger)"
            )
        return self._scheduler.enqueue(
            graph_id=graph_id,
            params=params,
            idempotency_key=idempotency_key,
            trigger_source=TriggerSource.manual,
        )
