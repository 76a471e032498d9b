"""The ``stargraph`` CLI: the installed console script and ``main()`` on a real SQLite store."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stargraph import __version__
from stargraph.cli import main
from stargraph.cli.commands import parse_params

GRAPHS = """
import anyio

async def hello(params, ctx):
    return {"hello": params.get("name", "world"), "attempt": ctx.attempt}

def boom(params, ctx):
    raise ValueError("boom went the graph")
"""


@pytest.fixture(params=["asyncio", "trio"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A config folder with a graphs module; the CLI runs on the parametrised backend."""
    (tmp_path / "cli_graphs.py").write_text(GRAPHS)
    (tmp_path / "stargraph.toml").write_text(
        textwrap.dedent(f"""
        [store]
        url = "sqlite:///runs.db"
        [serve]
        backend = "{request.param}"
        [graphs.hello]
        target = "cli_graphs:hello"
        [graphs.boom]
        target = "cli_graphs:boom"
    """)
    )
    return tmp_path / "stargraph.toml"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_version() -> None:
    exe = Path(sys.executable).with_name("stargraph")
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"stargraph {__version__}"


def test_run_then_inspect_and_cancel(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ("--config", str(project))
    code, out, _ = _run(capsys, "run", "hello", "-p", "name=ann", "--json", *cfg)
    assert code == 0
    accepted = json.loads(out)
    assert accepted["status"] == "pending" and accepted["deduplicated"] is False
    run_id = accepted["run_id"]

    code, out, _ = _run(capsys, "runs", "show", run_id, "--json", *cfg)
    shown = json.loads(out)
    assert (shown["graph_id"], shown["params"], shown["status"]) == (
        "hello",
        {"name": "ann"},
        "pending",
    )
    code, out, _ = _run(capsys, "runs", "list", *cfg)
    assert out.splitlines()[0].split()[:3] == ["RUN", "GRAPH", "STATUS"]
    assert out.splitlines()[1].startswith(run_id[:8] + "  hello") and run_id not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out, _ = _run(capsys, "runs", "list", "--wide", *cfg)
    assert out.splitlines()[0].split()[:3] == ["RUN", "ID", "GRAPH"] and run_id in out
    code, out, _ = _run(capsys, "runs", "show", run_id[:8], "--json", *cfg)
    assert json.loads(out)["run_id"] == run_id  # the 8-character prefix the table shows

    code, out, _ = _run(capsys, "runs", "cancel", run_id, "--json", *cfg)
    assert code == 0 and json.loads(out)["status"] == "cancelled"
    code, out, err = _run(capsys, "runs", "cancel", run_id, *cfg)
    assert code == 1
    assert err.splitlines() == [
        f"stargraph: config {project} (from --config); store sqlite:///{project.parent}/runs.db",
        f"stargraph: error: run {run_id} already ended (cancelled)",
    ]


def test_run_wait_prints_the_result(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "run",
        "hello",
        "-p",
        'name="bo"',
        "--idempotency-key",
        "k1",
        "--wait",
        "--json",
        "--config",
        str(project),
    )
    assert code == 0
    run = json.loads(out)
    assert run["status"] == "succeeded" and run["result"] == {"hello": "bo", "attempt": 1}
    code, out, _ = _run(
        capsys, "run", "hello", "--idempotency-key", "k1", "--json", "--config", str(project)
    )
    assert json.loads(out) == {"run_id": run["run_id"], "status": "succeeded", "deduplicated": True}


def test_failed_run_exits_non_zero(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "run", "boom", "--wait", "--config", str(project))
    assert code == 1
    assert "boom went the graph" in out and err.endswith("ended failed\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("run", "nope"), "stargraph: error: Unknown graph 'nope'; registered graphs: boom, hello"),
        (("runs", "show", "r-1"), "stargraph: error: no store yet at "),
        (
            ("run", "hello", "-p", "novalue"),
            "stargraph: error: -p expects KEY=VALUE, got 'novalue'",
        ),
    ],
)
def test_errors_are_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, _, err = _run(capsys, *argv, "--config", str(project))
    assert code == 1 and err.splitlines()[-1].startswith(message) and len(err.splitlines()) == 2
    assert err.startswith(f"stargraph: config {project} (from --config); store sqlite:///")


