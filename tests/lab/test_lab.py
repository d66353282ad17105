"""Lab tests: the seed's Layer 2 scenario on a real kernel (User-Mode Linux), driven by pe-plan.

A boot plus the topology is most of the cost, so each module-scoped fixture boots one guest
and runs one whole scenario in it; every test then asserts one named check of its report.
The faults scenario (:mod:`tests.lab.faults`: failed writes and SIGKILLs with the seed's
VRF) also hands its fault and crash points to the reliability report.
The tests skip, with the reason, where the lab cannot run (not root, UML or a tool missing),
but fail instead when ``CI=true``.

``LAB_ROUTER_SETUP=manual`` runs them against the TEST-ONLY manual stand-in instead of
pe-plan: that proves the harness and the topology, not pe-plan (the re-plan and lifecycle
checks then skip).
"""

from __future__ import annotations

import os

import pytest

from tests.lab.faults import FAULT_CHECKS
from tests.lab.guest import unavailable_reason
from tests.lab.harness import run_scenario
from tests.lab.lifecycle import LIFECYCLE_CHECKS
from tests.lab.report import Report
from tests.reliability.report import ReliabilityReport

pytestmark = pytest.mark.lab

ROUTER_SETUP = os.environ.get("LAB_ROUTER_SETUP", "pe-plan")
NODES = ("node0", "node1")
DEMO_CHECKS = [
    *(f"apply-{node}" for node in NODES),
    "bgp-sessions",
    "evpn-type2",
    "evpn-type3",
    *(f"evpn-type5-{node}" for node in NODES),
    "pod-to-pod",
    "pod-to-external",
    "vxlan-vni110",
    "vxlan-vni100",
    "pod-mtu",
    *(f"replan-{node}" for node in NODES),
]
DESTROY_CHECKS = [check for node in NODES for check in (f"destroy-{node}", f"destroyed-{node}")]


def require_lab() -> None:
    """Skip where the lab cannot run, except in CI, where that is a failure."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the lab must run in CI but cannot: {reason}")
    pytest.skip(reason)


def assert_check(report: Report, check_id: str) -> None:
    """The check passed; a skipped one skips the test, a missing one fails it."""
    check = report.check(check_id)
    if check is None:
        pytest.fail(f"check {check_id!r} did not run: {report.error or 'not reached'}")
    if check.status == "SKIP":
        pytest.skip(f"{check.title}: {check.detail}")
    assert check.status == "PASS", f"{check.title}\n{check.detail}"


@pytest.fixture(scope="module")
def demo() -> Report:
    """The demo scenario, then destroy on both nodes, in one guest."""
    require_lab()
    return run_scenario("demo", ROUTER_SETUP, destroy=True).report


@pytest.fixture(scope="module")
def lifecycle() -> Report:
    """Drift repair, adding and removing an L2VNI, and a name clash, in one guest."""
    require_lab()
    return run_scenario("lifecycle", ROUTER_SETUP).report


@pytest.mark.parametrize("check_id", DEMO_CHECKS)
def test_demo(demo: Report, check_id: str) -> None:
    assert_check(demo, check_id)


@pytest.mark.parametrize("check_id", DESTROY_CHECKS)
def test_destroy(demo: Report, check_id: str) -> None:
    assert_check(demo, check_id)


@pytest.mark.parametrize("check_id", [check_id for check_id, _ in LIFECYCLE_CHECKS])
def test_lifecycle(lifecycle: Report, check_id: str) -> None:
    assert_check(lifecycle, check_id)


@pytest.fixture(scope="module")
def faults() -> Report:
    """Failed writes and SIGKILLs during the seed's apply, a change and destroy, in one guest."""
    require_lab()
    return run_scenario("faults", ROUTER_SETUP).report


@pytest.mark.parametrize("check_id", [check_id for check_id, _ in FAULT_CHECKS])
def test_faults(faults: Report, check_id: str) -> None:
    """Rollbacks and recovers with the seed's VRF give back the exact node from before.

    Failed writes (in-process) at chosen places of the seed's apply and of a change to it;
    SIGKILLs of ``pe-plan apply``/``destroy`` processes not after every step (about ten
    seconds each in UML) but after the last step of each run of steps sent together, which
    is where the kill of any step of that run lands (see :mod:`tests.lab.faults`).
    """
    assert_check(faults, check_id)


def test_fault_and_crash_points_are_reported(
    faults: Report, reliability_report: ReliabilityReport
) -> None:
    """Each fault injected and each kill goes into the reliability report, with what it left
    wrong; the scenario tried both kinds, and nothing was left wrong."""
    for trial in faults.trials:
        record = (
            reliability_report.record_fault
            if trial.kind == "fault"
            else reliability_report.record_crash_point
        )
        record([f"{trial.point}: {problem.splitlines()[0]}" for problem in trial.problems])
    if not faults.trials:
        # Skips with the manual stand-in (its reason is in the checks), fails on a broken run.
        assert_check(faults, FAULT_CHECKS[0][0])
    assert {trial.kind for trial in faults.trials} == {"fault", "crash"}, faults.error
    wrong = [f"{trial.point}: {problem}" for trial in faults.trials for problem in trial.problems]
    assert not wrong, "\n".join(wrong)
