"""The HTTP surface: the Quart/QuartTrio app, its API Blueprints, and Hypercorn serving.

``create_app`` builds the app for a backend, ``attach_runtime`` gives it an entered runtime and
mounts the triggers' routes, ``serve_app`` runs it under Hypercorn (cancel-safe), and
``serve_config`` is the whole ``stargraph serve`` process. Names are imported lazily (a start-up
cost, not an import cycle), so importing one serve module does not pull in Hypercorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stargraph.serve.app import attach_runtime, create_app
    from stargraph.serve.server import bind_socket, serve_app, serve_config

__all__ = ["attach_runtime", "bind_socket", "create_app", "serve_app", "serve_config"]

_WHERE = {
    "attach_runtime": "stargraph.serve.app",
    "create_app": "stargraph.serve.app",
    "bind_socket": "stargraph.serve.server",
    "serve_app": "stargraph.serve.server",
    "serve_config": "stargraph.serve.server",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'stargraph.serve' has no attribute {name!r}")
