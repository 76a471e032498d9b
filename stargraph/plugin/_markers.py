"""The pluggy markers of project ``"stargraph"``.

Plugins mark their hook functions with :data:`hookimpl`::

    from stargraph.plugin._markers import hookimpl

    @hookimpl
    def trigger_start(deps): ...
"""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "stargraph"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
