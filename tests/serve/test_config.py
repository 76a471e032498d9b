"""Config parsing: defaults, every section, env overrides, and located errors."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from stargraph.config import load_config, parse_bind
from stargraph.errors import ConfigError


def _write(tmp_path: Path, text: str, name: str = "stargraph.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_defaults_without_a_file() -> None:
    cfg = load_config(None, env={})
    assert cfg.store.url == "sqlite:///stargraph.db"
    assert cfg.serve.bind == "127.0.0.1:8080"
    assert cfg.serve.backend == "asyncio"
    assert cfg.serve.api_token is None
    assert cfg.scheduler.max_concurrent_runs == 16
    assert cfg.graphs == () and cfg.cron == () and cfg.webhook == ()


def test_full_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()  # the store's folder must exist (the file is created)
    path = _write(
        tmp_path,
        """
        [store]
        url = "sqlite:///data/runs.db"
        [serve]
        bind = "0.0.0.0:9000"
        backend = "trio"
        graceful_timeout = 3
        api_token_env = "MY_TOKEN"
        allow_insecure_bind = true
        [scheduler]
        max_concurrent_runs = 4
        lease_seconds = 12.5
        retention_days = 1
        [graphs.nightly]
        target = "reports:nightly"
        concurrency = 1
        timeout = 300
        max_attempts = 3
        [plugins]
        disable = ["x:stargraph.triggers:noisy"]
        [deps]
        fswatch_path = "/srv/inbox"
        nested = { a = 1 }
    """,
    )
    cfg = load_config(path, env={"MY_TOKEN": "s3cret"})
    assert cfg.store.url == f"sqlite:///{tmp_path / 'data/runs.db'}"  # relative to the file
    assert (cfg.serve.bind, cfg.serve.backend, cfg.serve.graceful_timeout) == (
        "0.0.0.0:9000",
        "trio",
        3.0,
    )
    assert cfg.serve.api_token == "s3cret" and cfg.serve.allow_insecure_bind
    assert "s3cret" not in repr(cfg)
    assert cfg.scheduler.max_concurrent_runs == 4 and cfg.scheduler.lease_seconds == 12.5
    (graph,) = cfg.graphs
    pol = graph.policy
    assert (graph.graph_id, graph.target, pol.concurrency, pol.timeout, pol.max_attempts) == (
        "nightly",
        "reports:nightly",
        1,
        300.0,
        3,
    )
    assert cfg.plugins.disable == ("x:stargraph.triggers:noisy",)
    assert cfg.deps == {"fswatch_path": "/srv/inbox", "nested": {"a": 1}}
    assert cfg.runtime_deps()["fswatch_path"] == "/srv/inbox"
    assert cfg.runtime_deps()["cron_specs"] == [] and cfg.runtime_deps()["webhook_specs"] == []


def test_env_overrides_store_and_bind(tmp_path: Path) -> None:
    path = _write(tmp_path, '[serve]\nbind = "127.0.0.1:1"\n')
    env = {"STARGRAPH_STORE": "postgresql://u@h/db", "STARGRAPH_BIND": "127.0.0.1:7777"}
    cfg = load_config(path, env=env)
    assert cfg.store.url == "postgresql://u@h/db"
    assert cfg.serve.bind == "127.0.0.1:7777"


def test_default_token_variable_is_read(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""), env={"STARGRAPH_API_TOKEN": "t"})
    assert cfg.serve.api_token == "t" and cfg.serve.api_token_env == "STARGRAPH_API_TOKEN"


def test_bad_env_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="STARGRAPH_BIND: expected HOST:PORT"):
        load_config(None, env={"STARGRAPH_BIND": "nonsense"})
    with pytest.raises(ConfigError, match="STARGRAPH_STORE: store URL must start"):
        load_config(None, env={"STARGRAPH_STORE": "mysql://x"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[serve]\nbackend = 'curio'", "serve.backend: must be one of asyncio, trio, got 'curio'"),
        ("[serve]\nbind = 'localhost'", "serve.bind: expected HOST:PORT"),
        ("[serve]\ngraceful_timeout = -1", "serve.graceful_timeout: must be a finite number >= 0"),
        ("[serve]\nport = 1", "serve.port: unknown key; expected one of"),
        (
            "[scheduler]\nmax_concurrent_runs = 0",
            "scheduler.max_concurrent_runs: must be at least 1",
        ),
        ("[scheduler]\nlease_seconds = 'x'", "scheduler.lease_seconds: must be a number, got str"),
        ("[scheduler]\nmax_concurrent_runs = true", "must be an integer, got True"),
        ("[store]\nurl = 'redis://x'", "store.url: store URL must start with sqlite:///"),
        ("[graphs.g]\ntarget = 'nocolon'", "graphs.g.target: must be 'module:callable'"),
        ("[graphs.g]\nconcurrency = 1", "graphs.g.target: is required"),
        ("[graphs.g]\ntarget = 'm:f'\nretries = 2", "graphs.g.retries: unknown key"),
        ("[plugins]\ndisable = [1]", "plugins.disable: must hold only strings"),
        ("[serve]\napi_token_env = 'NOPE_TOKEN'", "environment variable NOPE_TOKEN is not set"),
        ("[servr]\n", "servr: unknown key"),
        ("cron = 3", "cron: must be an array of tables"),
        (
            "[[webhook]]\npath='/x'\ngraph_id='g'\nscheme='github'",
            "webhook[0].secret_env: is required",
        ),
        ("x = = 1", "invalid TOML"),
    ],
)
def test_invalid_values_name_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config("nope.toml", env={})


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:0", ("::1", 0)),
        ("example.org:443", ("example.org", 443)),
    ],
)
def test_parse_bind(text: str, result: tuple[str, int]) -> None:
    assert parse_bind(text) == result


@pytest.mark.parametrize("text", ["8080", ":80", "h:", "h:x", "h:70000"])
def test_parse_bind_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_bind(text)


def test_cron_and_webhook_entries(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [[cron]]
        trigger_id = "cron:nightly"
        schedule = "0 2 * * *"
        tz = "America/New_York"
        graph_id = "nightly"
        params = { feed = "nvd" }
        missed_fire_policy = "skip"
        catchup_window = 3600
        start_at = 2026-01-01T00:00:00Z
        [[webhook]]
        trigger_id = "webhook:github"
        path = "/v1/webhooks/github"
        graph_id = "on_push"
        scheme = "github"
        secret_env = "GH_SECRET"
        previous_secret_env = "GH_SECRET_OLD"
        params = "raw"
    """,
    )
    cfg = load_config(path, env={"GH_SECRET": "new-secret", "GH_SECRET_OLD": "old-secret"})
    (cron,) = cfg.cron
    assert (cron.trigger_id, cron.schedule, cron.tz, cron.graph_id) == (
        "cron:nightly",
        "0 2 * * *",
        "America/New_York",
        "nightly",
    )
    assert cron.params == {"feed": "nvd"} and cron.missed_fire_policy == "skip"
    assert cron.catchup_window.total_seconds() == 3600 and cron.start_at is not None
    (hook,) = cfg.webhook
    assert (hook.trigger_id, hook.path, hook.scheme, hook.params) == (
        "webhook:github",
        "/v1/webhooks/github",
        "github",
        "raw",
    )
    assert hook.secrets == ("new-secret", "old-secret")
    assert "secret" not in repr(hook).replace("secret_env", "")
    assert cfg.runtime_deps()["cron_specs"] == [cron]
    assert cfg.runtime_deps()["webhook_specs"] == [hook]


