"""Plan properties over generated nodes: a plan reaches its goal, in a valid order.

The generator builds plausible router nodes (namespace, sysctl, underlay NIC, VTEP, VRFs,
per-VNI bridge, VXLAN, veth pair, host bridge, gateway address) with their dependencies.
A scenario is a previously applied node (recorded, then observed with some objects deleted
or changed by hand and some unmanaged objects around) and a new desired node.
"""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from pe_plan.frr_diff import FrrContextDelta, FrrDelta
from pe_plan.model import (
    Address,
    FrrInstance,
    Link,
    Netns,
    NodeState,
    Object,
    Sysctl,
    Vxlan,
    link_address,
)
from pe_plan.plan import Action, FrrAction, Plan, make_plan, matches, simulate

FORWARDING = "net.ipv4.conf.all.forwarding"
UNMANAGED: dict[str, Object] = {
    "link.host.eth0": Link(namespace="host", name="eth0", kind="device", up=True, mtu=1500),
    "address.host.eth0.192.0.2.1/24": Address(namespace="host", link="eth0", cidr="192.0.2.1/24"),
}
FRR_DELTAS = (
    None,
    FrrDelta(contexts=(FrrContextDelta(context=("vrf red",), add=("vni 100",)),)),
    FrrDelta(contexts=(FrrContextDelta(context=("vrf red",), remove=("vni 100",)),)),
    FrrDelta(
        contexts=(
            FrrContextDelta(context=("router bgp 1 vrf red",), add=("x",), action="replace"),
            FrrContextDelta(context=("router bgp 1",), remove=("a",), add=("b",)),
        )
    ),
)


class _Node:
    def __init__(self) -> None:
        self.objects: dict[str, Object] = {}
        self.depends_on: dict[str, tuple[str, ...]] = {}

    def add(self, obj: Object, *needs: str | None) -> str:
        self.objects[obj.address] = obj
        self.depends_on[obj.address] = tuple(sorted({n for n in needs if n}))
        return obj.address

    def state(self) -> NodeState:
        return NodeState(objects=self.objects, depends_on=self.depends_on)


@st.composite
def nodes(draw: st.DrawFn) -> NodeState:
    node = _Node()
    netns = node.add(Netns(name="perouter"))
    if draw(st.booleans()):
        node.add(FrrInstance(pathspace="perouter"), netns)
    if draw(st.booleans()):
        value = draw(st.sampled_from(["0", "1"]))
        node.add(Sysctl(namespace="router", key=FORWARDING, value=value), netns)
    if draw(st.booleans()):
        nic = Link(namespace="router", name="toswitch", kind="device", up=True, moved_from="host")
        node.add(nic, netns)
    lound = node.add(Link(namespace="router", name="lound", kind="dummy", up=True), netns)
    vtep = draw(st.sampled_from(["100.65.0.0", "100.65.0.1"]))
    vtep_address = node.add(Address(namespace="router", link="lound", cidr=f"{vtep}/32"), lound)
    vrfs: dict[str, str] = {}
    for name, tables in (("red", [1, 5]), ("blue", [2])):
        if draw(st.booleans()):
            table = draw(st.sampled_from(tables))
            vrf = Link(namespace="router", name=name, kind="vrf", up=True, vrf_table=table)
            vrfs[name] = node.add(vrf, netns)
    for vni in sorted(draw(st.sets(st.sampled_from([100, 110, 120])))):
        master = draw(st.sampled_from([None, *sorted(vrfs)]))
        bridge = node.add(
            Link(namespace="router", name=f"br-pe-{vni}", kind="bridge", up=True, master=master),
            netns,
            vrfs.get(master) if master else None,
        )
        vxlan = Vxlan(vni=vni, local=vtep, port=draw(st.sampled_from([4789, 4790])))
        node.add(
            Link(
                namespace="router",
                name=f"vni{vni}",
                kind="vxlan",
                up=draw(st.booleans()),
                master=f"br-pe-{vni}",
                vxlan=vxlan,
            ),
            bridge,
            vtep_address,
        )
        mtu = draw(st.sampled_from([1450, 8950]))
        host_bridge = None
        if draw(st.booleans()):
            host_bridge = node.add(
                Link(namespace="host", name=f"br-hs-{vni}", kind="bridge", up=True)
            )
        host_leg = node.add(
            Link(
                namespace="host",
                name=f"host-{vni}",
                kind="veth",
                up=True,
                mtu=mtu,
                master=f"br-hs-{vni}" if host_bridge else None,
                peer=f"pe-{vni}",
                peer_namespace="router",
            ),
            netns,
            host_bridge,
        )
        node.add(
            Link(
                namespace="router",
                name=f"pe-{vni}",
                kind="veth",
                up=True,
                mtu=mtu,
                master=f"br-pe-{vni}",
                peer=f"host-{vni}",
                peer_namespace="host",
            ),
            host_leg,
            bridge,
        )
        if draw(st.booleans()):
            gateway = Address(namespace="router", link=f"br-pe-{vni}", cidr=f"10.0.{vni}.1/24")
            node.add(gateway, bridge)
    return node.state()


