"""``stargraph plugins check`` on the seed's example (installed privately, as tests/examples does):
the seed form passes on asyncio with a plain "asyncio only" verdict; the anyio form everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from stargraph.cli import main

from ._dist import install, stargraph

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fswatch"
SIGNAL = "stargraph.plugin.check.signals:drop_files"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(EXAMPLE, tmp_path_factory.mktemp("fswatch-check"))


def check(site: Path, entry: str, prefix: str) -> tuple[int, str]:
    proc = stargraph(
        site,
        "plugins",
        "check",
        entry,
        "--deps",
        f"{prefix}_path={{workdir}}",
        "--deps",
        f"{prefix}_graph_id=ingest",
        "--deps",
        f"{prefix}_interval=0.05",
        "--signal",
        SIGNAL,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_seed_form_passes_asyncio_only(site: Path) -> None:
    code, out = check(site, "fswatch", "fswatch")
    assert code == 0, out
    assert "\nverdict: passed (asyncio only)\n" in out, out
    assert "never awaited" not in out, out
    assert "N/A   trio     start         asyncio only: start() raised RuntimeError" in out, out
    assert "N/A   asyncio  cancel        asyncio form" in out, out
    assert "PASS  asyncio  idempotency" in out and "PASS  asyncio  source" in out, out


def test_anyio_form_passes_on_both_backends(site: Path) -> None:
    code, out = check(site, "my-triggers:stargraph.triggers:fswatch_anyio", "fswatch_anyio")
    assert code == 0, out
    assert out.rstrip().endswith("verdict: passed"), out
    for backend in ("asyncio", "trio"):
        for name in ("cleanup", "cancel", "restart", "idempotency", "source"):
            assert f"PASS  {backend:<7}  {name}" in out, out


def test_hooks_module_form(site: Path) -> None:
    code, out = check(site, "fswatch_hooks", "fswatch_hooks")
    assert code == 0, out
    assert "N/A   -        protocol      a carrier of @hookimpl functions" in out, out


def test_json_output_and_unknown_entry(site: Path) -> None:
    proc = stargraph(site, "plugins", "check", "fswatch_anyio", "--backend", "trio", "--json")
    import json

    report = json.loads(proc.stdout)
    assert report["plugin"] == "my-triggers:stargraph.triggers:fswatch_anyio"
    assert {r["backend"] for r in report["results"]} == {None, "trio"}


def test_unknown_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "check", "no_such_trigger"]) == 1
    assert "no installed plugin 'no_such_trigger'" in capsys.readouterr().err
