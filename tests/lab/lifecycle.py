"""The lifecycle scenario, guest side: what pe-plan does to a live node after the first apply.

Written against pe-plan's CLI contract (plan, apply with ``--state``, see
:func:`tests.lab.routers.pe_plan_argv`), on node0 of the running seed topology:

* drift repair: ``vni110`` deleted by hand, plan shows the repair, apply restores it, the
  re-plan is clean and pod0 reaches pod1 again;
* adding an L2VNI (120, gateway 192.170.2.1/24) to the config creates its objects on the live
  node; removing it from the config removes them; each re-plan is clean;
* a foreign object with a name pe-plan needs (a dummy ``br-hs-130``) makes plan and apply
  fail, name the object, and change nothing.

Only pe-plan can do this: with the manual stand-in these checks are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.lab import checks
from tests.lab.demo import set_up_routers, timed
from tests.lab.report import Report
from tests.lab.routers import PePlanRouters
from tests.lab.shell import Shell
from tests.lab.topology import L2VNI, NODES, Node, add_pod, build_fabric

ADDED_VNI = 120
ADDED_GATEWAY = "192.170.2.1/24"
CLASH_VNI = 130
CLASH_GATEWAY = "192.170.3.1/24"
LIFECYCLE_CHECKS = (
    ("drift-plan", "plan after vni110 was deleted by hand shows its repair"),
    ("drift-apply", "apply repairs vni110"),
    ("drift-replan", "re-plan after the repair prints 'No changes.'"),
    ("drift-traffic", "pod0 -> pod1 /clientip after the repair"),
    ("add-l2vni", f"adding L2VNI {ADDED_VNI} to the config creates its objects"),
    ("add-l2vni-replan", f"re-plan with L2VNI {ADDED_VNI} prints 'No changes.'"),
    ("remove-l2vni", f"removing L2VNI {ADDED_VNI} from the config removes its objects"),
    ("remove-l2vni-replan", "re-plan after the removal prints 'No changes.'"),
    ("clash-plan", f"plan refuses a foreign br-hs-{CLASH_VNI} and names it"),
    ("clash-apply", "apply refuses it too and changes nothing"),
)
TITLES = dict(LIFECYCLE_CHECKS)


def l2vni_document(vni: int, gateway: str) -> str:
    """One more L2VNI in VRF red, in the seed's dialect."""
    return f"""---
apiVersion: openpe.openperouter.github.io/v1alpha1
kind: L2VNI
metadata:
  name: layer2-{vni}
  namespace: openperouter-system
spec:
  vni: {vni}
  vrf: red
  hostmaster:
    type: bridge
    autocreate: true
  l2gatewayip: {gateway}
"""


def link(shell: Shell, namespace: str, name: str) -> dict[str, Any] | None:
    """``ip -d link show`` of one device as JSON, None when it does not exist."""
    done = shell.run(
        ["ip", "-j", "-d", "-n", namespace, "link", "show", "dev", name],
        check=False,
        merge_stderr=False,
    )
    links = json.loads(done.output) if done.status == 0 and done.output.strip() else []
    return links[0] if links else None


def vxlan_problems(shell: Shell, node: Node, vni: int) -> list[str]:
    """What is wrong with ``vni<vni>`` on ``node`` (empty when it is as SPEC section 5 says)."""
    device = link(shell, node.router_ns, f"vni{vni}")
    if device is None:
        return [f"vni{vni} missing in {node.router_ns}"]
    data = device.get("linkinfo", {}).get("info_data", {})
    problems = []
    if data.get("id") != vni:
        problems.append(f"vni{vni} has id {data.get('id')}")
    if data.get("local") != node.vtep:
        problems.append(f"vni{vni} has local {data.get('local')}, not {node.vtep}")
    if device.get("master") != f"br-pe-{vni}":
        problems.append(f"vni{vni} is in {device.get('master')}, not br-pe-{vni}")
    return problems


def l2vni_problems(shell: Shell, node: Node, vni: int, gateway: str) -> list[str]:
    """What is missing or wrong among an L2VNI's objects on ``node``."""
    problems = vxlan_problems(shell, node, vni)
    bridge = link(shell, node.router_ns, f"br-pe-{vni}")
    if bridge is None:
        problems.append(f"br-pe-{vni} missing in {node.router_ns}")
    else:
        addresses = shell.ip_json(node.router_ns, "addr", "show", "dev", f"br-pe-{vni}")
        if gateway not in {
            f"{a['local']}/{a['prefixlen']}" for a in addresses[0].get("addr_info", [])
        }:
            problems.append(f"br-pe-{vni} lacks {gateway}")
    host_leg = link(shell, node.host_ns, f"host-{vni}")
    if host_leg is None or host_leg.get("master") != f"br-hs-{vni}":
        problems.append(f"host-{vni} is not in br-hs-{vni} in {node.host_ns}")
    return problems


