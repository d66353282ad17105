"""The faults scenario, guest side: fault injection and crash safety with the seed's VRF.

The host kernel has no VRF, so ``tests/integration/test_apply.py`` breaks pe-plan on an
L2-only example; this is the same on node0 of the seed's topology (the fabric and the leaf
as in the demo), with the tools of :mod:`tests.faults` and pe-plan called in this process
wherever it can be (a Python start costs seconds in UML):

1. the seed's apply, from the node as the lab made it, failing at one write: before it is
   made, after it (the answer lost), or inside a run of writes sent together; at the NIC's
   move and the VRF in the middle of the plan, at FRR's start, at each FRR config write, at
   the first VXLAN after the FRR config and after the last write. After each rollback (exit
   status 3, the injected error named) the node's picture is the one from before: no router
   namespace, ``toswitch`` back with its address, FRR stopped, no state.
2. the seed applied for real; then a change (L2VNI 120 in VRF red with gateway
   192.170.2.1/24, the host session's ASN changed, and the underlay NIC's MTU lowered by
   hand so that every veth's MTU is updated) failing at a veth's MTU update, at each FRR
   config write, at the first VXLAN after them and after the last write: after each
   rollback the picture, FRR's running config included, is the applied seed's (with the
   lowered NIC MTU), exactly. The change then applies for real, and a destroy gives back the
   node from before.
3. ``pe-plan apply --json`` as a process, SIGKILLed after step k, then ``pe-plan plan``
   must refuse with the journal message, and ``pe-plan recover`` must give back the node
   from before with nothing left (journal, lock, FRR snapshot, FRR daemons and their run
   directory); the same for the seed's destroy, back to the applied seed. Not after every
   step: a kill costs about ten seconds in UML (a Python start, FRR started and stopped),
   and the steps pe-plan sends together report together, so k is the last step of each
   run (:func:`kill_points`; 7 of the 23 steps of the seed's apply, and of its destroy).

Every fault and kill is also a :class:`~tests.lab.report.Trial` of the report, which the
host side records in the reliability report. Only pe-plan can do this: with the manual
stand-in these checks are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# _batchable: the executor's own rule for which steps it sends together (see kill_points).
from pe_plan.apply import _batchable, step_operations
from pe_plan.cli.options import node_settings, read_config
from pe_plan.cli.session import Prepared, Session, prepare
from pe_plan.config import Config
from pe_plan.desired import VXLAN_OVERHEAD
from pe_plan.operations import describe_operation
from pe_plan.plan import FrrAction, Plan
from tests.faults import (
    FAULTS,
    Picture,
    cli,
    difference,
    fail_once,
    kill_at_step,
    leftovers,
    node_args,
    picture,
    run_in_process,
)
from tests.lab import checks
from tests.lab.demo import timed
from tests.lab.lifecycle import l2vni_document, l2vni_problems
from tests.lab.report import Report, Trial
from tests.lab.routers import PePlanRouters
from tests.lab.shell import Shell
from tests.lab.topology import NODES, UNDERLAY_PREFIXLEN, build_fabric

ADDED_VNI = 120
ADDED_GATEWAY = "192.170.2.1/24"
SEED_HOST_ASN = "hostasn: 64515"
CHANGED_HOST_ASN = "hostasn: 64516"
LOWERED_MTU = 1400
UNDERLAY_MTU = 1500
FRR_WRITE = "FRR config"
PLANS = {"apply": "the seed's apply", "change": "the change to the applied seed"}
WHERE = {
    "middle": "mid-plan",
    "frr-start": "at starting FRR",
    "frr-config": "at each FRR config write",
    "first-vxlan": "at the first VXLAN after the FRR config",
    "last-write": "after its last write",
}
FAULT_CHECKS = (
    *(
        (f"fault-apply-{where}", f"{PLANS['apply']} failing {WHERE[where]} is rolled back")
        for where in ("middle", "frr-start", "frr-config", "first-vxlan", "last-write")
    ),
    ("seed-applied", "the seed applies on node0: VRF red, and FRR with vrf red"),
    *(
        (f"fault-change-{where}", f"{PLANS['change']} failing {WHERE[where]} is rolled back")
        for where in ("middle", "frr-config", "first-vxlan", "last-write")
    ),
    ("change-applied", f"the change applies: L2VNI {ADDED_VNI} there, re-plan clean"),
    ("destroy-clean", "destroy gives back the node from before the seed (kernel and FRR)"),
    ("kill-apply", "SIGKILL during the seed's apply, then recover: as before, nothing left"),
    ("kill-destroy", "SIGKILL during the seed's destroy, then recover: as before, nothing left"),
)
TITLES = dict(FAULT_CHECKS)

FaultPoint = tuple[int, str]
"""A write number and a kind of fault (a key of :data:`tests.faults.FAULTS`)."""


@dataclass(frozen=True)
class Target:
    """Node0 as the shared tools see it (:class:`tests.faults.Node`)."""

    host_ns: str
    router_ns: str
    node_file: Path
    state: Path


def run_faults(shell: Shell, routers: PePlanRouters, report: Report, work: Path) -> None:
    """Fault injection, then crash safety, on node0 (see the module docstring)."""
    with timed(report, "fabric and leaf FRR"):
        build_fabric(shell, work)
    node = NODES[0]
    target = Target(node.host_ns, node.router_ns, routers.node_file(node), routers.state(node))
    seed = routers.config
    changed = work / "openpe-changed.yaml"
    changed.write_text(
        seed.read_text().replace(SEED_HOST_ASN, CHANGED_HOST_ASN)
        + l2vni_document(ADDED_VNI, ADDED_GATEWAY)
    )
    empty = picture(target)
    with timed(report, "faults in the seed's apply"):
        wrong = _not_empty(target, empty)
        _faults(report, target, seed, "apply", apply_points, wrong)
    with timed(report, "apply the seed"):
        run_in_process(target, seed)
        wrong = _not_applied(picture(target))
        report.add("seed-applied", TITLES["seed-applied"], not wrong, _said(wrong))
    with timed(report, "faults in the change"):
        _set_nic_mtu(shell, target, LOWERED_MTU)
        _faults(report, target, changed, "change", change_points, [])
    with timed(report, "apply the change, destroy"):
        run_in_process(target, changed)
        status, text = cli("plan", "-f", str(changed), *node_args(target), "--detailed-exitcode")
        wrong = l2vni_problems(shell, node, ADDED_VNI, ADDED_GATEWAY)
        wrong += [] if status == 0 else [f"re-plan exit {status}:\n{checks.tail(text)}"]
        mtu = picture(target).kernel["router"]["links"]["pe-100"]["mtu"]
        wrong += [] if mtu == LOWERED_MTU - VXLAN_OVERHEAD else [f"pe-100 has MTU {mtu}"]
        report.add("change-applied", TITLES["change-applied"], not wrong, _said(wrong))
        _set_nic_mtu(shell, target, UNDERLAY_MTU)
        run_in_process(target, None)
        gone = picture(target)
        # The state is left out: it now records that pe-plan owns nothing.
        same = (gone.kernel, gone.frr) == (empty.kernel, empty.frr)
        wrong = ([] if same else [difference(empty, gone)]) + leftovers(target)
        report.add("destroy-clean", TITLES["destroy-clean"], not wrong, _said(wrong))
    with timed(report, "SIGKILL during the seed's apply"):
        _kills(report, target, seed, destroy=False)
    with timed(report, "SIGKILL during the seed's destroy"):
        run_in_process(target, seed)
        _kills(report, target, seed, destroy=True)


def _set_nic_mtu(shell: Shell, target: Target, mtu: int) -> None:
    """The underlay NIC's MTU, changed by hand: pe-plan sizes the veths after it."""
    shell.ip_batch(target.router_ns, [f"link set toswitch mtu {mtu}"])


