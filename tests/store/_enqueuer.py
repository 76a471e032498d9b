"""A child process for the SQLite crash test: enqueue batches forever, print each durable ack.

``python _enqueuer.py <url>``: every acknowledged batch prints one line ``ack <first> <last>``
(run ids ``r000000``...) only after ``enqueue_batch`` returned, i.e. after COMMIT.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import anyio

from stargraph.store import EnqueueRequest, NewRun, open_store


async def main(url: str) -> None:
    store = open_store(url)
    await store.open()
    print("ready", flush=True)
    n = 0
    while True:
        now = datetime.now(UTC)
        batch = [
            EnqueueRequest(
                run=NewRun(
                    run_id=f"r{i:06}", graph_id="g", idempotency_key=f"k{i:06}",
                    params={"i": i}, enqueued_at=now, not_before=now,
                )
            )
            for i in range(n, n + 50)
        ]  # fmt: skip
        await store.enqueue_batch(batch)
        print(f"ack {n} {n + 49}", flush=True)
        n += 50


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
