"""The bundled fs trigger with real files, on asyncio and trio (watchfiles underneath)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import anyio
import pytest

from stargraph.testing import TriggerHarness
from stargraph.triggers.fs import FsSpec, FsTrigger

NAME = "stargraph:stargraph.triggers:fs"


def spec(folder: Path, **kw: object) -> FsSpec:
    fields: dict[str, object] = {
        "trigger_id": "fs:inbox",
        "path": str(folder),
        "graph_id": "ingest",
        "settle": 0.05,
    }
    return FsSpec(**{**fields, **kw})  # type: ignore[arg-type]


def drop(folder: Path, name: str, content: str) -> Path:
    part = folder / f".{name}.part"
    part.write_text(content)
    return part.replace(folder / name)


def harness(folder: Path, **kw: object) -> TriggerHarness:
    return TriggerHarness(FsTrigger(), {"fs_specs": [spec(folder, **kw)]}, name=NAME)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_add_modify_and_same_content_rewrite(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with harness(inbox) as h:
        await h.start()
        drop(inbox, "a.csv", "one")
        [run] = await h.wait_for_runs(1)
        assert run.idempotency_key == f"fs:inbox:{inbox / 'a.csv'}:{sha('one')}"
        assert (run.trigger_source, run.trigger_id) == ("fs", "fs:inbox")
        assert run.params == {"path": str(inbox / "a.csv"), "change": "added", "sha256": sha("one")}
        (inbox / "a.csv").write_text("one")  # rewritten in place, same content
        assert len(await h.quiet(0.4)) == 1
        (inbox / "a.csv").write_text("two")  # modified
        runs = await h.wait_for_runs(2)
        assert runs[1].params["sha256"] == sha("two")
        assert runs[1].params["change"] == "modified"
        drop(inbox, ".hidden", "x")  # ignored: hidden
        assert len(await h.quiet(0.3)) == 2


async def test_pattern_settle_and_delete(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with harness(inbox, pattern="*.csv", on=("added", "deleted"), settle=0.3) as h:
        await h.start()
        drop(inbox, "skip.txt", "not a csv")
        with (inbox / "slow.csv").open("w") as f:  # written in pieces: one run, whole content
            for piece in ("a", "b", "c"):
                f.write(piece)
                f.flush()
                await anyio.sleep(0.1)
        [run] = await h.wait_for_runs(1)
        assert run.params["sha256"] == sha("abc")
        (inbox / "slow.csv").unlink()
        runs = await h.wait_for_runs(2)
        assert runs[1].params["change"] == "deleted"
        assert runs[1].idempotency_key.endswith(f":deleted:{sha('abc')}")
        assert len(await h.quiet(0.4)) == 2


async def test_burst_of_a_thousand_files(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with harness(inbox) as h:
        await h.start()
        for n in range(1000):
            (inbox / f"f{n:04}.txt").write_text(f"file {n}")
        runs = await h.wait_for_runs(1000, timeout=30)
        assert len(await h.quiet(0.3)) == 1000
        assert {r.params["path"] for r in runs} == {
            str(inbox / f"f{n:04}.txt") for n in range(1000)
        }


async def test_vanished_folder_is_an_error_state_then_recovers(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with harness(inbox) as h:
        await h.start()
        trigger: FsTrigger = h.trigger  # type: ignore[assignment]
        shutil.rmtree(inbox)
        with anyio.fail_after(5):
            while (await trigger.describe())[0].error is None:
                await anyio.sleep(0.05)
        [info] = await trigger.describe()
        assert "is missing" in (info.error or "") and str(inbox) in (info.error or "")
        assert h.running and h.crash is None  # not a crash
        inbox.mkdir()
        drop(inbox, "back.csv", "back")
        [run] = await h.wait_for_runs(1)
        assert run.params["path"] == str(inbox / "back.csv")
        assert (await trigger.describe())[0].error is None


@pytest.mark.parametrize("initial", ["fire", "skip"])
async def test_initial_files(tmp_path: Path, initial: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drop(inbox, "old.csv", "old")
    async with harness(inbox, initial=initial) as h:
        await h.start()
        drop(inbox, "new.csv", "new")
        await h.wait_for_runs(1)
        runs = await h.quiet(0.4)
        names = sorted(Path(r.params["path"]).name for r in runs)
        assert names == (["new.csv", "old.csv"] if initial == "fire" else ["new.csv"])
        await h.restart()  # a restart re-lists the folder: nothing runs twice
        assert len(await h.quiet(0.4)) == len(names)


async def test_pause_holds_runs_until_resume(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with harness(inbox) as h:
        await h.start()
        trigger: FsTrigger = h.trigger  # type: ignore[assignment]
        info = await trigger.pause("fs:inbox", note="maintenance")
        assert info.paused and info.kind == "fs"
        drop(inbox, "held.csv", "held")
        assert await h.quiet(0.4) == []
        await trigger.resume("fs:inbox")
        await h.wait_for_runs(1)
        assert (await trigger.describe())[0].last_fire is not None
