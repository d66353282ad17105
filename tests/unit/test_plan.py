"""Plan rules one by one, on the seed node of the golden inputs (``tests/golden/plan``)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import pytest

from pe_plan.errors import PlanError
from pe_plan.frr_diff import FrrContextDelta, FrrDelta
from pe_plan.model import Address, Link, NodeState, Object, Sysctl, Vxlan
from pe_plan.plan import (
    Action,
    Change,
    FrrAction,
    Plan,
    check_import,
    make_plan,
    matches,
    simulate,
)
from pe_plan.plan_render import render_json, render_text
from tests.unit.test_plan_golden import load_case

NO_OP = load_case("no-op")
EMPTY = NodeState(objects={})
EMPTY_NODE = load_case("create-from-empty").observed.objects  # the host, the NIC in it


def plan(
    observed: dict[str, Object],
    *,
    desired: NodeState = NO_OP.desired,
    recorded: NodeState = NO_OP.recorded,
    frr_delta: FrrDelta | None = None,
    destroy: bool = False,
    targets: tuple[str, ...] = (),
) -> Plan:
    return make_plan(
        desired,
        NodeState(objects=observed),
        recorded,
        frr_delta=frr_delta,
        destroy=destroy,
        targets=targets,
    )


def observed_with(changes: Mapping[str, Object | None]) -> dict[str, Object]:
    """The applied seed node with objects replaced (``None``: removed)."""
    objects = dict(NO_OP.observed.objects)
    for address, obj in changes.items():
        if obj is None:
            del objects[address]
        else:
            objects[address] = obj
    return objects


def observed_link(address: str, **attributes: object) -> Link:
    link = NO_OP.observed.objects[address]
    assert isinstance(link, Link)
    return msgspec.structs.replace(link, **attributes)


def steps(p: Plan) -> list[str]:
    return [
        f"{s.action} {s.address}" if isinstance(s, Action) else f"frr {s.action}" for s in p.actions
    ]


def test_an_applied_node_plans_to_nothing() -> None:
    p = plan(dict(NO_OP.observed.objects))
    assert p.empty
    assert p.drift == ()
    assert render_text(p) == "No changes. The node matches the configuration.\n"


def test_unmanaged_attributes_and_objects_are_ignored() -> None:
    # mac and addrgenmode are not managed on host-110; eth0 is not pe-plan's at all.
    host_leg = observed_link("link.host.host-110", mac="02:00:00:00:00:99")
    eth0 = observed_link("link.host.eth0", mtu=9000)
    p = plan(observed_with({"link.host.host-110": host_leg, "link.host.eth0": eth0}))
    assert p.empty
    assert p.drift == ()


def test_a_vxlan_id_change_is_a_replace_with_delete_before_create() -> None:
    vni = observed_link("link.router.vni110")
    assert vni.vxlan is not None
    changed = msgspec.structs.replace(vni, vxlan=msgspec.structs.replace(vni.vxlan, vni=999))
    p = plan(observed_with({"link.router.vni110": changed}))
    assert steps(p) == ["delete link.router.vni110", "create link.router.vni110"]
    delete = p.actions[0]
    assert isinstance(delete, Action)
    assert delete.replacement
    assert delete.reason == "vxlan vni cannot change in place"
    assert delete.changes == (
        Change(path="vxlan.vni", before=999, after=110, forces_replacement=True),
    )
    assert p.summary.add == p.summary.destroy == 1
    text = render_text(p).split("following actions")[1]
    assert "-/+ link.router.vni110" in text
    assert "~ vxlan.vni = 999 -> 110 # forces replacement" in text
    assert text.count("link.router.vni110\n") == 1  # one block for the two steps
    assert '"actions": [\n          "delete",\n          "create"\n        ]' in render_json(p)


def test_a_replaced_master_takes_its_ports_and_their_addresses_along() -> None:
    # The VRF's table changed outside pe-plan: the VRF must be re-created, the kernel then
    # detaches its ports; the pe-100 veth leg replaced by hand takes its address and peer.
    red = observed_link("link.router.red", vrf_table=7)
    pe = observed_link("link.router.pe-100", peer="elsewhere")
    p = plan(observed_with({"link.router.red": red, "link.router.pe-100": pe}))
    order = steps(p)
    assert order.index("delete link.router.red") < order.index("create link.router.red")
    for port in ("link.router.br-pe-100", "link.router.br-pe-110"):
        update = next(s for s in p.actions if isinstance(s, Action) and s.address == port)
        assert update.action == "update"
        assert update.changes == (Change(path="master", before=None, after="red"),)
        assert order.index("create link.router.red") < order.index(f"update {port}")
    # The veth leg, its peer and the address on it are replaced.
    for replaced in (
        "link.router.pe-100",
        "link.host.host-100",
        "address.router.pe-100.192.169.10.1/24",
        "address.host.host-100.192.169.10.2/24",
    ):
        assert f"delete {replaced}" in order
        assert f"create {replaced}" in order
    assert order.index("delete address.router.pe-100.192.169.10.1/24") < order.index(
        "delete link.router.pe-100"
    )
    assert order.index("create link.router.pe-100") < order.index(
        "create address.router.pe-100.192.169.10.1/24"
    )


def test_deletes_come_before_creates_and_frr_is_split_around_the_vxlans() -> None:
    vni = observed_link("link.router.vni100")
    assert vni.vxlan is not None
    moved = msgspec.structs.replace(vni, vxlan=msgspec.structs.replace(vni.vxlan, port=4790))
    delta = FrrDelta(
        contexts=(
            FrrContextDelta(context=("router bgp 64514 vrf red",), add=("x",), action="replace"),
            FrrContextDelta(context=("vrf red",), remove=("vni 100",), add=("vni 101",)),
        )
    )
    p = plan(observed_with({"link.router.vni100": moved}), frr_delta=delta)
    assert steps(p) == [
        "delete link.router.vni100",
        "frr remove",
        "frr add",
        "create link.router.vni100",
    ]
    removal, addition = (s for s in p.actions if isinstance(s, FrrAction))
    assert removal.contexts == (
        FrrContextDelta(context=("router bgp 64514 vrf red",), action="delete"),
        FrrContextDelta(context=("vrf red",), remove=("vni 100",)),
    )
    assert addition.contexts == (
        FrrContextDelta(context=("router bgp 64514 vrf red",), add=("x",), action="create"),
        FrrContextDelta(context=("vrf red",), add=("vni 101",)),
    )
    assert p.frr == delta.contexts
    assert p.summary.change == 1
    assert "    -/+ router bgp 64514 vrf red\n" in render_text(p)


def test_an_unmanaged_object_with_a_needed_name_is_a_conflict() -> None:
    bridge = Link(namespace="host", name="br-hs-110", kind="bridge")
    eth = Link(namespace="router", name="vni110", kind="dummy")
    observed: dict[str, Object] = {"link.host.br-hs-110": bridge, "link.router.vni110": eth}
    observed |= EMPTY_NODE
    with pytest.raises(PlanError) as info:
        plan(observed, recorded=EMPTY)
    assert info.value.message == (
        "2 objects pe-plan needs already exist and pe-plan does not manage them:\n"
        "  link.host.br-hs-110 (bridge)\n"
        "  link.router.vni110 (dummy)"
    )
    assert info.value.hint is not None
    assert "pe-plan import ADDRESS" in info.value.hint


def test_sysctls_are_set_without_a_conflict() -> None:
    observed = dict(NO_OP.observed.objects)
    forwarding = "sysctl.router.net.ipv4.conf.all.forwarding"
    observed[forwarding] = Sysctl(namespace="router", key="net.ipv4.conf.all.forwarding", value="0")
    recorded = NodeState(
        objects={a: o for a, o in NO_OP.recorded.objects.items() if not a.startswith("sysctl.")},
        depends_on=NO_OP.recorded.depends_on,
    )
    p = plan(observed, recorded=recorded)
    assert steps(p) == [f"update {forwarding}"]
    assert p.actions[0] == Action(
        action="update",
        address=forwarding,
        reason="the kernel value differs",
        before=observed[forwarding],
        after=NO_OP.desired.objects[forwarding],
        changes=(Change(path="value", before="0", after="1"),),
    )


def test_a_missing_underlay_nic_is_refused() -> None:
    observed = {a: o for a, o in NO_OP.observed.objects.items() if "toswitch" not in a}
    with pytest.raises(PlanError) as info:
        plan(observed)
    assert info.value.message == (
        "underlay NIC toswitch not found in the host namespace nor in the router namespace"
    )


def test_the_underlay_nic_moves_back_with_its_addresses() -> None:
    p = plan(dict(NO_OP.observed.objects), destroy=True)
    nic = next(s for s in p.actions if isinstance(s, Action) and s.address.endswith("toswitch"))
    assert nic.reason == "destroy requested: moves back to the host namespace"
    assert isinstance(nic.before, Link)
    assert nic.before.moved_from == "host"
    order = steps(p)
    assert order[-3:] == [
        "delete sysctl.router.net.ipv6.conf.all.forwarding",
        "delete frr_instance.perouter",
        "delete netns.perouter",
    ]
    after = simulate(NO_OP.observed.objects, p)
    assert after["link.host.toswitch"] == Link(
        namespace="host", name="toswitch", kind="device", up=True, mtu=1500,
        mac="52:54:00:aa:bb:01", addrgenmode="eui64", group=0,
    )  # fmt: skip
    assert "address.host.toswitch.192.168.11.3/24" in after
    assert not any(a.startswith(("link.router.", "netns.")) for a in after)


def test_drift_compares_only_what_pe_plan_recorded() -> None:
    vni = observed_link("link.router.vni110", mtu=9000, up=False)
    p = plan(
        observed_with({"link.router.vni110": vni, "address.router.br-pe-110.192.170.1.1/24": None})
    )
    assert [(d.address, d.after is None) for d in p.drift] == [
        ("address.router.br-pe-110.192.170.1.1/24", True),
        ("link.router.vni110", False),
    ]
    assert p.drift[1].changes == (Change(path="up", before=True, after=False),)
    assert steps(p) == [
        "update link.router.vni110",
        "create address.router.br-pe-110.192.170.1.1/24",
    ]


def test_a_recorded_object_gone_and_unwanted_is_only_drift() -> None:
    desired = NodeState(
        objects={a: o for a, o in NO_OP.desired.objects.items() if a != "link.host.br-hs-110"},
        depends_on=NO_OP.desired.depends_on,
    )
    p = plan(observed_with({"link.host.br-hs-110": None}), desired=desired)
    assert [d.address for d in p.drift] == ["link.host.br-hs-110"]
    assert p.empty


def test_targets_follow_dependencies_for_creates_and_dependents_for_deletes() -> None:
    create = plan(
        dict(EMPTY_NODE),
        recorded=EMPTY,
        targets=("address.router.lound.100.65.0.0/32",),
    )
    assert steps(create) == [
        "create netns.perouter",
        "create link.router.lound",
        "create address.router.lound.100.65.0.0/32",
    ]
    delete = plan(dict(NO_OP.observed.objects), destroy=True, targets=("link.router.br-pe-110",))
    assert steps(delete) == [
        "delete address.router.br-pe-110.192.170.1.1/24",
        "delete link.router.pe-110",
        "delete link.router.vni110",
        "delete link.router.br-pe-110",
    ]
    assert "Warning: targeting is in effect" in render_text(delete)


def test_an_unknown_target_is_refused_with_a_suggestion() -> None:
    with pytest.raises(PlanError) as info:
        plan(dict(NO_OP.observed.objects), targets=("link.router.vni11",))
    assert (
        info.value.message == "target link.router.vni11 is not an object pe-plan manages or needs"
    )
    assert info.value.hint == "did you mean link.router.vni110?"


def test_a_dependency_cycle_in_the_state_is_refused() -> None:
    recorded = NodeState(
        objects=NO_OP.recorded.objects,
        depends_on={
            **NO_OP.recorded.depends_on,
            "link.router.red": ("link.router.br-pe-100",),
        },
    )
    with pytest.raises(PlanError, match="the dependencies form a cycle"):
        plan(dict(NO_OP.observed.objects), recorded=recorded, destroy=True)


def test_check_import_accepts_a_matching_object_only() -> None:
    observed = NodeState(objects=dict(NO_OP.observed.objects))
    bridge = check_import("link.host.br-hs-110", NO_OP.desired, observed)
    assert bridge == NO_OP.desired.objects["link.host.br-hs-110"]
    with pytest.raises(PlanError, match=r"link\.host\.eth0 is not in the configuration"):
        check_import("link.host.eth0", NO_OP.desired, observed)
    with pytest.raises(PlanError, match="does not exist on the node"):
        check_import("link.host.br-hs-110", NO_OP.desired, EMPTY)
    down_bridge = observed_link("link.host.br-hs-110", up=False)
    down = NodeState(objects=observed_with({"link.host.br-hs-110": down_bridge}))
    with pytest.raises(PlanError) as info:
        check_import("link.host.br-hs-110", NO_OP.desired, down)
    assert info.value.message == (
        "link.host.br-hs-110 differs from the configuration: up is false, the configuration "
        "wants true"
    )


def test_matches_ignores_what_the_desired_object_leaves_unset() -> None:
    want = Link(namespace="router", name="v", kind="vxlan", vxlan=Vxlan(vni=1, local="a"))
    have = msgspec.structs.replace(want, mtu=1500, vxlan=Vxlan(vni=1, local="a", dev="lound"))
    assert matches(want, have)
    assert not matches(want, msgspec.structs.replace(have, vxlan=Vxlan(vni=2, local="a")))
    assert not matches(want, None)
    assert matches(Address(namespace="host", link="x", cidr="1.1.1.1/32"), want) is False


def test_a_plan_survives_encoding() -> None:
    host_leg = observed_link("link.host.host-110", up=False)
    p = plan(observed_with({"link.router.vni110": None, "link.host.host-110": host_leg}))
    assert msgspec.json.decode(msgspec.json.encode(p), type=Plan) == p


def test_colour_only_when_asked() -> None:
    p = plan(observed_with({"link.router.vni110": None}))
    assert "\x1b[" not in render_text(p)
    coloured = render_text(p, color=True)
    assert "\x1b[32m+\x1b[0m link.router.vni110" in coloured
