"""Import ``"package.module:attr.path"`` targets (graph targets, webhook params extractors)."""

from __future__ import annotations

import importlib
from typing import Any

from stargraph.errors import ConfigError

__all__ = ["load_object"]


def load_object(target: str, where: str = "target") -> Any:
    """Import ``"package.module:attr.path"`` and return the object.

    Raises :class:`~stargraph.errors.ConfigError` starting with *where* (the file and key, or
    the trigger, that named the target) for a malformed target, a module that fails to import
    (any exception, kept as ``__cause__``) or a missing attribute.
    """
    module_name, sep, qualname = target.partition(":")
    if not sep or not module_name or not qualname:
        raise ConfigError(f"{where}: must look like 'package.module:callable', got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})"
        ) from exc
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{where}: {module_name!r} has no attribute {qualname!r}") from None
    return obj
