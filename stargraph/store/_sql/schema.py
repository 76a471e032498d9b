"""Numbered schema migrations, applied the same way by both stores (inside their transaction)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from stargraph.errors import StoreError

__all__ = ["upgrade"]


def upgrade(
    conn: Any,
    migrations: Sequence[str],
    *,
    create: str,
    stamp: Callable[[int], tuple[str, tuple[Any, ...]]],
    where: str,
    fix: str,
) -> tuple[int, int]:
    """Apply the migrations ``schema_version`` lacks; return ``(version_before, version_after)``.

    ``migrations[n - 1]`` brings the schema from version ``n - 1`` to ``n``. *create* makes the
    ``schema_version`` table if missing; ``stamp(n)`` is the statement that records version
    ``n``. A database newer than this code raises StoreError naming *where* and the *fix*.
    """
    conn.execute(create)
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    before, latest = int(row[0] or 0) if row else 0, len(migrations)
    if before > latest:
        raise StoreError(
            f"{where} has Stargraph schema version {before}, newer than this Stargraph "
            f"understands ({latest}); {fix}"
        )
    for version in range(before + 1, latest + 1):
        for statement in migrations[version - 1].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(*stamp(version))
    return before, latest
