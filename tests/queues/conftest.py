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


# A broker client socket (seen once: pika, 127.0.0.1:5672) can be left for the garbage collector
# when a connection attempt fails part-way under load; its ResourceWarning then surfaces in
# whichever queue test runs next. Known and not yet traced to its owner (see the issue notes):
# ignored for the queue tests only, never suite-wide.
_UNCLOSED_SOCKET = [
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add the unclosed-broker-socket filters to every test of this folder."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            for spec in _UNCLOSED_SOCKET:
                item.add_marker(pytest.mark.filterwarnings(spec))
