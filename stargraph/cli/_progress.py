"""``stargraph run --wait`` progress on stderr: queued → running (attempt n) → finished.

Each line carries the elapsed time and, once the run is claimed, which process executes it
(``this process`` when the CLI's own scheduler claimed it, else the server's node id).
"""

from __future__ import annotations

import sys
import time

import anyio

from stargraph.scheduler import Scheduler
from stargraph.store.base import Run

__all__ = ["Progress"]


class Progress:
    """Follows one run and writes a line to stderr at each change of state."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.run_id: str | None = None
        self.node_id = ""
        self.last: Run | None = None
        self._began = time.monotonic()
        self._seen: tuple[str, int] | None = None

    def _say(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"stargraph: [{time.monotonic() - self._began:6.1f}s] {text}\n")

    def begin(self, run_id: str, node_id: str) -> None:
        """Remember the run this process waits for; it is queued (committed) by now."""
        self.run_id, self.node_id = run_id, node_id
        self._seen = ("pending", 1)
        self._say(f"queued: run {run_id}")

    def _where(self, run: Run) -> str:
        if run.lease_owner is None:
            return ""
        if run.lease_owner == self.node_id:
            return " in this process (it claimed the run before any server did)"
        return f" on {run.lease_owner}"

    def show(self, run: Run) -> None:
        """Write a line if *run* changed status or attempt since the last call."""
        self.last = run
        key = (str(run.status), run.attempt)
        if key == self._seen:
            return
        self._seen = key
        if run.status == "pending":
            self._say(f"queued: run {run.run_id}")
        elif run.status == "running":
            self._say(f"running (attempt {run.attempt}/{run.max_attempts}){self._where(run)}")
        else:
            self._say(f"finished: {run.status}")

    async def follow(self, scheduler: Scheduler, poll: float) -> Run:
        """Poll the run until it is terminal, reporting each change; return it."""
        while self.run_id is not None:
            run = await scheduler.get_run(self.run_id)
            self.show(run)
            if run.finished:
                return run
            await anyio.sleep(min(poll, 0.2))
        raise RuntimeError("Progress.follow() before begin()")

    def interrupted(self, final: Run | None) -> None:
        """Say what happened to the run after Ctrl-C; *final* is how the store holds it now."""
        if self.run_id is None:
            sys.stderr.write("stargraph: interrupted\n")
            return
        cancel = f"Cancel it with: stargraph runs cancel {self.run_id}"
        if final is not None and final.finished:
            fate = f"the run {final.status} while this process stopped (it drained in time)"
            cancel = ""
        elif final is not None and final.status == "pending":
            fate = (
                "the run was handed back to the store: it runs again on the next scheduler "
                "that claims it (a server, or `stargraph run --wait`)"
            )
        else:
            where = final.lease_owner if final is not None else None
            fate = f"the run keeps going on the server{f' ({where})' if where else ''}"
        sys.stderr.write(f"stargraph: interrupted; {fate}.{' ' + cancel if cancel else ''}\n")
