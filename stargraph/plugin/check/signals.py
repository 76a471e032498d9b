"""Ready-made signal hooks for ``stargraph plugins check --signal``.

``stargraph.plugin.check.signals:drop_files`` suits a trigger that watches a folder: configure
it with ``--deps my_path={workdir}`` and the hook drops three files there (write, then rename),
with the same names and contents in both rounds.
"""

from __future__ import annotations

from stargraph.plugin.check.context import SignalContext

__all__ = ["drop_files"]


def drop_files(ctx: SignalContext) -> None:
    """Write ``signal-1.txt`` .. ``signal-3.txt`` into ``ctx.workdir`` (same content each round)."""
    for n in range(1, 4):
        part = ctx.workdir / f".signal-{n}.part"
        part.write_text(f"signal {n}\n", encoding="utf-8")
        part.replace(ctx.workdir / f"signal-{n}.txt")
