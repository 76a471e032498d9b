"""Run ids: UUID4-shaped, unique across threads and across a fork (the random pool is per
thread and reset in a forked child)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid

import pytest

from stargraph.scheduler._params import new_run_id


def _ids(count: int) -> list[str]:
    return [new_run_id() for _ in range(count)]


def test_ids_are_uuid4_hex() -> None:
    for run_id in _ids(5000):  # more than one draw of the pool
        parsed = uuid.UUID(hex=run_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == run_id


def test_ids_are_unique_across_threads() -> None:
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(_ids(1000))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [run_id for ids in results for run_id in ids] + _ids(1000)
    assert len(set(everything)) == len(everything) == 5000


def _child(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put(_ids(10))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_does_not_mint_the_parents_next_ids() -> None:
    new_run_id()  # the parent's pool now holds ids not handed out yet
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(timeout=30)
    assert not set(theirs) & set(_ids(10))
