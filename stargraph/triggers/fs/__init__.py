"""The bundled ``fs`` trigger: a graph run per file content landing in a folder (``[[fs]]``)."""

from __future__ import annotations

from stargraph.triggers.fs.spec import FsSpec, parse_duration
from stargraph.triggers.fs.trigger import FsTrigger

__all__ = ["FsSpec", "FsTrigger", "parse_duration"]
