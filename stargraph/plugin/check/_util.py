"""Helpers of the checks: error wording, the asyncio-only test, mounting routes."""

from __future__ import annotations

import gc
import os
import warnings

from quart import Blueprint

from stargraph.errors import first_leaf

__all__ = ["asyncio_only", "bound", "describe", "forget", "mount"]

_SEP = os.sep


def asyncio_only(exc: BaseException) -> bool:
    leaf = first_leaf(exc)
    if "no running event loop" in str(leaf) or type(leaf).__name__ == "AsyncLibraryNotFoundError":
        return True
    tb = leaf.__traceback__
    while tb is not None:
        if f"{_SEP}asyncio{_SEP}" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def forget(exc: BaseException) -> None:
    """Collect the coroutine an asyncio-only ``start()`` made but could not schedule, without
    the "never awaited" warning (it is the reported verdict, not news)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exc.__traceback__ = None
        for leaf in getattr(exc, "exceptions", ()):
            leaf.__traceback__ = None
        gc.collect()


def describe(exc: BaseException) -> str:
    leaf = first_leaf(exc)
    if isinstance(leaf, TimeoutError):
        return "TimeoutError"
    return f"{type(leaf).__name__}: {leaf}"


def bound(exc: BaseException, timeout: float) -> str:
    return (
        f" (no return within {timeout:g} s: it hangs)"
        if isinstance(first_leaf(exc), TimeoutError)
        else ""
    )


def mount(blueprints: list[Blueprint], backend: str) -> str | None:
    """Mount *blueprints* on a fresh Stargraph app; describe the first clash (or None)."""
    from stargraph.serve.app import create_app

    app = create_app(backend)
    own = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    for bp in blueprints:
        try:
            app.register_blueprint(bp)
        except (ValueError, AssertionError) as exc:
            return f"mounting Blueprint {bp.name!r} failed: {exc}"
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in {bp.name for bp in blueprints}:
            continue
        for method in rule.methods or ():
            if (rule.rule, method) in own:
                return f"route {method} {rule.rule} clashes with Stargraph's own route"
    return None
