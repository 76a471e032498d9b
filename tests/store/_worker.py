"""A child process for the multi-process SQLite tests.

``python _worker.py <url> <owner> <backend>`` opens the store, prints ``ready``, waits for a
line on stdin, then claims (5 at a time) and completes runs until none are due, and prints the
claimed run ids as one JSON list.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import anyio

from stargraph.store import Completion, RunStatus, open_store


async def main(url: str, owner: str) -> None:
    store = open_store(url)
    await store.open()
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    claimed: list[str] = []
    try:
        while runs := await store.claim(
            owner=owner, limit=5, now=datetime.now(UTC), lease_seconds=60, graph_limits={}
        ):
            claimed += [r.run_id for r in runs]
            done = [Completion(run_id=r.run_id, status=RunStatus.succeeded) for r in runs]
            await store.complete_many(owner=owner, completions=done, now=datetime.now(UTC))
    finally:
        await store.close()
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], backend=sys.argv[3])
