"""Blocking file operations of the fs trigger (run in worker threads): list, stat, hash."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["MAX_KEY", "Fingerprint", "digests", "file_key", "fingerprints", "listing", "wanted"]

from stargraph.triggers import MAX_KEY_LENGTH as MAX_KEY

#: ``(size, mtime in ns)`` of a file, or None when it is gone.
Fingerprint = tuple[int, int] | None
_CHUNK = 1 << 20


def wanted(path: Path, pattern: str | None) -> bool:
    """True for a name the trigger watches: not hidden, matching *pattern* when given."""
    name = path.name
    if name.startswith("."):
        return False
    return pattern is None or fnmatch.fnmatchcase(name, pattern)


def listing(folder: Path, pattern: str | None) -> list[Path]:
    """The regular files of *folder* (not recursive) that the trigger watches, sorted."""
    return sorted(p for p in folder.iterdir() if wanted(p, pattern) and p.is_file())


def fingerprints(paths: Iterable[Path]) -> dict[Path, Fingerprint]:
    """Size and modification time of each path (None for a path that is not a file)."""
    out: dict[Path, Fingerprint] = {}
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            out[path] = None
            continue
        out[path] = (st.st_size, st.st_mtime_ns) if path.is_file() else None
    return out


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def digests(paths: Iterable[Path]) -> dict[Path, str | None]:
    """The sha256 (hex) of each file's content; None for a file that vanished meanwhile."""
    return {path: _sha256(path) for path in paths}


def file_key(trigger_id: str, path: Path, digest: str) -> str:
    """``"<trigger id>:<path>:<sha256>"``; a path too long for a key is replaced by its hash."""
    key = f"{trigger_id}:{path}:{digest}"
    if len(key) <= MAX_KEY:
        return key
    hashed = hashlib.sha256(str(path).encode()).hexdigest()
    return f"{trigger_id}:path-sha256={hashed}:{digest}"[:MAX_KEY]
