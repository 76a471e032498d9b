""" "Cancel unless finished": the one path ``POST /v1/runs/{id}/cancel`` and the CLI share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stargraph.errors import RunAlreadyFinished

if TYPE_CHECKING:
    from stargraph.scheduler.scheduler import Scheduler
    from stargraph.store.base import Run

__all__ = ["cancel_unless_finished"]


async def cancel_unless_finished(scheduler: Scheduler, run_id: str) -> Run:
    """Cancel *run_id* through :meth:`Scheduler.cancel` and return it.

    Raises :class:`~stargraph.errors.RunAlreadyFinished` if the run had already ended (where
    ``Scheduler.cancel`` would return it unchanged) and ``RunNotFound`` if there is no such run.
    """
    run = await scheduler.get_run(run_id)
    if run.finished:
        raise RunAlreadyFinished(run_id, str(run.status))
    return await scheduler.cancel(run_id)
