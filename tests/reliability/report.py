"""The reliability report: what the suite tried to break, and what survived, in numbers.

A pytest plugin (registered by ``tests/conftest.py``), so that the report comes at the end
of every run that includes these tests, ``make test`` too. Tests record into it through the
``reliability_report`` fixture:

* ``record_fuzz(outcome)``: one input given to the CLI, and how it ended (``Outcome``);
* ``record_crash_point(leftovers)``: pe-plan killed at one point of an apply, and what was
  left behind once the test's own cleanup check ran (empty when nothing);
* ``record_fault(leftovers)``: one injected fault (disk full, FRR gone, a rejected line,
  a concurrent run...), likewise.

"Left behind" means stray links or namespaces, FRR daemons, journal, lock or snapshot files:
the strings name them. A run that records nothing prints no report.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence

import pytest

SUMMARY_WIDTH = 160


class Outcome(enum.Enum):
    """How the CLI ended on one fuzzed input."""

    ACCEPTED = "accepted"
    REJECTED = "rejected cleanly"
    TRACEBACK = "tracebacks"
    HANG = "hangs"


class ReliabilityReport:
    """Counters for one pytest session."""

    def __init__(self) -> None:
        self.fuzz: Counter[Outcome] = Counter()
        self.crash_points = 0
        self.crash_leftovers: list[str] = []
        self.faults = 0
        self.fault_leftovers: list[str] = []

    def record_fuzz(self, outcome: Outcome) -> None:
        self.fuzz[outcome] += 1

    def record_crash_point(self, leftovers: Sequence[str]) -> None:
        self.crash_points += 1
        if leftovers:
            self.crash_leftovers.append(_summary(leftovers))

    def record_fault(self, leftovers: Sequence[str]) -> None:
        self.faults += 1
        if leftovers:
            self.fault_leftovers.append(_summary(leftovers))

    @property
    def empty(self) -> bool:
        return not (self.fuzz or self.crash_points or self.faults)

    def lines(self) -> list[str]:
        fuzzed = ", ".join(
            f"{outcome.value} {self.fuzz[outcome]}"
            for outcome in (Outcome.REJECTED, Outcome.ACCEPTED, Outcome.TRACEBACK, Outcome.HANG)
        )
        lines = [
            "pe-plan reliability report",
            _row("inputs fuzzed", sum(self.fuzz.values()), fuzzed),
            _row(
                "crash points tested",
                self.crash_points,
                f"left something behind: {len(self.crash_leftovers)}",
            ),
            _row(
                "faults injected",
                self.faults,
                f"left something behind: {len(self.fault_leftovers)}",
            ),
        ]
        lines += [
            f"    left behind: {what}" for what in self.crash_leftovers + self.fault_leftovers
        ]
        return lines


def _summary(leftovers: Sequence[str]) -> str:
    """One line: the first line of each item (a node's difference can be long)."""
    return "; ".join(item.partition("\n")[0][:SUMMARY_WIDTH] for item in leftovers)


def _row(label: str, count: int, detail: str) -> str:
    return f"  {label} {'.' * (24 - len(label))} {count:>5} ({detail})"


_KEY = pytest.StashKey[ReliabilityReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEY] = ReliabilityReport()


@pytest.fixture
def reliability_report(request: pytest.FixtureRequest) -> ReliabilityReport:
    """The session's report; record what the test tried into it."""
    return request.config.stash[_KEY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(_KEY, None)
    if report is None or report.empty:
        return
    terminalreporter.section("reliability")
    for line in report.lines():
        terminalreporter.write_line(line)
