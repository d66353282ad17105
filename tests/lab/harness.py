"""Host side of the lab: boot a guest, run a scenario in it, read back its report.

:func:`run_scenario` is what ``python -m tests.lab demo`` and the lab tests call. A guest
that never reports (timeout, crash, a broken topology script) still yields a
:class:`~tests.lab.report.Report`, with ``error`` saying what happened and the tail of the
payload's output and of the guest console.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.lab.guest import Guest, GuestRun
from tests.lab.report import REPORT_FILE, Report, decode
from tests.lab.scenario import COMMAND_LOG

# A whole demo takes under a minute with the manual stand-in on 2 cores; pe-plan starts a
# Python and imports pyroute2 per call (several seconds each in UML): leave generous room.
DEFAULT_TIMEOUT = 900.0
ROUTER_SETUPS = ("pe-plan", "manual")


@dataclass(frozen=True)
class LabRun:
    """A scenario's report and the raw guest run it came from (logs, state files)."""

    report: Report
    guest: GuestRun

    def log(self, name: str) -> str:
        """One of the files the scenario left in its output directory, as text."""
        return self.guest.files.get(name, b"").decode(errors="replace")


def run_scenario(
    scenario: str = "demo",
    router_setup: str = "pe-plan",
    *,
    destroy: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    keep: bool = False,
) -> LabRun:
    """Boot one guest and run a scenario in it (see :mod:`tests.lab.scenario`)."""
    args = [scenario, "--router-setup", router_setup]
    if destroy:
        args.append("--destroy")
    run = Guest(timeout=timeout, keep=keep).run_python("tests.lab.scenario", *args)
    data = run.files.get(REPORT_FILE)
    if data is not None:
        report = decode(data)
    else:
        report = Report(scenario=scenario, router_setup=router_setup, error=_no_report(run))
    report.timings["guest boot to halt"] = run.seconds
    return LabRun(report, run)


def _no_report(run: GuestRun) -> str:
    what = run.ending("the scenario")
    if run.status is not None and not run.timed_out:
        what += " without a report"
    commands = run.files.get(COMMAND_LOG, b"").decode(errors="replace").splitlines()[-20:]
    return "\n".join(
        [
            what,
            "payload output (tail):",
            *run.output.splitlines()[-20:],
            "last commands:",
            *commands,
            "guest console (tail):",
            run.console_tail,
        ]
    )
