"""tests/cli fixtures: ``main()`` configures the ``stargraph`` logger; undo that per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def restore_stargraph_logging() -> Iterator[None]:
    """Keep other tests' ``caplog`` working after ``main()`` set handlers and propagate."""
    logger = logging.getLogger("stargraph")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
