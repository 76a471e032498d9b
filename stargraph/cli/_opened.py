"""Open the configured store for one CLI command and close it, bounded, afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from stargraph.config import StargraphConfig
from stargraph.store import open_store
from stargraph.store.base import RunStore

__all__ = ["opened_store"]


@asynccontextmanager
async def opened_store(cfg: StargraphConfig) -> AsyncIterator[RunStore]:
    """The open store of *cfg*; closed (shielded, at most 10 s) on the way out."""
    store = open_store(cfg.store.url)
    await store.open()
    try:
        yield store
    finally:
        with anyio.move_on_after(10, shield=True):
            await store.close()
