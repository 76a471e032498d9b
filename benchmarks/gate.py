"""Quick benchmark gate: a reduced set of the benchmarks, on asyncio and trio, in minutes.

Run: ``nox -s bench`` (or ``.venv/bin/python benchmarks/gate.py``) with optional
``[--record] [--strict] [--repeat 3] [--backend asyncio|trio|both] [--only enqueue,http]``.

Each figure is a ratio against a baseline measured in the same run (median over median of
``--repeat`` back-to-back pairs), so it survives a noisy, shared machine better than a raw rate;
a figure that looks worse is measured once more and judged on all its pairs:

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
from dataclasses import dataclass
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

Samples = dict[str, list[float]]  # "ours" and "base" (one value per repeat), plus extras


def _db(folder: str, name: str) -> str:
    return f"sqlite:///{Path(folder) / name}"


def measure_enqueue(backend: str, repeat: int) -> Samples:
    """Scheduler stream of ENQUEUE_RUNS durable enqueues against raw sqlite3 executemany."""
    from enqueue_load import stream
    from scheduler_enqueue import raw_insert

    samples: Samples = {"ours": [], "base": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            samples["base"].append(raw_insert(Path(tmp) / "raw.db", ENQUEUE_RUNS))
            rate = anyio.run(stream, _db(tmp, "s.db"), ENQUEUE_RUNS, backend=backend)
            samples["ours"].append(rate)
    return samples


def measure_burndown(backend: str, repeat: int) -> Samples:
    """Drain BURN_RUNS no-op runs at max_concurrent_runs=16 against the raw SQL floor."""
    from scheduler_burndown import burn, preload, raw_burn

    samples: Samples = {"ours": [], "base": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("raw.db", "ours.db"):
                anyio.run(preload, _db(tmp, name), BURN_RUNS, backend=backend)
            samples["base"].append(raw_burn(Path(tmp) / "raw.db", BURN_RUNS, BURN_CONCURRENCY))
            url = _db(tmp, "ours.db")
            rate = anyio.run(burn, url, BURN_RUNS, BURN_CONCURRENCY, backend=backend)
            samples["ours"].append(rate)
    return samples


def measure_cron_burst(backend: str, repeat: int) -> Samples:
    """Lag (ms) of CRON_FIRES same-second cron fires against a direct enqueue of them."""
    import cron_burst
    from cron_common import pct

    samples: Samples = {"ours": [], "base": [], "ours_p50": [], "base_p50": []}
    for _ in range(repeat):
        for key, run in (("ours", cron_burst._cron_run), ("base", cron_burst._baseline_run)):
            lags = anyio.run(run, CRON_FIRES, backend=backend)
            samples[key].append(pct(lags, 99) * 1000)
            samples[f"{key}_p50"].append(pct(lags, 50) * 1000)
    return samples


def measure_http(backend: str, repeat: int) -> Samples:
    """Sequential POST /v1/runs against GET /healthz of ``stargraph serve`` on *backend*."""
    from serve_http import running_server, sequential

    with running_server(backend) as url:
        rates = sequential(url, HTTP_REQUESTS, repeat)
    return {"ours": rates["post_run"], "base": rates["healthz"]}


@dataclass(frozen=True)
class Figure:
    """One gate figure: what it compares, how to measure it, how to show its medians."""

    label: str
    measure: Callable[[str, int], Samples]
    detail: str


FIGURES: dict[str, Figure] = {
    "enqueue": Figure(
        "enqueue stream / raw sqlite3",
        measure_enqueue,
        "raw {base:,.0f} rows/s, stream {ours:,.0f}/s",
    ),
    "burndown_c16": Figure(
        "burn-down c=16 / raw SQL floor",
        measure_burndown,
        "raw {base:,.0f} runs/s, scheduler {ours:,.0f}/s",
    ),
    "cron_burst_2000": Figure(
        "cron burst 2,000 p99 / direct",
        measure_cron_burst,
        "cron p50/p99 {ours_p50:.0f}/{ours:.0f} ms, direct enqueue {base_p50:.0f}/{base:.0f} ms",
    ),
    "http_post": Figure(
        "POST /v1/runs / GET /healthz",
        measure_http,
        "healthz {base:,.0f} req/s, POST {ours:,.0f}",
    ),
}


def ratio_of(samples: Samples) -> float:
    """Median of ours over median of the same run's baseline."""
    return statistics.median(samples["ours"]) / statistics.median(samples["base"])


def describe(figure: Figure, samples: Samples) -> str:
    """The medians behind the ratio, and the spread of the back-to-back pairs' ratios."""
    medians = {key: statistics.median(values) for key, values in samples.items()}
    pairs = [o / b for o, b in zip(samples["ours"], samples["base"], strict=True)]
    spread = f"pairs {min(pairs):.2f}-{max(pairs):.2f}, n={len(pairs)}"
    return f"{figure.detail.format(**medians)} ({spread})"


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


def _measure_judged(
    name: str, backend: str, repeat: int, entry: dict[str, object]
) -> tuple[Samples, str]:
    """Measure a figure; if it looks WORSE, measure it again and judge all pairs together."""
    figure = FIGURES[name]
    samples = figure.measure(backend, repeat)
    judged = verdict(ratio_of(samples), entry)
    if judged.startswith("WORSE"):
        for key, values in figure.measure(backend, repeat).items():
            samples[key].extend(values)
        judged = verdict(ratio_of(samples), entry)
    return samples, judged


def run_figure(name: str, backend: str, repeat: int, entry: dict[str, object]) -> str | None:
    """Measure and print one figure; the verdict, or None if it failed."""
    started = time.perf_counter()
    try:
        samples, judged = _measure_judged(name, backend, repeat, entry)
    except Exception:
        print(f"{name + '/' + backend:<24} FAILED:\n{traceback.format_exc(limit=3)}", flush=True)
        return None
    ratio, detail = ratio_of(samples), describe(FIGURES[name], samples)
    entry["_measured"] = {"value": round(ratio, 3), "detail": detail}
    print(
        f"{name + '/' + backend:<24} {FIGURES[name].label:<31} {ratio:6.2f}  "
        f"gate {_recorded(entry, 'gate'):>5}  README {_recorded(entry, 'readme'):>5}  "
        f"{judged:<22} | {detail} [{time.perf_counter() - started:.0f} s, load {_load()}]",
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
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    logging.getLogger("stargraph").setLevel(logging.WARNING)
    baseline: dict[str, dict[str, object]] = json.loads(BASELINE.read_text())["figures"]
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := sorted(set(names) - set(FIGURES)):
        raise SystemExit(f"--only: unknown figure(s) {unknown}; choose from {sorted(FIGURES)}")
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
