"""Quick benchmark gate: a reduced set of the benchmarks, on asyncio and trio, in minutes.

Run: ``nox -s bench`` (or ``.venv/bin/python benchmarks/gate.py``) with optional
``[--record] [--strict] [--repeat 3] [--backend asyncio|trio|both] [--only enqueue,http]``.

Each figure is a ratio against a baseline measured in the same run (the median of ``--repeat``
paired measurements), so it survives a noisy, shared machine better than a raw rate:

- ``enqueue``: scheduler stream of 5,000 durable enqueues / raw sqlite3 executemany (higher is
  better; ``scheduler_enqueue.py``);
- ``burndown_c16``: drain 2,000 no-op runs at the default ``max_concurrent_runs=16`` / raw SQL
  floor (higher is better; ``scheduler_burndown.py``);
- ``cron_burst_2000``: p99 lag of 2,000 cron fires due in the same second / p99 of a direct
  enqueue of the same requests (lower is better; ``cron_burst.py``);
- ``http_post``: sequential ``POST /v1/runs`` / ``GET /healthz`` of ``stargraph serve`` (higher
  is better; ``serve_http.py``).

Every figure is printed with the last recorded values from ``benchmarks/baseline.json``: the
gate's own last ``--record`` (same sizes: the reference) and the full-size figure recorded in
``benchmarks/README.md`` (context; the reference when the gate never recorded one). A ratio more
than 15 % worse than its reference is flagged ``WORSE``. Exit status: 0, unless ``--strict`` and a
figure got worse or failed (1). ``--record`` rewrites the gate values in ``baseline.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TOLERANCE = 0.15
ENQUEUE_RUNS = 5_000
BURN_RUNS = 2_000
BURN_CONCURRENCY = 16
CRON_FIRES = 2_000
HTTP_REQUESTS = 100

Result = tuple[float, str]  # (ratio, what was measured, for people)


def _db(folder: str, name: str) -> str:
    return f"sqlite:///{Path(folder) / name}"


def measure_enqueue(backend: str, repeat: int) -> Result:
    """Scheduler stream of ENQUEUE_RUNS durable enqueues against raw sqlite3 executemany."""
    from enqueue_load import stream
    from scheduler_enqueue import raw_insert

    raw: list[float] = []
    ours: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            raw.append(raw_insert(Path(tmp) / "raw.db", ENQUEUE_RUNS))
            ours.append(anyio.run(stream, _db(tmp, "s.db"), ENQUEUE_RUNS, backend=backend))
    detail = f"raw {statistics.median(raw):,.0f} rows/s, stream {statistics.median(ours):,.0f}/s"
    return _paired(ours, raw), detail


def measure_burndown(backend: str, repeat: int) -> Result:
    """Drain BURN_RUNS no-op runs at max_concurrent_runs=16 against the raw SQL floor."""
    from scheduler_burndown import burn, preload, raw_burn

    raw: list[float] = []
    ours: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("raw.db", "ours.db"):
                anyio.run(preload, _db(tmp, name), BURN_RUNS, backend=backend)
            raw.append(raw_burn(Path(tmp) / "raw.db", BURN_RUNS, BURN_CONCURRENCY))
            url = _db(tmp, "ours.db")
            ours.append(anyio.run(burn, url, BURN_RUNS, BURN_CONCURRENCY, backend=backend))
    detail = f"raw {statistics.median(raw):,.0f} runs/s, scheduler {statistics.median(ours):,.0f}/s"
    return _paired(ours, raw), detail


def measure_cron_burst(backend: str, repeat: int) -> Result:
    """p99 lag of CRON_FIRES same-second cron fires against a direct enqueue of them."""
    import cron_burst
    from cron_common import pct

    cron: list[list[float]] = []
    base: list[list[float]] = []
    for _ in range(repeat):
        cron.append(anyio.run(cron_burst._cron_run, CRON_FIRES, backend=backend))
        base.append(anyio.run(cron_burst._baseline_run, CRON_FIRES, backend=backend))

    def ms(runs: list[list[float]], p: float) -> float:
        return statistics.median(pct(lags, p) for lags in runs) * 1000

    detail = (
        f"cron p50/p99 {ms(cron, 50):.0f}/{ms(cron, 99):.0f} ms, "
        f"direct enqueue {ms(base, 50):.0f}/{ms(base, 99):.0f} ms"
    )
    return _paired([pct(x, 99) for x in cron], [pct(x, 99) for x in base]), detail


def measure_http(backend: str, repeat: int) -> Result:
    """Sequential POST /v1/runs against GET /healthz of ``stargraph serve`` on *backend*."""
    from serve_http import running_server, sequential

    with running_server(backend) as url:
        rates = sequential(url, HTTP_REQUESTS, repeat)
    post, healthz = rates["post_run"], rates["healthz"]
    detail = f"healthz {statistics.median(healthz):,.0f} req/s, POST {statistics.median(post):,.0f}"
    return _paired(post, healthz), detail


MEASURES: dict[str, Callable[[str, int], Result]] = {
    "enqueue": measure_enqueue,
    "burndown_c16": measure_burndown,
    "cron_burst_2000": measure_cron_burst,
    "http_post": measure_http,
}
LABELS = {
    "enqueue": "enqueue stream / raw sqlite3",
    "burndown_c16": "burn-down c=16 / raw SQL floor",
    "cron_burst_2000": "cron burst 2,000 p99 / direct",
    "http_post": "POST /v1/runs / GET /healthz",
}


def _paired(ours: list[float], base: list[float]) -> float:
    """Median of the per-repeat ratios (each pair measured back to back)."""
    return statistics.median(o / b for o, b in zip(ours, base, strict=True))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _reference(entry: dict[str, object]) -> tuple[float | None, str]:
    """The value a ratio is judged against: the gate's last record, else README's figure."""
    for source in ("gate", "readme"):
        recorded = entry.get(source)
        if isinstance(recorded, dict) and recorded.get("value") is not None:
            return float(recorded["value"]), source
    return None, "none"


def verdict(ratio: float, entry: dict[str, object]) -> str:
    """``ok``, ``better`` or ``WORSE`` (beyond TOLERANCE) against the entry's reference."""
    ref, source = _reference(entry)
    if ref is None:
        return "new (no reference)"
    change = ratio / ref - 1 if entry.get("better") == "higher" else ref / ratio - 1
    word = "WORSE" if change < -TOLERANCE else "better" if change > TOLERANCE else "ok"
    return f"{word} ({change:+.0%} vs {source})"