def writes(target: Target, config: Path) -> list[str]:
    """What each write of the apply of ``config`` is, in the order a runner that takes them
    one at a time sees them (the numbers :class:`tests.faults.FailAt` counts from 1)."""
    prepared = _prepare(target, read_config((config,)))
    labels = []
    for step in prepared.plan.actions:
        if isinstance(step, FrrAction):
            labels.append(f"{FRR_WRITE} ({step.action} lines)")
            continue
        pairs = step_operations(step, prepared.observed.objects, target.router_ns)
        labels += [describe_operation(forward) for forward, _ in pairs if forward is not None]
    return labels


def apply_points(labels: list[str]) -> dict[str, list[FaultPoint]]:
    """Where the seed's apply is failed (see the module docstring)."""
    nic = _first(labels, "move toswitch")
    vrf = _first(labels, "create vrf red")
    start = _first(labels, "start FRR")
    return {
        "middle": [(nic, "before"), (nic, "after"), *((vrf, kind) for kind in FAULTS)],
        "frr-start": [(start, "before"), (start, "after")],
        **_frr_points(labels),
    }


def change_points(labels: list[str]) -> dict[str, list[FaultPoint]]:
    """Where the change to the applied seed is failed (see the module docstring)."""
    veth = _first(labels, "set veth")
    return {"middle": [(veth, kind) for kind in FAULTS], **_frr_points(labels)}


def _frr_points(labels: list[str]) -> dict[str, list[FaultPoint]]:
    """Each FRR config write, the first VXLAN made after them, and the last write."""
    frr = [k for k, label in enumerate(labels, 1) if label.startswith(FRR_WRITE)]
    vxlan = _first(labels, "create vxlan", after=frr[-1])
    return {
        "frr-config": [(k, kind) for k in frr for kind in ("before", "after")],
        "first-vxlan": [(vxlan, kind) for kind in FAULTS],
        "last-write": [(len(labels), "after")],
    }


