"""The body-deadline watchdog, without a server."""

from __future__ import annotations

from stargraph.triggers.webhook.deadlines import BodyDeadlines


class _Body:
    def __init__(self) -> None:
        self.completed = False

    def set_complete(self) -> None:
        self.completed = True


def test_expire_cuts_off_only_late_reads() -> None:
    d = BodyDeadlines()
    late, ok = _Body(), _Body()
    k1, w1 = d.watch(late, 1.0)
    k2, w2 = d.watch(ok, 100.0)
    assert d.expire(w1.deadline - 0.01) == 0
    assert d.expire(w1.deadline) == 1
    assert w1.timed_out and late.completed
    assert not w2.timed_out and not ok.completed
    d.done(k1)  # already gone: harmless
    d.done(k2)
    assert d.expire(w2.deadline + 1) == 0
