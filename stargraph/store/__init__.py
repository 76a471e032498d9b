"""Run stores: :func:`open_store` picks the implementation from a URL.

``sqlite:///file.db`` → :class:`~stargraph.store.sqlite.SQLiteStore`;
``postgresql://...`` or ``postgres://...`` → ``stargraph.store.postgres.PostgresStore``.
The returned store is not open yet: ``await store.open()`` before use, ``await store.close()``
after.
"""

from __future__ import annotations

from stargraph.errors import ConfigError
from stargraph.store.base import (
    TERMINAL_STATUSES,
    Attempt,
    Completion,
    CursorAdvance,
    Enqueued,
    EnqueueRequest,
    NewRun,
    Nonce,
    Run,
    RunError,
    RunFilter,
    RunPage,
    RunStatus,
    RunStore,
    TriggerState,
    attempt_history,
)

__all__ = [
    "TERMINAL_STATUSES",
    "Attempt",
    "Completion",
    "CursorAdvance",
    "EnqueueRequest",
    "Enqueued",
    "NewRun",
    "Nonce",
    "Run",
    "RunError",
    "RunFilter",
    "RunPage",
    "RunStatus",
    "RunStore",
    "TriggerState",
    "attempt_history",
    "open_store",
]


def _postgres(url: str) -> RunStore:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"Store URL {_redact(url)!r} needs PostgreSQL support; "
            "install it with: pip install 'stargraph[postgres]'"
        ) from None
    from stargraph.store.postgres import PostgresStore

    store: RunStore = PostgresStore(url)
    return store


def _redact(url: str) -> str:
    """Hide a password in a URL before it appears in a message."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def open_store(url: str) -> RunStore:
    """Return the (unopened) store for *url*; raise ConfigError for an unknown scheme."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from stargraph.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    raise ConfigError(
        f"Unsupported store URL {_redact(url)!r}; use sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/dbname"
    )
