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
# Measured: slowloris and the storm add ~20 MiB, one accepted 10 MB run request ~95 MiB (its
# body, parsed params, encoded row and the result all live at once); the bound leaves room.
RSS_GROWTH_BOUND_MIB = 160
REFUSED_BODY_BOUND_MIB = 32  # the 100 MB body (over the 16 MiB limit) is refused, never read
# Bytes HTTP allows and the server rightly serves (obs-text in a header value).
TOLERATED = frozenset({"invalid UTF-8 in a header"})
SLOWLORIS_SECONDS = 5.0


@attrs.frozen
class Abuse:
    """Every answer the abusive clients got, the probes' answers and the server's RSS."""

    label: str
    answers: dict[str, Counter[str]]
    bad: dict[str, str]
    storm: tuple[int, int, int]
    probes: dict[str, Counter[str]]
    rss_base_kib: int
    rss_peak_kib: int
    rss_by_attack: dict[str, int]  # the peak (KiB) once each attack was over

    def context(self) -> str:
        return (
            f"{self.label} answers={ {k: dict(v) for k, v in self.answers.items()} } "
            f"bad={self.bad} storm={self.storm} probes={self.probes} "
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
                    node.port, chaos.slowloris_sockets, SLOWLORIS_SECONDS, body=body
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
        result = Abuse(label, answers, bad, stormed, dict(probe.seen), base, rss.peak, peaks)
        print(f"chaos {result.context()}")
        report(
            label, answers={k: dict(v) for k, v in answers.items()}, bad_inputs=bad,
            storm=stormed, rss_base_kib=base, rss_peak_kib=rss.peak, rss_by_attack=peaks,
            probes={k: dict(v) for k, v in probe.seen.items()},
        )  # fmt: skip
        yield result
    finally:
        node.stop()


def test_no_5xx_for_slow_huge_or_many_clients(abuse: Abuse) -> None:
    fives = {k: v for k, v in abuse.answers.items() if any(c.startswith("5") for c in v)}
    assert fives == {}, abuse.context()


@pytest.mark.xfail(
    strict=True,
    reason="issue 11 defect 10: deep JSON, a lone surrogate in a pause note and non-ASCII "
    "digits in ?limit= answer 500 (or are accepted)",
)
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


def test_memory_stays_bounded(abuse: Abuse) -> None:
    grew = (abuse.rss_peak_kib - abuse.rss_base_kib) / 1024
    assert grew < RSS_GROWTH_BOUND_MIB, f"RSS grew {grew:.0f} MiB ({abuse.context()})"
    if "100 MB body" in abuse.rss_by_attack:  # refused, never held
        held = abuse.rss_by_attack["100 MB body"] - abuse.rss_by_attack["10 MB body"]
        assert held / 1024 < REFUSED_BODY_BOUND_MIB, abuse.context()
