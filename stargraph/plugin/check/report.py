"""Results of ``stargraph plugins check``: one :class:`CheckResult` per check, and the verdict."""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["CheckReport", "CheckResult", "Status"]


class Status(enum.StrEnum):
    """How one check came out."""

    passed = "pass"
    failed = "fail"
    not_applicable = "n/a"


@attrs.frozen(kw_only=True)
class CheckResult:
    """One check on one backend (``None`` for checks that do not depend on it)."""

    check: str
    status: Status
    reason: str
    fix: str | None = None
    backend: str | None = None

    def line(self) -> str:
        """``PASS  asyncio  start-stop  reason — fix: ...`` (one line for people)."""
        where = self.backend or "-"
        text = f"{self.status.value.upper():<4}  {where:<7}  {self.check:<12}  {self.reason}"
        return f"{text} -- fix: {self.fix}" if self.fix else text

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return {
            "check": self.check,
            "backend": self.backend,
            "status": self.status.value,
            "reason": self.reason,
            "fix": self.fix,
        }


@attrs.frozen(kw_only=True)
class CheckReport:
    """Every result for one plugin; ``ok`` when none failed."""

    plugin: str
    results: tuple[CheckResult, ...]
    asyncio_only: bool = False

    @property
    def failed(self) -> list[CheckResult]:
        """The results that failed."""
        return [r for r in self.results if r.status is Status.failed]

    @property
    def ok(self) -> bool:
        """True when no check failed (not-applicable ones do not count against it)."""
        return not self.failed

    def result(self, check: str, backend: str | None = None) -> CheckResult:
        """The result of *check* (on *backend*); KeyError when there is none."""
        for r in self.results:
            if r.check == check and (backend is None or r.backend == backend):
                return r
        raise KeyError(f"no result for check {check!r} on {backend!r}")

    def verdict(self) -> str:
        """One line: passed, asyncio only, or how many checks failed."""
        if self.failed:
            names = ", ".join(sorted({f"{r.check}" for r in self.failed}))
            return f"FAILED: {len(self.failed)} check(s) failed ({names})"
        return "passed (asyncio only)" if self.asyncio_only else "passed"

    def text(self) -> str:
        """The report for people: a line per check, then the verdict."""
        lines = [f"plugin {self.plugin}", *(r.line() for r in self.results)]
        return "\n".join([*lines, f"verdict: {self.verdict()}"])

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON object (``--json``)."""
        return {
            "plugin": self.plugin,
            "ok": self.ok,
            "asyncio_only": self.asyncio_only,
            "verdict": self.verdict(),
            "results": [r.to_json() for r in self.results],
        }