def _first(labels: list[str], prefix: str, *, after: int = 0) -> int:
    """The number of the first write after write ``after`` whose label starts with ``prefix``."""
    for k, label in enumerate(labels, 1):
        if k > after and label.startswith(prefix):
            return k
    raise ValueError(f"no write {prefix!r} after write {after} in the plan: {labels}")


def _faults(
    report: Report,
    target: Target,
    config: Path,
    plan: str,
    places: Callable[[list[str]], dict[str, list[FaultPoint]]],
    wrong: list[str],
) -> None:
    """Apply ``config`` once per fault point of ``places``, each time from the node as it is
    now; one check per place, failed by ``wrong`` (found before the first fault) too."""
    labels = writes(target, config)
    before = picture(target)
    for where, points in places(labels).items():
        lines, failed = [], bool(wrong)
        for k, kind in points:
            point = f"{PLANS[plan]}, write {k} ({labels[k - 1]}) fails {kind}"
            outcome = fail_once(target, config, FAULTS[kind](k), before)
            problems = outcome.problems if outcome else [f"write {k}: the plan ended before it"]
            report.trials.append(Trial("fault", point, problems))
            lines.append(f"{point}: {_said(problems) if problems else 'rolled back, as before'}")
            failed = failed or bool(problems)
            if outcome is not None and not outcome.rolled_back:
                break
        check_id = f"fault-{plan}-{where}"
        report.add(check_id, TITLES[check_id], not failed, "\n".join([*wrong, *lines]))


def _kills(report: Report, target: Target, seed: Path, *, destroy: bool) -> None:
    """Kill the seed's apply (from the node without it) or destroy at each kill point."""
    command = "destroy" if destroy else "apply"
    config = None if destroy else seed
    prepared = _prepare(target, Config() if destroy else read_config((seed,)), destroy=destroy)
    steps = len(prepared.plan.actions)
    points = kill_points(prepared.plan)
    before = picture(target)
    problems: list[str] = []
    for k in points:
        outcome = kill_at_step(
            target,
            config,
            k,
            steps=steps,
            before=before,
            plan_config=seed,
            restore=seed if destroy else None,
        )
        point = f"the seed's {command} killed after step {k} of {steps}"
        report.trials.append(Trial("crash", point, outcome.problems))
        problems += outcome.problems
        if not outcome.rolled_back:
            break
    check_id = f"kill-{command}"
    detail = f"killed after step {', '.join(map(str, points))} of {steps}"
    report.add(check_id, TITLES[check_id], not problems, "\n".join([detail, *problems]))


def kill_points(plan: Plan) -> list[int]:
    """The steps to SIGKILL after: the last of each run of steps pe-plan sends together.

    Plain link, address and sysctl steps in a row go to the kernel as one batch and their
    step events come together once the batch is made, so a kill after any of them lands at
    the same place; every other step (the namespace, FRR, the NIC's move, the FRR config) is
    a run of its own.
    """
    following = [*plan.actions[1:], None]
    return [
        k
        for k, (step, after) in enumerate(zip(plan.actions, following, strict=True), 1)
        if after is None or not (_batchable(step) and _batchable(after))
    ]


def _prepare(target: Target, config: Config, *, destroy: bool = False) -> Prepared:
    with Session(node_settings(None, target.node_file), target.state, "plan") as session:
        return prepare(session, config, destroy=destroy)


def _not_empty(target: Target, empty: Picture) -> list[str]:
    """How the node before the seed is not as the lab made it: without router namespace and
    FRR, the NIC in the host with its address (the rollbacks are judged against it)."""
    wrong = [f"namespace {target.router_ns} exists"] if "router" in empty.kernel else []
    wrong += [] if empty.frr is None else ["FRR answers before the seed's apply"]
    addresses = empty.kernel.get("host", {}).get("addresses", [])
    nic = f"toswitch {NODES[0].underlay_ip}/{UNDERLAY_PREFIXLEN} "
    if not any(address.startswith(nic) for address in addresses):
        wrong.append(f"toswitch lacks its address: {addresses}")
    return wrong + [f"left {item}" for item in leftovers(target)]


def _not_applied(applied: Picture) -> list[str]:
    router = applied.kernel.get("router", {}).get("links", {})
    wrong = [] if router.get("red", {}).get("kind") == "vrf" else ["no VRF red in the router"]
    frr = applied.frr or ""
    return wrong + [f"FRR lacks {line!r}" for line in ("vrf red", " vni 100") if line not in frr]


def _said(problems: list[str]) -> str:
    return "\n".join(problems) or "as expected"
