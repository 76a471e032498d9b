"""``FolderWatch``: one ``[[fs]]`` folder, watched with ``watchfiles`` (Rust ``notify``).

The loop: when the folder exists, list what is already there (``initial``), then follow change
events. A file that was added or modified waits in ``pending`` until its size and modification
time have not changed for ``settle`` seconds; then its content is hashed (in a worker thread)
and, unless the trigger already enqueued that content for that path, a run is enqueued with the
key ``"<trigger id>:<path>:<sha256>"``. A vanished folder is an error state (``error``), polled
until it comes back; it never ends the trigger.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from datetime import datetime
from pathlib import Path

import anyio
import anyio.lowlevel
import attrs
from anyio.abc import TaskStatus
from watchfiles import Change as WatchChange
from watchfiles import awatch

from stargraph._log import log_event
from stargraph.clock import Clock
from stargraph.errors import SchedulerBusy
from stargraph.triggers import Enqueuer, TriggerEvent, TriggerSource
from stargraph.triggers.fs import _files
from stargraph.triggers.fs.spec import FsSpec

__all__ = ["FolderWatch"]

logger = logging.getLogger("stargraph.triggers.fs")
_CHANGE_NAMES = {
    WatchChange.added: "added",
    WatchChange.modified: "modified",
    WatchChange.deleted: "deleted",
}
_MISSING_POLL = 0.5  # seconds between looks for a vanished folder
_RUST_TIMEOUT_MS = 500  # the watch thread returns this often, so a vanished folder is noticed


@attrs.define(eq=False)
class _Pending:
    change: str
    fingerprint: _files.Fingerprint
    since: float


class _Once:
    """Call ``task_status.started()`` once."""

    def __init__(self, task_status: TaskStatus[None]) -> None:
        self._task_status: TaskStatus[None] | None = task_status

    def __call__(self) -> None:
        if self._task_status is not None:
            self._task_status.started()
            self._task_status = None


async def _set_when_cancelled(event: anyio.Event) -> None:
    """Stop the watch thread promptly: ``awatch`` itself only notices between waits."""
    try:
        await anyio.sleep_forever()
    finally:
        event.set()


class FolderWatch:
    """Watch one folder for one :class:`FsSpec`; enqueue through *scheduler* (source ``fs``)."""

    def __init__(self, spec: FsSpec, scheduler: Enqueuer, clock: Clock) -> None:
        self.spec = spec
        self.paused = spec.paused
        self.error: str | None = None
        self.last_fire: datetime | None = None
        self._scheduler = scheduler
        self._clock = clock
        self._folder = spec.folder
        self._pending: dict[Path, _Pending] = {}
        self._known: dict[Path, str] = {}  # path -> sha256 of the content last enqueued
        self._tick = max(0.02, min(0.25, spec.settle / 4))
        self._missing = f"folder {str(self._folder)!r} is missing (or not a folder); waiting for it"

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled; report started once the first watch is set up (or the folder
        was found missing). A missing folder is reported and waited for."""
        ready = _Once(task_status)
        while True:
            if not await anyio.to_thread.run_sync(self._folder.is_dir):
                self._set_error(self._missing)
                ready()
                await anyio.sleep(_MISSING_POLL)
                continue
            if self.error is not None:
                log_event(logger, "fs.folder_back", trigger_id=self.spec.trigger_id)
                self.error = None
            async with anyio.create_task_group() as tg:
                stop = anyio.Event()
                tg.start_soon(_set_when_cancelled, stop)
                tg.start_soon(self._settler)
                before = set(await self._list()) if self.spec.initial == "skip" else set()
                tg.start_soon(self._follow, stop, tg.cancel_scope)
                await anyio.sleep(0.02)  # the watcher exists once _follow took its first step
                await self._initial(before)
                ready()
                await self._remember(before)

    def _set_error(self, message: str) -> None:
        if self.error != message:
            self.error = message
            self._pending.clear()
            log_event(
                logger,
                "fs.folder_missing",
                logging.ERROR,
                trigger_id=self.spec.trigger_id,
                path=str(self._folder),
            )

    async def _list(self) -> list[Path]:
        try:
            return await anyio.to_thread.run_sync(_files.listing, self._folder, self.spec.pattern)
        except OSError:
            return []  # vanished between the checks: _follow notices

    async def _remember(self, skipped: set[Path]) -> None:
        """``initial = "skip"``: hash what was there before watching (a rewrite with the same
        content then makes no run). Done after start-up, so a big folder does not delay it."""
        digests = await anyio.to_thread.run_sync(_files.digests, sorted(skipped))
        for path, digest in digests.items():
            if digest is not None:
                self._known.setdefault(path, digest)

    async def _initial(self, skipped: set[Path]) -> None:
        """Queue what is in the folder now (the watcher is up), except what was skipped."""
        now = anyio.current_time()
        for path in await self._list():
            if path not in skipped:
                self._pending.setdefault(path, _Pending("added", None, now))

    async def _follow(self, stop: anyio.Event, scope: anyio.CancelScope) -> None:
        """Feed change events into ``pending``; when the folder vanishes, cancel *scope*."""
        watch = awatch(
            self._folder,
            watch_filter=None,
            debounce=50,
            step=20,
            stop_event=stop,
            rust_timeout=_RUST_TIMEOUT_MS,
            yield_on_timeout=True,
            recursive=False,
        )
        try:
            async with aclosing(watch):  # closed here on break or error, not by the GC later
                async for changes in watch:
                    self._note(changes)
                    if not await anyio.to_thread.run_sync(self._folder.is_dir):
                        break
        except OSError:  # the folder went away under the watcher, or the OS refused a watch
            if await anyio.to_thread.run_sync(self._folder.is_dir):
                raise  # e.g. the inotify limits: a crash, restarted with backoff by the host
        if stop.is_set():  # cancelled: the watch thread was told to stop
            await anyio.lowlevel.checkpoint()
            return
        self._set_error(self._missing)
        scope.cancel()

    def _note(self, changes: set[tuple[WatchChange, str]]) -> None:
        now = anyio.current_time()
        for raw, name in changes:
            path = Path(name)
            if path.parent != self._folder or not _files.wanted(path, self.spec.pattern):
                continue
            change = _CHANGE_NAMES[raw]
            if change == "deleted":
                self._pending[path] = _Pending("deleted", None, now)
            else:
                entry = self._pending.get(path)
                kept = entry.change if entry and entry.change == "added" else change
                self._pending[path] = _Pending(kept, None, now)

    async def _settler(self) -> None:
        while True:
            await anyio.sleep(self._tick)
            if self._pending and not self.paused:
                await self._settle_once()

    async def _settle_once(self) -> None:
        paths = list(self._pending)
        prints = await anyio.to_thread.run_sync(_files.fingerprints, paths)
        now = anyio.current_time()
        ready: list[Path] = []
        for path in paths:
            entry = self._pending.get(path)
            if entry is None:
                continue
            current = prints[path]
            if current is None and entry.change != "deleted":
                del self._pending[path]  # gone before it settled
            elif current != entry.fingerprint:
                entry.fingerprint, entry.since = current, now
            elif now - entry.since >= self.spec.settle:
                ready.append(path)
        if ready:
            await self._fire(ready)

    async def _fire(self, ready: list[Path]) -> None:
        files = [p for p in ready if self._pending[p].change != "deleted"]
        found = await anyio.to_thread.run_sync(_files.digests, files)
        for path in ready:
            entry = self._pending.get(path)
            if entry is None:
                continue
            try:
                self._emit(path, entry.change, found.get(path))
            except SchedulerBusy as exc:
                log_event(
                    logger,
                    "fs.busy",
                    logging.WARNING,
                    trigger_id=self.spec.trigger_id,
                    waiting=len(self._pending),
                    retry_after=exc.retry_after,
                )
                await anyio.sleep(exc.retry_after)
                return  # the rest stays pending and is tried again
            self._pending.pop(path, None)

    def _emit(self, path: Path, change: str, digest: str | None) -> None:
        spec = self.spec
        if change == "deleted":
            previous = self._known.pop(path, None)
            if "deleted" not in spec.on:
                return
            key = _files.file_key(spec.trigger_id, path, f"deleted:{previous or 'unknown'}")
        else:
            if digest is None or self._known.get(path) == digest:
                return  # vanished while hashed, or the same content rewritten
            if change not in spec.on:
                self._known[path] = digest
                return
            key = _files.file_key(spec.trigger_id, path, digest)
        now = self._clock.now()
        event = TriggerEvent(
            trigger_id=spec.trigger_id,
            scheduled_fire=now,
            idempotency_key=key,
            payload={**spec.params, "path": str(path), "change": change, "sha256": digest},
        )
        self._scheduler.emit(event, graph_id=spec.graph_id, source=TriggerSource.fs)
        if digest is not None:
            self._known[path] = digest
        self.last_fire = now