def _as_observed(obj: Object) -> Object:
    """What refresh reports: unmanaged attributes filled in, no bookkeeping."""
    if isinstance(obj, Link):
        return msgspec.structs.replace(
            obj, mtu=obj.mtu or 1500, mac=f"02:00:00:00:00:{len(obj.name):02x}", moved_from=None
        )
    return obj


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[NodeState, NodeState, NodeState, FrrDelta | None]:
    """``(desired, observed, recorded, frr delta)``."""
    previous = draw(nodes())
    desired = draw(nodes())
    observed: dict[str, Object] = dict(UNMANAGED)
    for address, obj in previous.objects.items():
        fate = draw(st.sampled_from(["kept"] * 6 + ["deleted", "changed"]))
        if fate == "deleted":
            continue
        seen = _as_observed(obj)
        if fate == "changed" and isinstance(seen, Link):
            seen = msgspec.structs.replace(seen, up=not seen.up)
        observed[address] = seen
    # A sysctl always exists; the NIC is in the router namespace or back in the host one.
    sysctl = Sysctl(namespace="router", key=FORWARDING, value="0")
    observed.setdefault(sysctl.address, sysctl)
    if link_address("router", "toswitch") not in observed:
        nic = Link(namespace="host", name="toswitch", kind="device", up=True)
        observed[nic.address] = nic
        observed["address.host.toswitch.192.0.2.9/24"] = Address(
            namespace="host", link="toswitch", cidr="192.0.2.9/24"
        )
    frr = draw(st.sampled_from(FRR_DELTAS))
    return desired, NodeState(objects=observed), previous, frr


def _is_vxlan(obj: Object | None) -> bool:
    return isinstance(obj, Link) and obj.kind == "vxlan"


def _positions(plan: Plan) -> dict[tuple[str, str], int]:
    return {
        (step.action, step.address if isinstance(step, Action) else "frr"): index
        for index, step in enumerate(plan.actions)
    }


def _arrival(positions: dict[tuple[str, str], int], address: str) -> int | None:
    for operation in ("create", "update"):
        if (operation, address) in positions:
            return positions[(operation, address)]
    return None


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_a_simulated_plan_reaches_the_desired_state(
    scenario: tuple[NodeState, NodeState, NodeState, FrrDelta | None],
) -> None:
    desired, observed, recorded, frr = scenario
    plan = make_plan(desired, observed, recorded, frr_delta=frr)
    after = simulate(observed.objects, plan)
    for address, want in desired.objects.items():
        assert matches(want, after.get(address)), address
    for address in recorded.objects.keys() - desired.objects.keys():
        assert address not in after, address
    for address, obj in UNMANAGED.items():
        assert after[address] == obj
    again = make_plan(desired, NodeState(objects=after), desired, frr_delta=None)
    assert again.actions == ()
    assert again.drift == ()


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.booleans())
def test_every_step_comes_after_what_it_needs(
    scenario: tuple[NodeState, NodeState, NodeState, FrrDelta | None], destroy: bool
) -> None:
    desired, observed, recorded, frr = scenario
    if destroy and frr is not None:
        # Destroy plans against an empty FRR config: its delta only removes.
        frr = FrrDelta(
            contexts=tuple(c for c in frr.contexts if c.action == "update" and not c.add)
        )
    plan = make_plan(desired, observed, recorded, frr_delta=frr, destroy=destroy)
    at = _positions(plan)
    deletes = [i for (op, _), i in at.items() if op in {"delete", "remove"}]
    arrivals = [i for (op, _), i in at.items() if op in {"create", "update", "add"}]
    assert max(deletes, default=-1) < min(arrivals, default=len(plan.actions))
    for (operation, address), index in at.items():
        if operation in {"create", "update"}:
            for need in desired.depends_on.get(address, ()):
                before = _arrival(at, need)
                assert before is None or before < index, (address, need)
            if ("delete", address) in at:
                assert at[("delete", address)] < index
        if operation == "delete":
            dependents = [a for a, needs in recorded.depends_on.items() if address in needs]
            for dependent in dependents:
                if ("delete", dependent) in at:
                    assert at[("delete", dependent)] < index, (dependent, address)
    vxlans = {
        (step.action, step.address)
        for step in plan.actions
        if isinstance(step, Action) and _is_vxlan(step.after or step.before)
    }
    if ("add", "frr") in at:
        assert all(at[("add", "frr")] < at[key] for key in vxlans if key[0] != "delete")
    if ("remove", "frr") in at:
        assert all(at[("remove", "frr")] > at[key] for key in vxlans if key[0] == "delete")
    # The router namespace is deleted last, just after the FRR instance that runs in it.
    ends = ("frr_instance.", "netns.")
    leaving = [
        step.address if isinstance(step, Action) else "frr"
        for step in plan.actions
        if step.action in {"delete", "remove"}
    ]
    for index, address in enumerate(leaving):
        if address.startswith(ends):
            assert all(later.startswith(ends) for later in leaving[index + 1 :]), leaving
    assert not any(isinstance(step, FrrAction) for step in plan.actions) or frr is not None
