"""Fixtures for the queue trigger tests: a fresh source on a real local broker per test."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .brokers import BROKERS, reachable

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_procs import spawn

__all__ = ["spawn"]

KINDS = list(BROKERS)


@pytest.fixture(params=KINDS)
def broker(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A broker helper with a fresh source; skips when the local broker is down."""
    kind = str(request.param)
    reason = reachable(kind)
    if reason:
        pytest.skip(reason)
    helper = BROKERS[kind]()
    yield helper
    helper.close()


@pytest.fixture(autouse=True)
def collect_leaked_clients() -> Iterator[None]:
    """Collect garbage after each queue test, so a broker client that a test (or a helper)
    forgot to close warns ("unclosed socket", an error here) in the test that leaked it.

    A pika connection sits in reference cycles, so only the cyclic collector frees one left
    open -- at whatever moment, in whatever test runs then, maybe in another folder on the
    same xdist worker (how a publisher in test_process.py, never closed, failed other tests).
    Autouse, so its teardown runs after the ``broker`` fixture closed its helper.
    """
    yield
    gc.collect()