def test_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[serve]\nbackend = 'gevent'\n")
    code, _, err = _run(capsys, "runs", "list", "--config", str(bad))
    assert code == 1
    assert err == (
        f"stargraph: error: {bad}: serve.backend: must be one of asyncio, trio, got 'gevent'\n"
    )


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("stargraph")
    done = subprocess.run(
        [exe, "runs", "list", "--config", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith("missing.toml: config file not found")


def test_parse_params() -> None:
    assert parse_params(["a=1", "b=x", 'c={"d": [1]}', "e=", "f=a=b"]) == {
        "a": 1,
        "b": "x",
        "c": {"d": [1]},
        "e": "",
        "f": "a=b",
    }


def test_webhook_sign_github(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"ref": "main"}')
    monkeypatch.setenv("HOOK_SECRET", "It's a Secret to Everybody")
    code, out, _ = _run(
        capsys,
        "webhook",
        "sign",
        "--scheme",
        "github",
        "--secret-env",
        "HOOK_SECRET",
        "--body-file",
        str(body),
        "--json",
    )
    expected = hmac.new(b"It's a Secret to Everybody", body.read_bytes(), hashlib.sha256)
    headers = json.loads(out)
    assert code == 0 and headers["X-Hub-Signature-256"] == f"sha256={expected.hexdigest()}"
    assert "Everybody" not in out


def test_webhook_sign_needs_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    code, _, err = _run(
        capsys,
        "webhook",
        "sign",
        "--scheme",
        "stargraph",
        "--secret-env",
        "NO_SUCH_SECRET",
        "--body-file",
        "/dev/null",
    )
    assert code == 1 and "NO_SUCH_SECRET is not set" in err


def test_remote_listing_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "triggers", "list", "--url", "http://127.0.0.1:9")
    first, last = err.splitlines()
    assert code == 1 and last.startswith("stargraph: error: no Stargraph server answers at")
    assert first.endswith("server http://127.0.0.1:9 (--url)")


def test_serve_refuses_a_public_bind_without_token(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STARGRAPH_API_TOKEN", raising=False)
    code, _, err = _run(capsys, "serve", "--bind", "0.0.0.0:0", "--config", str(project))
    assert code == 1
    first, last = err.splitlines()
    assert first.startswith(f"stargraph: config {project} (from --config); store sqlite:///")
    assert last.startswith("stargraph: error: refusing to listen on 0.0.0.0 without an API token")


def test_cron_next_across_spring_forward(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "cron",
        "next",
        "0 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-07T00:00:00+00:00",
        "-n",
        "3",
        "--json",
    )
    # Debian cron: the 02:00 fire inside the 03-08 gap runs right after it, at 03:00 EDT.
    assert code == 0 and json.loads(out) == [
        "2026-03-07T07:00:00+00:00",
        "2026-03-08T07:00:00+00:00",
        "2026-03-09T06:00:00+00:00",
    ]


def test_cron_next_table_and_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "cron", "next", "* * * * * */20", "--after", "2026-01-01T00:00:05+00:00", "-n", "2"
    )
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["UTC", "LOCAL", "(UTC)"]
    assert lines[1].startswith("2026-01-01T00:00:20+00:00")
    assert lines[2].startswith("2026-01-01T00:00:40+00:00")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("cron", "next", "61 * * * *"), "stargraph: error: invalid schedule '61 * * * *'"),
        (("cron", "next", "* * * * *", "--tz", "Nowhere/City"), "unknown time zone 'Nowhere/City'"),
        (("cron", "next", "* * * * *", "--after", "2026-01-01T00:00"), "--after: give an offset"),
        (("cron", "next", "* * * * *", "-n", "0"), "-n must be at least 1"),
    ],
)
def test_cron_next_errors(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 1 and message in err and len(err.splitlines()) == 1


def test_store_flag_overrides_the_config(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, out, _ = _run(
        capsys, "run", "hello", "--json", "--store", other, "--config", str(project)
    )
    run_id = json.loads(out)["run_id"]
    code, out, _ = _run(
        capsys, "runs", "list", "--json", "--store", other, "--config", str(project)
    )
    assert [item["run_id"] for item in json.loads(out)["items"]] == [run_id]
    code, out, err = _run(capsys, "runs", "list", "--config", str(project))
    assert code == 1 and out == "" and "error: no store yet at" in err  # the config's store


@pytest.mark.postgres
def test_run_and_list_on_postgres(
    project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "run",
        "hello",
        "-p",
        "name=pg",
        "--wait",
        "--json",
        "--store",
        postgres_url,
        "--config",
        str(project),
    )
    run = json.loads(out)
    assert code == 0 and run["result"] == {"hello": "pg", "attempt": 1}
    code, out, _ = _run(
        capsys, "runs", "list", "--json", "--store", postgres_url, "--config", str(project)
    )
    assert [item["run_id"] for item in json.loads(out)["items"]] == [run["run_id"]]


def test_store_commands_do_not_need_webhook_secrets(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` and `runs` never host the webhook trigger, so its secret variable may be unset."""
    monkeypatch.delenv("CLI_TEST_SECRET", raising=False)
    with project.open("a") as fh:
        fh.write(
            textwrap.dedent("""
            [[webhook]]
            trigger_id = "webhook:x"
            path = "/hooks/x"
            graph_id = "hello"
            secret_env = "CLI_TEST_SECRET"
        """)
        )
    cfg = ("--config", str(project))
    code, out, err = _run(capsys, "run", "hello", *cfg, "--json")
    assert code == 0, err
    code, out, err = _run(capsys, "runs", "list", *cfg, "--json")
    assert code == 0, err
    assert [item["graph_id"] for item in json.loads(out)["items"]] == ["hello"]
    code, _, err = _run(capsys, "serve", *cfg)
    assert code != 0
    assert "CLI_TEST_SECRET is not set" in err


def test_runs_show_prints_attempts_with_traceback_and_retry_links(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ("--config", str(project))
    code, out, _ = _run(capsys, "run", "boom", "--wait", "--json", "--idempotency-key", "b", *cfg)
    assert code == 1
    run_id = json.loads(out)["run_id"]
    code, out, _ = _run(capsys, "runs", "show", run_id, *cfg)
    assert code == 0
    assert "error" in out and "ValueError: boom went the graph" in out
    assert "attempt 1: failed" in out
    assert 'raise ValueError("boom went the graph")' in out  # the traceback, indented
    code, out, _ = _run(capsys, "runs", "retry", run_id, "--json", *cfg)
    assert code == 0
    retried = json.loads(out)
    assert retried["retry_of"] == run_id and retried["status"] == "pending"
    code, out, _ = _run(capsys, "runs", "show", retried["run_id"], "--json", *cfg)
    shown = json.loads(out)
    assert (shown["retry_of"], shown["idempotency_key"], shown["attempts"]) == (
        run_id,
        "b:retry:1",
        [],
    )
    code, _, err = _run(capsys, "runs", "retry", retried["run_id"], *cfg)
    assert code == 1 and "is pending, not finished" in err


# -- delayed runs: run --at / --in (issue 12) ---------------------------------------------------


def test_run_at_and_in_store_not_before(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime, timedelta

    cfg = ("--config", str(project))
    code, out, _ = _run(capsys, "run", "hello", "--at", "2099-12-05T14:05:00+01:00", "--json", *cfg)
    assert code == 0
    at_id = json.loads(out)["run_id"]
    before = datetime.now(UTC)
    code, out, _ = _run(capsys, "run", "hello", "--in", "10m", "--json", *cfg)
    after = datetime.now(UTC)
    assert code == 0
    in_id = json.loads(out)["run_id"]
    code, out, _ = _run(capsys, "runs", "show", at_id, "--json", *cfg)
    shown = json.loads(out)
    assert shown["status"] == "pending"
    assert datetime.fromisoformat(shown["not_before"]) == datetime(2099, 12, 5, 13, 5, tzinfo=UTC)
    code, out, _ = _run(capsys, "runs", "show", in_id, "--json", *cfg)
    due = datetime.fromisoformat(json.loads(out)["not_before"])
    assert before + timedelta(minutes=10) <= due <= after + timedelta(minutes=10)
    code, out, _ = _run(capsys, "runs", "cancel", at_id, "--json", *cfg)  # never starts
    assert code == 0 and json.loads(out)["status"] == "cancelled"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--at", "2026-12-05T14:05:00"), "--at '2026-12-05T14:05:00' has no UTC offset"),
        (("--at", "tomorrow"), "--at 'tomorrow' is not ISO-8601"),
        (("--in", "500ms"), "--in '500ms' is not a duration"),
        (("--in", "1.5"), "--in '1.5' is not a duration"),
    ],
)
def test_run_at_and_in_errors_name_the_flag(
    project: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, _, err = _run(capsys, "run", "hello", *argv, "--config", str(project))
    first, last = err.splitlines()  # the config/store line, then the one error line
    assert first.startswith(f"stargraph: config {project} (from --config); store sqlite:///")
    assert code == 1 and last.startswith("stargraph: error: " + message), err


def test_run_at_and_in_are_exclusive(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "hello", "--at", "2099-01-01T00:00:00Z", "--in", "1m", "-c", str(project)])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