def leftovers(shell: Shell, node: Node, vni: int) -> list[str]:
    """An L2VNI's objects still present on ``node``."""
    names = [(node.router_ns, f"vni{vni}"), (node.router_ns, f"br-pe-{vni}")]
    names += [(node.host_ns, f"host-{vni}"), (node.host_ns, f"br-hs-{vni}")]
    return [f"{name} in {ns}" for ns, name in names if link(shell, ns, name) is not None]


def run_lifecycle(shell: Shell, routers: PePlanRouters, report: Report, work: Path) -> None:
    """Drift repair, add and remove an L2VNI, and a name clash, on node0."""
    with timed(report, "fabric and leaf FRR"):
        build_fabric(shell, work)
    if set_up_routers(routers, report) is None:
        return
    pod0, pod1 = NODES
    with timed(report, "pods"):
        for node in NODES:
            add_pod(shell, node, work)
    checks.warm_up_pods(shell)
    with timed(report, "drift repair"):
        _drift(shell, routers, report, pod0, pod1)
    with timed(report, "add and remove an L2VNI"):
        _add_remove(shell, routers, report, pod0, work)
    with timed(report, "name clash"):
        _clash(shell, routers, report, pod0, work)


def _drift(shell: Shell, routers: PePlanRouters, report: Report, node: Node, other: Node) -> None:
    shell.ip_batch(node.router_ns, [f"link del vni{L2VNI}"])
    plan = routers.plan(node)
    shows_repair = "No changes." not in plan.output and f"vni{L2VNI}" in plan.output
    report.add("drift-plan", TITLES["drift-plan"], shows_repair, checks.tail(plan.output))
    apply = routers.apply(node)
    problems = vxlan_problems(shell, node, L2VNI)
    report.add(
        "drift-apply",
        TITLES["drift-apply"],
        apply.status == 0 and not problems,
        f"exit {apply.status}; "
        + ("; ".join(problems) or f"vni{L2VNI} as specified")
        + f"\n{checks.tail(apply.output)}",
    )
    _replan(report, routers, node, "drift-replan", routers.config)
    checks.client_ip(
        shell, report, node, other.pod_ip, check_id="drift-traffic", title=TITLES["drift-traffic"]
    )


def _add_remove(
    shell: Shell, routers: PePlanRouters, report: Report, node: Node, work: Path
) -> None:
    extended = work / f"openpe-plus-{ADDED_VNI}.yaml"
    extended.write_text(routers.config.read_text() + l2vni_document(ADDED_VNI, ADDED_GATEWAY))
    apply = routers.apply(node, extended)
    problems = l2vni_problems(shell, node, ADDED_VNI, ADDED_GATEWAY)
    report.add(
        "add-l2vni",
        TITLES["add-l2vni"],
        apply.status == 0 and not problems,
        f"exit {apply.status}; "
        + ("; ".join(problems) or "all objects present")
        + f"\n{checks.tail(apply.output)}",
    )
    _replan(report, routers, node, "add-l2vni-replan", extended)
    apply = routers.apply(node)
    left = leftovers(shell, node, ADDED_VNI)
    report.add(
        "remove-l2vni",
        TITLES["remove-l2vni"],
        apply.status == 0 and not left,
        f"exit {apply.status}; "
        + (f"left: {', '.join(left)}" if left else "all removed")
        + f"\n{checks.tail(apply.output)}",
    )
    _replan(report, routers, node, "remove-l2vni-replan", routers.config)


def _clash(shell: Shell, routers: PePlanRouters, report: Report, node: Node, work: Path) -> None:
    clashing = work / f"openpe-plus-{CLASH_VNI}.yaml"
    clashing.write_text(routers.config.read_text() + l2vni_document(CLASH_VNI, CLASH_GATEWAY))
    foreign = f"br-hs-{CLASH_VNI}"
    shell.ip_batch(node.host_ns, [f"link add {foreign} type dummy"])
    plan = routers.plan(node, clashing)
    report.add(
        "clash-plan",
        TITLES["clash-plan"],
        plan.status != 0 and foreign in plan.output,
        checks.tail(plan.output),
    )
    apply = routers.apply(node, clashing)
    problems = []
    if apply.status == 0:
        problems.append("apply succeeded")
    if foreign not in apply.output:
        problems.append(f"the error does not name {foreign}")
    left = leftovers(shell, node, CLASH_VNI)
    if left != [f"{foreign} in {node.host_ns}"]:
        problems.append(f"objects of L2VNI {CLASH_VNI} now: {left}")
    foreign_link = link(shell, node.host_ns, foreign) or {}
    if foreign_link.get("linkinfo", {}).get("info_kind") != "dummy":
        problems.append(f"the foreign {foreign} was changed or removed")
    report.add(
        "clash-apply",
        TITLES["clash-apply"],
        not problems,
        f"exit {apply.status}; "
        + ("; ".join(problems) or "nothing changed")
        + f"\n{checks.tail(apply.output)}",
    )


def _replan(
    report: Report, routers: PePlanRouters, node: Node, check_id: str, config: Path
) -> None:
    plan = routers.plan(node, config)
    clean = plan.status == 0 and "No changes." in plan.output
    report.add(check_id, TITLES[check_id], clean, checks.tail(plan.output))
