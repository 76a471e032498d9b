"""Fixtures for the queue trigger tests: a fresh source on a real local broker per test."""

from __future__ import annotations

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