_HOOK = "[[webhook]]\ntrigger_id='w'\npath='/h'\ngraph_id='g'\nsecret_env='HOOK_SECRET'\n"
_CRON = "[[cron]]\ntrigger_id='c'\ngraph_id='g'\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_CRON + "schedule='61 * * * *'", "cron[0]: "),
        (_CRON + "schedule='* * * * *'\ntz='Mars/Olympus'", "cron[0].tz: unknown time zone"),
        (_CRON + "schedule='* * * * *'\nmissed_fire_policy='all'", "cron[0].missed_fire_policy"),
        (_CRON + "schedule='* * * * *'\nstart_at=2026-01-01T00:00:00", "cron[0].start_at: must be"),
        (_CRON + "schedule='* * * * *'\nevery=3", "cron[0].every: unknown key"),
        (
            _CRON + "schedule='* * * * *'\n" + _CRON + "schedule='* * * * *'",
            "cron[1].trigger_id: duplicate value 'c'",
        ),
        (
            _HOOK.replace("HOOK_SECRET", "UNSET_SECRET"),
            "webhook[0].secret_env: environment variable UNSET_SECRET is not set or empty",
        ),
        (
            _HOOK + "previous_secret_env='EMPTY_SECRET'",
            "webhook[0].previous_secret_env: environment variable EMPTY_SECRET is not set or empty",
        ),
        (_HOOK + "scheme='paypal'", "webhook[0].scheme: must be one of"),
        (_HOOK.replace("'/h'", "'h'"), "webhook[0].path: must start with '/'"),
        (_HOOK + "tolerance_seconds=0", "webhook[0].tolerance_seconds: must be at least 1"),
        (_HOOK + "params='nocolon.thing'", "webhook[0]: "),
        (_HOOK + _HOOK.replace("'w'", "'w2'"), "webhook[1].path: duplicate value '/h'"),
        (
            _CRON + "schedule='* * * * *'\n" + _HOOK.replace("'w'", "'c'"),
            "trigger_id 'c' is used by more than one trigger",
        ),
    ],
)
def test_invalid_trigger_entries(tmp_path: Path, text: str, expected: str) -> None:
    env = {"HOOK_SECRET": "s3cret-value", "EMPTY_SECRET": ""}
    message = _error(tmp_path, text, env)
    assert expected in message
    assert "s3cret-value" not in message


