"""The PostgreSQL store: :class:`PostgresStore` (see :mod:`stargraph.store.postgres.store`)."""

from __future__ import annotations

try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # without the ``postgres`` extra
    from stargraph.errors import ConfigError

    raise ConfigError(
        "The PostgreSQL store needs psycopg 3 and psycopg-pool; install them with: "
        "pip install 'stargraph[postgres]'"
    ) from exc

from stargraph.store.postgres.store import CHANNEL, PostgresStore

__all__ = ["CHANNEL", "PostgresStore"]
