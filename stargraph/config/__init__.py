"""The ``stargraph.toml`` file: parsed with :mod:`tomllib` into a frozen :class:`StargraphConfig`.

Sections (DESIGN §7): ``[store]``, ``[serve]``, ``[scheduler]``, ``[graphs.<id>]``, ``[[cron]]``,
``[[webhook]]``, ``[plugins]``, ``[deps]``. The environment overrides the store URL
(``STARGRAPH_STORE``) and the bind address (``STARGRAPH_BIND``). Secrets (the API token, webhook
secrets) are read from the environment variables the file names, never from the file. Every
invalid value raises :class:`~stargraph.errors.ConfigError` naming the file, key and reason.

``Runtime.from_config(load_config(path))`` (in :mod:`stargraph.runtime`, the layer above this
one) builds the runtime the file describes.
"""

from __future__ import annotations

from stargraph.config._load import load_config, parse_bind
from stargraph.config._model import (
    DEFAULT_TOKEN_ENV,
    GraphConfig,
    PluginsConfig,
    ServeConfig,
    StargraphConfig,
    StoreConfig,
)

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "GraphConfig",
    "PluginsConfig",
    "ServeConfig",
    "StargraphConfig",
    "StoreConfig",
    "load_config",
    "parse_bind",
]
