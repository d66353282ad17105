"""The demo scenario, guest side: the seed's Layer 2 example and its validation.

Fabric (leaf, external host, switch, nodes' host side), routers set up on both nodes (by
pe-plan, or the test-only manual stand-in), one pod per node, then the checks: BGP, EVPN
routes, the two ``/clientip`` requests, the VXLAN capture, a full-MTU ping, the re-plan, and
optionally destroy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.lab import checks
from tests.lab.report import Report
from tests.lab.routers import RouterSetup
from tests.lab.shell import Shell
from tests.lab.topology import EXTHOST_IP, NODES, Node, add_pod, build_fabric


@contextmanager
def timed(report: Report, name: str) -> Iterator[None]:
    """Record how long the block took under ``name`` in the report's timings."""
    started = time.monotonic()
    try:
        yield
    finally:
        report.timings[name] = time.monotonic() - started


def set_up_routers(routers: RouterSetup, report: Report) -> dict[Node, float] | None:
    """Apply on every node; the wall-clock end of each, or None (and an error) on failure."""
    applied_at = {}
    for node in NODES:
        with timed(report, f"router setup {node.host_ns}"):
            done = routers.apply(node)
        applied_at[node] = time.time()
        report.add(
            f"apply-{node.host_ns}",
            f"{routers.name} apply on {node.host_ns}",
            done.status == 0,
            f"exit {done.status}\n{checks.tail(done.output)}",
        )
        if done.status != 0:
            report.error = f"router setup failed on {node.host_ns}; later checks not run"
            return None
    return applied_at


def run_demo(
    shell: Shell, routers: RouterSetup, report: Report, work: Path, *, destroy: bool
) -> None:
    """The seed's scenario: fabric, routers, pods, then its validation as checks."""
    with timed(report, "fabric and leaf FRR"):
        build_fabric(shell, work)
    applied_at = set_up_routers(routers, report)
    if applied_at is None:
        return
    with timed(report, "pods"):
        for node in NODES:
            add_pod(shell, node, work)
    with timed(report, "bgp sessions"):
        checks.bgp_sessions(shell, report, applied_at)
    with timed(report, "evpn routes"):
        checks.warm_up_pods(shell)
        checks.evpn_routes(shell, report)
    pod0, pod1 = NODES
    with timed(report, "end to end"):
        capture = checks.Capture(shell, work)
        checks.client_ip(
            shell, report, pod0, pod1.pod_ip,
            check_id="pod-to-pod", title="pod0 -> pod1 /clientip answers pod0's address",
        )  # fmt: skip
        checks.client_ip(
            shell, report, pod0, EXTHOST_IP,
            check_id="pod-to-external", title="pod0 -> exthost /clientip answers pod0's address",
        )  # fmt: skip
        checks.capture_checks(report, capture.stop())
        checks.full_mtu_ping(shell, report, pod0, pod1)
    with timed(report, "re-plan"):
        for node in NODES:
            checks.replan(report, node, routers.plan(node))
    if destroy:
        for node in NODES:
            with timed(report, f"destroy {node.host_ns}"):
                done = routers.destroy(node)
            report.add(
                f"destroy-{node.host_ns}",
                f"{routers.name} destroy on {node.host_ns}",
                done.status == 0,
                f"exit {done.status}\n{checks.tail(done.output)}",
            )
            checks.destroyed(shell, report, node)
