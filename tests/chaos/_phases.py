"""Phase bookkeeping for outage scenarios: answers per phase, health probes, recovery."""

from __future__ import annotations

import threading
import time
from collections import Counter

import attrs
import httpx

from ._harness import Load

RECOVERY_DEADLINE = 60.0  # seconds after the fault ends for the first 202 again
# Seconds a probe waits: health shares the listener with the abuse (a 2,000-connection storm
# queues ahead of it), and the box is loaded. The slowest answer is reported as `slowest`.
PROBE_DEADLINE = 15.0


@attrs.define
class Probe:
    """Polls ``/healthz`` and ``/readyz`` every 0.25 s; answers are kept per phase."""

    url: str
    phase: str = "before"
    seen: dict[str, Counter[str]] = attrs.field(factory=dict)
    slowest: float = 0.0
    _stop: threading.Event = attrs.field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Probe:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=PROBE_DEADLINE) as client:
            while not self._stop.is_set():
                for path in ("/healthz", "/readyz"):
                    start = time.monotonic()
                    try:
                        code = str(client.get(f"{self.url}{path}").status_code)
                    except httpx.HTTPError as exc:
                        code = type(exc).__name__
                    self.slowest = max(self.slowest, time.monotonic() - start)
                    self.seen.setdefault(self.phase, Counter())[f"{path} {code}"] += 1
                time.sleep(0.25)


def phase_codes(load: Load, start: Counter[str]) -> Counter[str]:
    """The load's answers since the snapshot *start*."""
    return Counter({k: v - start.get(k, 0) for k, v in load.codes.items() if v - start.get(k, 0)})


def wait_recovered(load: Load) -> float:
    """Seconds until the load gets a 202 again; fails after RECOVERY_DEADLINE."""
    start = time.monotonic()
    before = load.codes.get("202", 0)
    while load.codes.get("202", 0) <= before:
        if time.monotonic() - start > RECOVERY_DEADLINE:
            raise AssertionError(f"no 202 within {RECOVERY_DEADLINE} s after the fault ended")
        time.sleep(0.05)
    return time.monotonic() - start


def wait_ready_again(url: str) -> float | None:
    """Seconds until ``/readyz`` answers 200 (``None`` if not within RECOVERY_DEADLINE)."""
    start = time.monotonic()
    with httpx.Client(timeout=PROBE_DEADLINE) as client:
        while time.monotonic() - start < RECOVERY_DEADLINE:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    return None
