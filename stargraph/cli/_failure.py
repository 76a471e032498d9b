"""The one-line message ``stargraph`` prints for an error it did not expect.

A missing module says what to install (never "rerun with --log-level debug": the traceback
would only repeat the module name).
"""

from __future__ import annotations

from stargraph.errors import StargraphError

__all__ = ["describe_failure", "install_hint"]

_EXTRAS = {"psycopg": "postgres", "psycopg_pool": "postgres", "psycopg_binary": "postgres"}
_DISTRIBUTIONS = {
    "quart_trio": "quart-trio",
    "prometheus_client": "prometheus-client",
    "dateutil": "python-dateutil",
    "yaml": "PyYAML",
}
_DEBUG_HINT = " (rerun with --log-level debug for the traceback)"


def install_hint(module: str, *, upgrade: bool = False) -> str:
    """Return the ``pip install ...`` command that provides the top-level package of *module*."""
    top = module.split(".")[0]
    pip = "pip install --upgrade" if upgrade else "pip install"
    if top in _EXTRAS:
        return f"{pip} 'stargraph[{_EXTRAS[top]}]'"
    if top == "stargraph":
        return "pip install --force-reinstall stargraph (the installed copy is incomplete)"
    return f"{pip} {_DISTRIBUTIONS.get(top, top.replace('_', '-'))}"


def describe_failure(exc: BaseException) -> str:
    """Return the text after ``stargraph: error: `` for *exc* (already the leaf error)."""
    if isinstance(exc, StargraphError | OSError):
        return str(exc)
    if isinstance(exc, ImportError) and exc.name:
        if isinstance(exc, ModuleNotFoundError):
            return f"missing module {exc.name!r} ({exc}): {install_hint(exc.name)}"
        return f"{exc} (a version mismatch?): {install_hint(exc.name, upgrade=True)}"
    return f"unexpected {type(exc).__name__}: {exc}{_DEBUG_HINT}"
