"""The overlap decision of a time trigger's fire, made inside the enqueue transaction.

Both stores call :func:`decide` with the trigger's unfinished runs, read in the same transaction
as the insert (SQLite: under ``BEGIN IMMEDIATE``; PostgreSQL: after a per-trigger advisory
transaction lock), so two nodes never both decide "nothing is running". See ``docs/time.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = ["OVERLAP_POLICIES", "Decision", "decide", "unfinished_sql"]

#: Every overlap policy; ``allow`` never reaches the store (it is today's plain insert).
OVERLAP_POLICIES = ("allow", "skip", "buffer_one", "cancel_previous")


@attrs.frozen(kw_only=True)
class Decision:
    """Insert the fire or not; hold it behind a running run (buffer_one); runs to cancel."""

    insert: bool
    buffered: bool = False
    cancel: tuple[str, ...] = ()
    blocker: str | None = None


def unfinished_sql(mark: str) -> str:
    """``(run_id, status)`` of a trigger's pending or running runs, oldest first."""
    return (
        "SELECT run_id, status FROM runs WHERE trigger_id = "
        f"{mark} AND status IN ('pending', 'running') ORDER BY enqueued_at, run_id"
    )


def decide(policy: str, unfinished: Sequence[tuple[str, str]]) -> Decision:
    """Apply *policy* to the trigger's unfinished ``(run_id, status)`` rows.

    - ``skip``: insert only when nothing is unfinished.
    - ``buffer_one``: insert unless a run is already waiting (pending); if one is running, the
      new run is *buffered*: claimable only once no run of its trigger is running.
    - ``cancel_previous``: insert, and cancel every unfinished run.
    """
    if not unfinished or policy == "allow":
        return Decision(insert=True)
    if policy == "skip":
        return Decision(insert=False, blocker=unfinished[0][0])
    if policy == "buffer_one":
        waiting = [run_id for run_id, status in unfinished if status == "pending"]
        if waiting:
            return Decision(insert=False, blocker=waiting[0])
        return Decision(insert=True, buffered=True)
    if policy == "cancel_previous":
        return Decision(insert=True, cancel=tuple(run_id for run_id, _ in unfinished))
    raise ValueError(f"overlap policy {policy!r} is not one of {', '.join(OVERLAP_POLICIES)}")
