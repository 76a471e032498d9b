"""What a trigger may leave behind: tasks, threads and open files, before and after."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import anyio
import attrs

__all__ = ["Snapshot", "leaks", "snapshot"]

#: Worker-thread pools of anyio, trio and asyncio: idle workers stay, by design.
_POOL_THREADS = ("AnyIO worker thread", "Trio thread", "asyncio_", "ThreadPoolExecutor")
_FD_DIR = Path("/proc/self/fd")


@attrs.frozen
class Snapshot:
    """Running tasks, threads and open files at one moment."""

    tasks: dict[int, str]
    threads: dict[int, str]
    files: dict[int, str]


def _files() -> dict[int, str]:
    if not _FD_DIR.is_dir():  # not Linux: files are not checked
        return {}
    out: dict[int, str] = {}
    for entry in os.listdir(_FD_DIR):
        try:
            target = os.readlink(_FD_DIR / entry)
        except OSError:
            continue
        if (target.startswith("/") and not target.startswith("/dev/")) or "inotify" in target:
            out[int(entry)] = target
    return out


def snapshot() -> Snapshot:
    """Take a :class:`Snapshot` (call it from a task on the event loop)."""
    tasks = {t.id: f"{t.name} ({t.coro!r})" for t in anyio.get_running_tasks()}
    threads = {
        t.ident or 0: t.name
        for t in threading.enumerate()
        if t.is_alive() and not t.name.startswith(_POOL_THREADS)
    }
    return Snapshot(tasks=tasks, threads=threads, files=_files())


def leaks(before: Snapshot, after: Snapshot) -> list[str]:
    """Describe what *after* has that *before* had not (``task …``, ``thread …``, ``file …``)."""
    out = [f"task {name}" for key, name in after.tasks.items() if key not in before.tasks]
    out += [f"thread {name!r}" for key, name in after.threads.items() if key not in before.threads]
    out += [
        f"open file {name}" for key, name in after.files.items() if before.files.get(key) != name
    ]
    return out


async def settled_leaks(before: Snapshot, grace: float) -> list[str]:
    """Leaks that are still there after up to *grace* seconds (tasks finish their cancellation)."""
    found: list[str] = []
    with anyio.move_on_after(grace):
        while True:
            found = leaks(before, snapshot())
            if not found:
                return []
            await anyio.sleep(0.02)
    return found
