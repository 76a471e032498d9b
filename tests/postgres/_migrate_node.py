"""A process that opens a PostgresStore at an agreed instant (for the migration race test).

Usage: python _migrate_node.py URL START_AT_EPOCH BACKEND
"""

from __future__ import annotations

import sys
import time

import anyio

from stargraph.store.postgres import PostgresStore


async def main(url: str) -> None:
    store = PostgresStore(url)
    await store.open()
    await store.ping()
    await store.close()


if __name__ == "__main__":
    url, start_at, backend = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    time.sleep(max(0.0, start_at - time.time()))
    anyio.run(main, url, backend=backend)
    print("opened", flush=True)
