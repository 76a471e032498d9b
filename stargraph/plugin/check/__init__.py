"""The trigger author's conformance suite (``stargraph plugins check``) and its test harness.

- :func:`run_checks` resolves an installed entry point (or ``module:Class``) and checks it on
  asyncio and trio; :func:`check_trigger` checks an object on the running backend (tests).
- :class:`TriggerHarness` hosts one trigger on a throw-away SQLite store.

Both are also importable from :mod:`stargraph.testing`. See ``docs/plugins.md`` (the kit).
"""

from __future__ import annotations

from stargraph.plugin.check.context import Signal, SignalContext
from stargraph.plugin.check.harness import TriggerHarness
from stargraph.plugin.check.report import CheckReport, CheckResult, Status
from stargraph.plugin.check.runner import check_trigger, run_checks
from stargraph.plugin.check.target import Target, resolve

__all__ = [
    "CheckReport",
    "CheckResult",
    "Signal",
    "SignalContext",
    "Status",
    "Target",
    "TriggerHarness",
    "check_trigger",
    "resolve",
    "run_checks",
]
