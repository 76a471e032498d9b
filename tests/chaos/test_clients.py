"""Slow and abusive clients against ``stargraph serve`` on both backends.

Slowloris heads and bodies, a 2,000-connection storm (``ci``: 500), 10 MB and 100 MB bodies
(``ci``: 10 MB), deep JSON, invalid UTF-8: no 5xx, ``/healthz`` and ``/readyz`` answering
throughout, and the server's resident memory bounded.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import attrs
import pytest

from ._abuse import bad_inputs, big_body, slowloris, storm
from ._harness import Node, report, seeded, size, write_project
from ._phases import Probe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(size().timeout)]
CONNECTION_BUDGET_KIB = 64  # resident memory one open (slow or storming) connection may cost
CONNECTION_SLACK_MIB = 16
ACCEPTED_BODY_FACTOR = 4  # an accepted body may cost this many times its size while handled
REFUSED_BODY_BOUND_MIB = 32  # the 100 MB body (over the 16 MiB limit) is refused, never read
# Bytes HTTP allows and the server rightly serves (obs-text in a header value).
TOLERATED = frozenset({"invalid UTF-8 in a header"})


@attrs.frozen
class Abuse:
    """Every answer the abusive clients got, the probes' answers and the server's RSS."""

    label: str
    answers: dict[str, Counter[str]]
    bad: dict[str, str]
    storm: tuple[int, int, int]
    probes: dict[str, Counter[str]]
    slowest_probe: float
    rss_base_kib: int
    rss_peak_kib: int
    rss_by_attack: dict[str, int]  # the peak (KiB) once each attack was over

    def context(self) -> str:
        return (
            f"{self.label} answers={ {k: dict(v) for k, v in self.answers.items()} } "
            f"bad={self.bad} storm={self.storm} probes={self.probes} "
            f"slowest probe={self.slowest_probe:.1f}s "
            f"rss={self.rss_base_kib}->{self.rss_peak_kib} KiB by attack {self.rss_by_attack}"
        )


class RssPeak:
    """Samples a process's RSS every 50 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, node: Node) -> None:
        self.node, self.peak = node, node.rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.node.rss_kib())


@pytest.fixture(scope="module")
def abuse(tmp_path_factory: pytest.TempPathFactory, anyio_backend: str) -> Iterator[Abuse]:
    label = f"clients-{anyio_backend}"
    seeded(label)  # nothing random here; printed for a uniform replay line
    folder = tmp_path_factory.mktemp(label)
    node = Node(write_project(folder), f"sqlite:///{folder / 'chaos.db'}", anyio_backend, "node")
    node.start()
    chaos = size()
    try:
        time.sleep(1.0)
        base = node.rss_kib()
        with Probe(node.url) as probe, RssPeak(node) as rss:
            answers: dict[str, Counter[str]] = {}
            peaks: dict[str, int] = {}
            for body in (False, True):
                name = f"slowloris {'bodies' if body else 'heads'} x{chaos.slowloris_sockets}"
                answers[name] = slowloris(
                    node.port, chaos.slowloris_sockets, chaos.slowloris_seconds, body=body
                )
                peaks[name] = rss.peak
            stormed = storm(node.port, chaos.storm_connections)
            peaks["storm"] = rss.peak
            bad = bad_inputs(node.port)
            peaks["bad inputs"] = rss.peak
            for mb in chaos.big_bodies_mb:
                answers[f"{mb} MB body"] = Counter([big_body(node.port, mb)])
                time.sleep(0.5)
                peaks[f"{mb} MB body"] = rss.peak
        result = Abuse(
            label, answers, bad, stormed, dict(probe.seen), probe.slowest, base, rss.peak, peaks
        )
        print(f"chaos {result.context()}")
        report(
            label, answers={k: dict(v) for k, v in answers.items()}, bad_inputs=bad,
            storm=stormed, rss_base_kib=base, rss_peak_kib=rss.peak, rss_by_attack=peaks,
            probes={k: dict(v) for k, v in probe.seen.items()},
            slowest_probe_s=round(probe.slowest, 2),
        )  # fmt: skip
        yield result
    finally:
        node.stop()


def test_no_5xx_for_slow_huge_or_many_clients(abuse: Abuse) -> None:
    fives = {k: v for k, v in abuse.answers.items() if any(c.startswith("5") for c in v)}
    assert fives == {}, abuse.context()


def test_bad_inputs_get_a_clear_4xx_never_5xx(abuse: Abuse) -> None:
    wrong = {
        name: status
        for name, status in abuse.bad.items()
        if not status.startswith("4") and name not in TOLERATED
    }
    assert wrong == {}, abuse.context()


def test_tolerated_oddities_are_served(abuse: Abuse) -> None:
    for name in TOLERATED:
        assert abuse.bad[name] == "200", abuse.context()


def test_big_bodies_are_answered(abuse: Abuse) -> None:
    for mb in size().big_bodies_mb:
        (status,) = abuse.answers[f"{mb} MB body"]
        assert status == ("202" if mb < 16 else "413"), abuse.context()


def test_storm_is_answered_in_full(abuse: Abuse) -> None:
    answered, failed, pending = abuse.storm
    assert (failed, pending) == (0, 0), abuse.context()
    assert answered == size().storm_connections


def test_health_answers_throughout(abuse: Abuse) -> None:
    seen = abuse.probes.get("before", Counter())
    bad = {k: n for k, n in seen.items() if not k.endswith(" 200")}
    assert bad == {}, abuse.context()
    assert seen["/healthz 200"] > 10, abuse.context()


def test_connections_cost_bounded_memory(abuse: Abuse) -> None:
    chaos = size()
    connections = 2 * chaos.slowloris_sockets + chaos.storm_connections
    grew_kib = abuse.rss_by_attack["bad inputs"] - abuse.rss_base_kib
    bound_kib = connections * CONNECTION_BUDGET_KIB + CONNECTION_SLACK_MIB * 1024
    assert grew_kib < bound_kib, f"{connections} connections: +{grew_kib} KiB ({abuse.context()})"


def test_a_refused_huge_body_is_never_held(abuse: Abuse) -> None:
    if "100 MB body" not in abuse.rss_by_attack:
        pytest.skip("the 100 MB body runs at STARGRAPH_CHAOS=full (nox -s chaos)")
    held = abuse.rss_by_attack["100 MB body"] - abuse.rss_by_attack["10 MB body"]
    assert held / 1024 < REFUSED_BODY_BOUND_MIB, abuse.context()


@pytest.mark.xfail(
    strict=True,
    reason="issue 11 chaos finding (not a numbered defect): one accepted 10 MB run request "
    "raises the server's RSS by ~95 MiB (body, parsed params, encoded row held at once)",
)
def test_an_accepted_big_body_costs_a_few_times_its_size(abuse: Abuse) -> None:
    grew_kib = abuse.rss_by_attack["10 MB body"] - abuse.rss_by_attack["bad inputs"]
    assert grew_kib < ACCEPTED_BODY_FACTOR * 10 * 1024, abuse.context()