def test_graph_targets_import_from_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "cfg_graphs_mod.py").write_text(
        "def work(params, ctx):\n    return 1\nnot_callable = 3\n"
    )
    path = _write(
        tmp_path,
        """
        [graphs.work]
        target = "cfg_graphs_mod:work"
        max_attempts = 2
    """,
    )
    (graph,) = load_config(path, env={}).load_graphs()
    assert graph.graph_id == "work" and graph.fn(None, None) == 1
    assert graph.policy.max_attempts == 2


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("no_such_module_xyz:f", "graphs.g.target: cannot import module 'no_such_module_xyz'"),
        (
            "cfg_graphs_mod2:missing",
            "graphs.g.target: 'cfg_graphs_mod2' has no attribute 'missing'",
        ),
        ("cfg_graphs_mod2:not_callable", "is a int, not a callable"),
    ],
)
def test_bad_graph_targets(tmp_path: Path, target: str, expected: str) -> None:
    (tmp_path / "cfg_graphs_mod2.py").write_text("not_callable = 3\n")
    path = _write(tmp_path, f'[graphs.g]\ntarget = "{target}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}).load_graphs()
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_from_config_rejects_triggers_of_unknown_graphs(tmp_path: Path) -> None:
    from stargraph.runtime import Runtime

    (tmp_path / "cfg_graphs_mod3.py").write_text("def work(params, ctx):\n    return 1\n")
    path = _write(
        tmp_path,
        """
        [graphs.work]
        target = "cfg_graphs_mod3:work"
        [[cron]]
        trigger_id = "c"
        schedule = "* * * * *"
        graph_id = "work"
        [[cron]]
        trigger_id = "d"
        schedule = "* * * * *"
        graph_id = "wrok"
    """,
    )
    with pytest.raises(ConfigError) as info:
        Runtime.from_config(load_config(path, env={}))
    assert str(info.value).startswith(f"{path}: cron[1].graph_id: unknown graph 'wrok'")


def test_webhooks_can_be_left_out(tmp_path: Path) -> None:
    """``webhooks=False`` skips the entries and never reads their secret variables."""
    file = tmp_path / "stargraph.toml"
    file.write_text(
        '[[webhook]]\ntrigger_id = "webhook:a"\npath = "/a"\ngraph_id = "g"\n'
        'secret_env = "UNSET_SECRET_VAR"\n'
    )
    with pytest.raises(ConfigError, match="UNSET_SECRET_VAR is not set"):
        load_config(file, env={})
    assert load_config(file, env={}, webhooks=False).webhook == ()


def test_scheduler_and_graph_tables_build_the_domain_classes(tmp_path: Path) -> None:
    """Every ``SchedulerSettings``/``RunPolicy`` field is a key; defaults come from the class."""
    from stargraph.scheduler import RunPolicy, SchedulerSettings

    path = _write(
        tmp_path,
        """
        [serve]
        graceful_timeout = 4
        [scheduler]
        heartbeat_interval = 2
        batch_size = 50
        [graphs.g]
        target = "m:f"
        backoff_base = 2
        backoff_max = 30
        jitter = 0
        [graphs.h]
        target = "m:h"
    """,
    )
    cfg = load_config(path, env={})
    assert cfg.scheduler == SchedulerSettings(
        heartbeat_interval=2.0, batch_size=50, shutdown_grace=4
    )
    assert cfg.scheduler_settings() is cfg.scheduler
    g, h = cfg.graphs
    assert g.policy == RunPolicy(backoff_base=2.0, backoff_max=30.0, jitter=0.0)
    assert isinstance(g.policy.backoff_base, float)
    assert (h.graph_id, h.target, h.policy) == ("h", "m:h", RunPolicy())
    assert load_config(None, env={}).scheduler == SchedulerSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[scheduler]\nshutdown_grace = 3",
            "scheduler.shutdown_grace: set [serve] graceful_timeout",
        ),
        (
            "[scheduler]\nlease_seconds = -1",
            "scheduler.lease_seconds: must be a finite number above 0",
        ),
        (
            "[scheduler]\nbatch_size = 1.5",
            "scheduler.batch_size: must be an integer, got float 1.5",
        ),
        ("[scheduler]\nheartbeat_interval = 0", "scheduler.heartbeat_interval: must be a finite"),
        (
            "[graphs.g]\ntarget = 'm:f'\ntimeout = 0",
            "graphs.g.timeout: must be a finite number above",
        ),
        ("[graphs.g]\ntarget = 'm:f'\nretry_on = ['E']", "graphs.g.retry_on: unknown key"),
        (
            "[graphs.g]\ntarget = 'm:f'\njitter = -1",
            "graphs.g.jitter: must be a finite number >= 0",
        ),
        ("[[cron]]\ntrigger_id = 'c'\ngraph_id = 'g'", "cron[0].schedule: is required"),
        (_CRON + "schedule='* * * * *'\ncatchup_window=-1", "cron[0].catchup_window: must be a"),
        (_CRON + "schedule='* * * * *'\nfall_back='last'", "cron[0].fall_back: must be one of"),
        (_CRON + "schedule='* * * * *'\npaused=1", "cron[0].paused: must be true or false"),
    ],
)
def test_domain_validation_is_located_in_the_file(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_triggers_parse_their_own_tables() -> None:
    """``CronSpec.from_table`` / ``WebhookSpec.from_table`` work without the whole loader."""
    from stargraph._table import Table
    from stargraph.triggers.cron import CronSpec
    from stargraph.triggers.webhook import WebhookSpec

    cron = Table(
        {"trigger_id": "c", "schedule": "@daily", "graph_id": "g", "catchup_window": 0},
        source="x.toml",
        prefix="cron[3]",
    )
    spec = CronSpec.from_table(cron)
    assert spec == CronSpec(
        trigger_id="c", schedule="@daily", graph_id="g", catchup_window=timedelta(0)
    )
    assert spec.catchup_window.total_seconds() == 0 and spec.tz == "UTC"
    hook = Table(
        {"trigger_id": "w", "path": "/w", "graph_id": "g", "secret_env": "S"},
        source="x.toml",
        prefix="webhook[0]",
    )
    made = WebhookSpec.from_table(hook, {"S": "a-secret-value"})
    assert made == WebhookSpec(trigger_id="w", path="/w", graph_id="g", secrets=("a-secret-value",))
    with pytest.raises(ConfigError, match=r"^x\.toml: webhook\[0\]\.secret_env: environment"):
        WebhookSpec.from_table(hook, {})
