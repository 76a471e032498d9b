"""tests/kit fixtures: ``spawn`` from tests/serve/serve_procs.py (real processes)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_procs import spawn

__all__ = ["spawn"]
