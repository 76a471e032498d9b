"""The CLI says what it uses and never guesses silently (issue 15: defects 5, 6; expectations)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli import GRAPHS, _run

from stargraph.cli import main
from stargraph.cli._where import server_url
from stargraph.config import load_config

EXE = Path(sys.executable).with_name("stargraph")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cli_graphs.py").write_text(GRAPHS)
    (tmp_path / "stargraph.toml").write_text(
        '[store]\nurl = "sqlite:///runs.db"\n'
        '[graphs.hello]\ntarget = "cli_graphs:hello"\n'
        '[graphs.boom]\ntarget = "cli_graphs:boom"\n'
        '[graphs.slow_boom]\ntarget = "slow_graphs:slow_boom"\n'
    )
    (tmp_path / "slow_graphs.py").write_text(
        "import time\n\ndef slow_boom(params, ctx):\n"
        "    time.sleep(0.8)\n    raise ValueError('boom after a while')\n"
    )
    for var in ("STARGRAPH_CONFIG", "STARGRAPH_URL", "STARGRAPH_STORE", "STARGRAPH_BIND"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "stargraph.toml"


def test_no_config_warns_and_read_only_commands_create_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARGRAPH_")}
    for argv in (["runs", "list"], ["runs", "show", "abc"], ["runs", "list", "--json"]):
        done = subprocess.run(
            [EXE, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        lines = done.stderr.splitlines()
        assert done.returncode == 1, done.stderr
        assert lines[0].startswith("stargraph: warning: no config file"), lines
        assert "store sqlite:///stargraph.db" in lines[0]
        assert lines[1].startswith("stargraph: error: no store yet at stargraph.db"), lines
        assert list(tmp_path.iterdir()) == []  # before: ./stargraph.db was created


def test_the_line_names_the_config_and_store(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    code, _, err = _run(capsys, "run", "hello")
    assert code == 0
    assert err == (
        f"stargraph: config stargraph.toml (from ./stargraph.toml); "
        f"store sqlite:///{project.parent}/runs.db\n"
    )


def test_server_url_one_source_of_truth(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load_config(project)
    assert server_url(cfg) == ("http://127.0.0.1:8080", "the config's [serve] bind")
    monkeypatch.setenv("STARGRAPH_BIND", "0.0.0.0:9123")
    assert server_url(load_config(project))[0] == "http://127.0.0.1:9123"
    monkeypatch.setenv("STARGRAPH_URL", "http://127.0.0.1:9/")
    assert server_url(cfg) == ("http://127.0.0.1:9", "$STARGRAPH_URL")
    for argv in (["triggers", "list"], ["plugins", "list"], ["triggers", "pause", "cron:x"]):
        code, _, err = _run(capsys, *argv, "--config", str(project))
        first, last = err.splitlines()
        assert code == 1 and "server http://127.0.0.1:9 ($STARGRAPH_URL)" in first
        assert last.startswith(
            "stargraph: error: no Stargraph server answers at http://127.0.0.1:9"
        )


def test_runs_list_since_until(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ("--config", str(project))
    code, out, _ = _run(capsys, "run", "hello", "--json", *cfg)
    run_id = json.loads(out)["run_id"]
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    cases = {("--since", "1h"): [run_id], ("--since", soon): [], ("--until", "1h"): []}
    cases[("--until", soon)] = [run_id]
    for (flag, value), expected in cases.items():
        code, out, _ = _run(capsys, "runs", "list", flag, value, "--json", *cfg)
        assert [i["run_id"] for i in json.loads(out)["items"]] == expected, (flag, value)
    code, _, err = _run(capsys, "runs", "list", "--since", "yesterday", *cfg)
    assert code == 1 and "--since: expected an age such as 2h" in err


def test_runs_list_shows_duration_finished_and_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ("--config", str(project))
    code, _, err = _run(capsys, "run", "slow_boom", "--wait", *cfg)
    assert code == 1
    progress = [line for line in err.splitlines() if line.startswith("stargraph: [")]
    assert "queued: run" in progress[0]
    here = "running (attempt 1/1) in this process (it claimed the run before any server did)"
    assert here in progress[1]
    assert progress[-1].endswith("finished: failed")
    code, out, _ = _run(capsys, "runs", "list", *cfg)
    header, row = out.splitlines()
    assert header.split() == [
        "RUN", "GRAPH", "STATUS", "SOURCE", "ENQUEUED", "(UTC)", "TOOK", "FINISHED", "ERROR",
    ]  # fmt: skip
    assert "failed" in row and "ValueError" in row and row.split()[6].startswith("0.8")
    assert len(row) <= 80
    code, out, _ = _run(capsys, "runs", "list", "--wide", *cfg)
    assert "ValueError: boom after a while" in out


def test_config_check(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHECK_SECRET", raising=False)
    code, out, err = _run(capsys, "config", "check", "--config", str(project))
    assert code == 0, err
    assert "graph    hello = cli_graphs:hello" in out and "config OK" in err
    with project.open("a") as fh:
        fh.write(
            '[graphs.ghost]\ntarget = "cli_graphs:nope"\n'
            '[[webhook]]\ntrigger_id = "w"\npath = "/w"\ngraph_id = "hello"\n'
            'secret_env = "CHECK_SECRET"\n'
        )
    code, out, err = _run(capsys, "config", "check", "--config", str(project), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert (
        "webhook[0].secret_env: environment variable CHECK_SECRET is not set or empty"
        in (report["problems"])
    )
    assert any("graphs.ghost.target" in p for p in report["problems"]), report["problems"]
    assert not (project.parent / "runs.db").exists()  # nothing was started or created
    monkeypatch.setenv("CHECK_SECRET", "s3cr3t-value")
    code, out, err = _run(capsys, "config", "check", "--config", str(project))
    assert "s3cr3t-value" not in out + err and "CHECK_SECRET (webhook[0].secret_env): set" in out


def test_completion_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    for shell, marker in (
        ("bash", "complete -o default"),
        ("zsh", "#compdef"),
        ("fish", "-l wide"),
    ):
        assert main(["completion", shell]) == 0
        out = capsys.readouterr().out
        assert marker in out and "triggers" in out
    probe = (
        "source <(stargraph completion bash); COMP_WORDS=(stargraph triggers p); "
        'COMP_CWORD=2; _stargraph; echo "${COMPREPLY[@]}"'
    )
    path = f"{EXE.parent}:{os.environ['PATH']}"
    script = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, env={**os.environ, "PATH": path}
    )
    assert script.stdout.split() == ["pause"], script


def test_every_command_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    from stargraph.cli._parser import build_parser
    from stargraph.cli.completion import command_tree

    leaves = [p for p, words in command_tree(build_parser()).items() if p and "--help" in words]
    leaves = [p for p in leaves if not any(w[0] != "-" for w in command_tree(build_parser())[p])]
    assert len(leaves) >= 14
    for path in leaves:
        with pytest.raises(SystemExit):
            main([*path.split(), "--help"])
        out = capsys.readouterr().out
        assert "examples:\n  " in out and "stargraph " in out.split("examples:")[1], path
    with pytest.raises(SystemExit):
        main(["serve", "--json"])  # --json only where it does something


def _sigint_as_in_a_terminal() -> None:
    """A suite started in the background (``pytest &``) ignores SIGINT, and children inherit it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_says_what_happens_to_the_run(project: Path) -> None:
    (project.parent / "sleepy.py").write_text(
        "import anyio\n\nasync def nap(params, ctx):\n    await anyio.sleep(60)\n"
    )
    with project.open("a") as fh:
        fh.write('[graphs.nap]\ntarget = "sleepy:nap"\n[serve]\ngraceful_timeout = 1\n')
    with subprocess.Popen(
        [EXE, "run", "nap", "--wait"],
        cwd=project.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("STARGRAPH_")},
        preexec_fn=_sigint_as_in_a_terminal,
    ) as proc:  # closes its pipes however the test ends
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # wait until it runs here (no server), then Ctrl-C
            seen.append(line)
            if "running (attempt 1/1) in this process" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(30) == 130, [*seen, rest]
        run_id = seen[-2].split()[-1]  # "... queued: run <id>"
        # past the drain grace (1 s) the run is released, and the message says so
        assert "interrupted; the run was handed back to the store: it runs again" in rest, rest
        assert rest.rstrip().endswith(f"Cancel it with: stargraph runs cancel {run_id}"), rest
