"""tests/serve fixtures: ``spawn`` starts real server processes (see serve_procs.py)."""

from __future__ import annotations

from serve_procs import spawn

__all__ = ["spawn"]
