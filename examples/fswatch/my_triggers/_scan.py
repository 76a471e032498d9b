"""Find files that are new (or changed) in a folder since the last look."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from stargraph.triggers import TriggerEvent


def scan(folder: Path, seen: dict[Path, tuple[int, int]]) -> list[tuple[Path, str]]:
    """Return ``(path, sha256 hex)`` for each regular file not seen with this size and mtime.

    *seen* is updated. Drop files in with write-then-rename so a half-written file is never read.
    """
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        if seen.get(path) != signature:
            seen[path] = signature
            found.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
    return found


def file_event(trigger_id: str, path: Path, digest: str) -> TriggerEvent:
    """The trigger event for one file: its key is the path plus the content's sha256."""
    return TriggerEvent(
        trigger_id=trigger_id,
        scheduled_fire=datetime.now(UTC),
        idempotency_key=f"{trigger_id}:{path}:{digest}",
        payload={"path": str(path)},
    )
