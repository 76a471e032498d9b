"""A load client run as its own process: N connections at once, one GET /healthz each.

Usage: ``python _storm_client.py PORT CONNECTIONS DEADLINE``; prints ``answered failed pending``.
Run apart from the server so the two never share a GIL (an in-process client starves the server).
"""

from __future__ import annotations

import asyncio
import sys


async def _one(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        return head.startswith(b"HTTP/1.1 200")
    except (OSError, asyncio.IncompleteReadError):
        return False
    finally:
        writer.close()


async def _storm(port: int, connections: int, deadline: float) -> tuple[int, int, int]:
    tasks = [asyncio.ensure_future(_one(port)) for _ in range(connections)]
    done, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    answered = sum(1 for task in done if task.result())
    return answered, len(done) - answered, len(pending)


if __name__ == "__main__":
    port, connections, deadline = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    print(*asyncio.run(_storm(port, connections, deadline)))
