"""The HTTP surface: the Quart/QuartTrio app, its API Blueprints, and Hypercorn serving.

``create_app`` builds the app for a backend, ``attach_runtime`` gives it an entered runtime and
mounts the triggers' routes, ``serve_app`` runs it under Hypercorn (cancel-safe), and
``serve_config`` is the whole ``stargraph serve`` process.
"""

from __future__ import annotations

from stargraph.serve.app import attach_runtime, create_app
from stargraph.serve.server import bind_socket, serve_app, serve_config

__all__ = ["attach_runtime", "bind_socket", "create_app", "serve_app", "serve_config"]
