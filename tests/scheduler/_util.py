"""Helpers shared by the scheduler tests: the shared settings factory and the test clock."""

from __future__ import annotations

from _settings import settings

from stargraph.testing import ManualClock

__all__ = ["ManualClock", "fast_settings"]

fast_settings = settings  # the scheduler tests' historical name for the shared factory
