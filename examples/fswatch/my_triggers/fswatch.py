"""Start a graph run for every file that lands in a folder.

``FilesystemWatchTrigger`` is the how-to's example as written there: ``start()`` creates an
asyncio task, ``stop()`` cancels it (asyncio backend only). ``AnyioFilesystemWatchTrigger`` is the
anyio-native form: its loop runs in the task group the host gives each plugin
(``deps["task_group"]``), so it works on asyncio and trio and the host sees its crashes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio

from my_triggers._scan import file_event, scan
from stargraph.errors import StargraphRuntimeError


class FilesystemWatchTrigger:
    """Watch ``deps["fswatch_path"]``; enqueue ``deps["fswatch_graph_id"]`` once per new file."""

    trigger_id = "fswatch"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[Path, tuple[int, int]] = {}

    def init(self, deps: dict[str, Any]) -> None:
        if "scheduler" not in deps:
            raise StargraphRuntimeError(
                f"{type(self).__name__}.init(deps) requires deps['scheduler']"
            )
        self._scheduler = deps["scheduler"]
        self._path = Path(deps[f"{self.trigger_id}_path"])
        self._graph_id = deps[f"{self.trigger_id}_graph_id"]
        self._interval = float(deps.get(f"{self.trigger_id}_interval", 1.0))

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def routes(self) -> list[Any]:
        return []

    def poll_once(self) -> int:
        """Look at the folder once; enqueue a run per new file; return how many."""
        return self._enqueue(scan(self._path, self._seen))

    def _enqueue(self, found: list[tuple[Path, str]]) -> int:
        for index, (path, digest) in enumerate(found):
            event = file_event(self.trigger_id, path, digest)
            try:
                self._scheduler.enqueue(
                    graph_id=self._graph_id,
                    params=event.payload,
                    idempotency_key=event.idempotency_key,
                )
            except Exception:  # e.g. SchedulerBusy: look at these files again next time
                for later, _ in found[index:]:
                    self._seen.pop(later, None)
                raise
        return len(found)

    async def _watch(self) -> None:
        while True:
            self.poll_once()
            await asyncio.sleep(self._interval)


class AnyioFilesystemWatchTrigger(FilesystemWatchTrigger):
    """The anyio-native form, reading ``deps["fswatch_anyio_path"]`` and
    ``deps["fswatch_anyio_graph_id"]``; idle when no path is configured."""

    trigger_id = "fswatch_anyio"

    def init(self, deps: dict[str, Any]) -> None:
        self._task_group = deps.get("task_group")
        self._configured = f"{self.trigger_id}_path" in deps
        if self._configured:
            super().init(deps)

    def start(self) -> None:
        if not self._configured:
            return
        if self._task_group is None:
            raise StargraphRuntimeError(
                f"{type(self).__name__}.start() requires deps['task_group'] (the Stargraph "
                "host gives every plugin one)"
            )
        self._task_group.start_soon(self._watch_anyio)

    def stop(self) -> None:
        """Nothing to do: the host cancelled our task group, which ended the loop."""

    async def _watch_anyio(self) -> None:
        while True:
            # Disk I/O in a worker thread; enqueue (sync, non-blocking) back on the event loop.
            found = await anyio.to_thread.run_sync(scan, self._path, self._seen)
            self._enqueue(found)
            await anyio.sleep(self._interval)
