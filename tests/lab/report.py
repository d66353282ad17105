"""The report a lab scenario writes inside the guest and the host reads back.

It travels as JSON in the guest's ``out/`` directory (``report.json``): named checks with a
status and a detail, the seed's validation outputs (the ``/clientip`` answers and the
captured VXLAN lines), the fault and crash points the faults scenario tried (for the
reliability report, :mod:`tests.reliability.report`) and the measured timings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

Status = Literal["PASS", "FAIL", "SKIP"]
REPORT_FILE = "report.json"


class Check(msgspec.Struct, frozen=True):
    """One named check; ``id`` is stable (tests select checks by it), ``title`` is for people."""

    id: str
    title: str
    status: Status
    detail: str = ""


class Trial(msgspec.Struct, frozen=True):
    """One fault injected (``fault``) or one point pe-plan was killed at (``crash``), and
    what was wrong afterwards (nothing: empty)."""

    kind: Literal["fault", "crash"]
    point: str
    problems: list[str] = msgspec.field(default_factory=list)


class Report(msgspec.Struct):
    """Everything one scenario run found out."""

    scenario: str
    router_setup: str
    checks: list[Check] = msgspec.field(default_factory=list)
    answers: dict[str, str] = msgspec.field(default_factory=dict)
    capture: dict[str, list[str]] = msgspec.field(default_factory=dict)
    timings: dict[str, float] = msgspec.field(default_factory=dict)
    trials: list[Trial] = msgspec.field(default_factory=list)
    error: str = ""

    def add(self, check_id: str, title: str, passed: bool | None, detail: str = "") -> Check:
        """Record a check: ``passed`` None means skipped (not applicable in this run)."""
        status: Status = "SKIP" if passed is None else "PASS" if passed else "FAIL"
        check = Check(check_id, title, status, detail)
        self.checks.append(check)
        return check

    def skip_all(self, checks: Iterable[tuple[str, str]], reason: str) -> None:
        """Record every one of ``checks`` (id, title) as skipped, for ``reason``."""
        for check_id, title in checks:
            self.add(check_id, title, None, reason)

    def check(self, check_id: str) -> Check | None:
        """The check with this id, if the run got that far."""
        return next((c for c in self.checks if c.id == check_id), None)

    @property
    def passed(self) -> bool:
        """True when nothing failed and the run was not cut short by an error."""
        return not self.error and all(c.status != "FAIL" for c in self.checks)


def encode(report: Report) -> bytes:
    return msgspec.json.encode(report)


def decode(data: bytes) -> Report:
    return msgspec.json.decode(data, type=Report)
