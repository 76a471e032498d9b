"""What a signal hook gets (``--signal module:function``): :class:`SignalContext`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from stargraph.plugin.check.harness import TriggerHarness

__all__ = ["Signal", "SignalContext"]


@attrs.frozen(kw_only=True)
class SignalContext:
    """What a signal hook gets: the harness, the work folder, and which round this is.

    Round 1 runs on the first start; round 2 replays the same signals against a new instance
    of the trigger (or the restarted one), which must make no new run.
    """

    harness: TriggerHarness
    workdir: Path
    round: int

    @property
    def deps(self) -> dict[str, Any]:
        """The deps the trigger was given."""
        return self.harness.plugin_deps()

    @property
    def trigger(self) -> object:
        """The trigger object being checked."""
        return self.harness.trigger


#: ``signal(ctx)``: make the outside world send the trigger its signals (sync or async).
Signal = Callable[[SignalContext], Awaitable[None] | None]