def _recorded(entry: dict[str, object], source: str) -> str:
    recorded = entry.get(source)
    if not isinstance(recorded, dict) or recorded.get("value") is None:
        return "-"
    return f"{float(recorded['value']):.2f}"


def run_figure(name: str, backend: str, repeat: int, entry: dict[str, object]) -> str | None:
    """Measure and print one figure; the verdict, or None if it failed."""
    started = time.perf_counter()
    try:
        ratio, detail = MEASURES[name](backend, repeat)
    except Exception:
        print(f"{name + '/' + backend:<24} FAILED:\n{traceback.format_exc(limit=3)}", flush=True)
        return None
    entry["_measured"] = {"value": round(ratio, 3), "detail": detail}
    judged = verdict(ratio, entry)
    print(
        f"{name + '/' + backend:<24} {LABELS[name]:<31} {ratio:6.2f}  "
        f"gate {_recorded(entry, 'gate'):>5}  README {_recorded(entry, 'readme'):>5}  "
        f"{judged:<22} | {detail} [{time.perf_counter() - started:.0f} s]",
        flush=True,
    )
    return judged


def record(baseline: dict[str, dict[str, object]], load: str) -> None:
    """Rewrite baseline.json with this run's ratios as the gate's last recorded values."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for entry in baseline.values():
        measured = entry.pop("_measured", None)
        if isinstance(measured, dict):
            entry["gate"] = {**measured, "recorded": stamp, "load_average": load}
    document = json.loads(BASELINE.read_text())
    document["figures"] = baseline
    BASELINE.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"recorded {BASELINE.relative_to(HERE.parent)} ({stamp})")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="rewrite the gate's values")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a figure got worse")
    parser.add_argument("--repeat", type=int, default=3, help="paired measurements per figure")
    parser.add_argument("--backend", default="both", choices=["asyncio", "trio", "both"])
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated figures")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    logging.getLogger("stargraph").setLevel(logging.WARNING)
    baseline: dict[str, dict[str, object]] = json.loads(BASELINE.read_text())["figures"]
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    start, load = time.perf_counter(), _load()
    print(f"quick benchmark gate, median of {args.repeat}, {os.cpu_count()} CPUs, load {load}")
    verdicts = [
        run_figure(name, backend, args.repeat, baseline.setdefault(f"{name}/{backend}", {}))
        for name in names
        for backend in backends
    ]
    print(f"done in {time.perf_counter() - start:.0f} s, load average now {_load()}")
    if args.record:
        record(baseline, load)
    bad = [v for v in verdicts if v is None or v.startswith("WORSE")]
    print(
        f"{len(bad)} figure(s) worse by more than {TOLERANCE:.0%} or failed"
        if bad
        else "no figure got worse"
    )
    return 1 if bad and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
