"""The embedded SQLite store: :class:`SQLiteStore` (see :mod:`stargraph.store.sqlite.store`)."""

from __future__ import annotations

from stargraph.store.sqlite.store import SQLiteOptions, SQLiteStore, parse_sqlite_url

__all__ = ["SQLiteOptions", "SQLiteStore", "parse_sqlite_url"]
