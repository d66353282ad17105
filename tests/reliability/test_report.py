"""The reliability report counts what it is told and prints it in the agreed shape."""

from __future__ import annotations

from tests.reliability.report import Outcome, ReliabilityReport


def test_the_report_counts_and_names_what_was_left_behind() -> None:
    report = ReliabilityReport()
    assert report.empty
    for outcome in (Outcome.REJECTED, Outcome.REJECTED, Outcome.ACCEPTED, Outcome.HANG):
        report.record_fuzz(outcome)
    report.record_crash_point([])
    report.record_crash_point(["namespace r1", "file s.json.journal"])
    report.record_fault([])
    assert not report.empty
    assert report.lines() == [
        "pe-plan reliability report",
        "  inputs fuzzed ...........     4 (rejected cleanly 2, accepted 1, tracebacks 0, hangs 1)",
        "  crash points tested .....     2 (left something behind: 1)",
        "  faults injected .........     1 (left something behind: 0)",
        "    left behind: namespace r1; file s.json.journal",
    ]
