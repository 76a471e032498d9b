"""Tell apart a plugin that is not configured, or asyncio-only on trio, from one that failed.

* ``not_configured``: ``init`` raised :class:`~stargraph.errors.TriggerNotConfigured`, or a
  ``KeyError`` naming a key absent from its deps (the seed's ``deps["fswatch_path"]``). An
  installed plugin that this server does not configure is idle, not broken.
* asyncio-only: on trio, ``start`` (or its tasks) raised asyncio's ``RuntimeError: no running
  event loop`` (``asyncio.create_task`` outside asyncio). Restarting cannot help, so the plugin
  is ``failed`` at once with a reason that says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from stargraph.errors import TriggerNotConfigured, first_leaf

__all__ = ["ASYNCIO_ONLY", "asyncio_only", "not_configured"]

ASYNCIO_ONLY = (
    "asyncio-only (uses asyncio.create_task): run it with --backend asyncio, or start its "
    "loops in deps['task_group'] to run on trio"
)


def not_configured(error: BaseException | None, deps: Mapping[str, Any]) -> str | None:
    """Return why the plugin is not configured, or ``None`` when *error* is a real failure."""
    if isinstance(error, TriggerNotConfigured):
        return str(error)
    if isinstance(error, KeyError) and len(error.args) == 1:
        key = error.args[0]
        if isinstance(key, str) and key not in deps:
            return f"deps[{key!r}] is not set: add {key} to the config's [deps] table"
    return None


def asyncio_only(error: BaseException | None) -> bool:
    """True when *error* is asyncio's "no running event loop" raised off asyncio (trio)."""
    if error is None:
        return False
    leaf = first_leaf(error) if isinstance(error, BaseExceptionGroup) else error
    if not isinstance(leaf, RuntimeError) or "no running event loop" not in str(leaf):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True  # not on asyncio (trio): restarting cannot help
    return False
