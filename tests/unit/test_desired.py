"""Desired state of the seed scenario, built from a hand-made Config (no loader involved)."""

from __future__ import annotations

import pytest

from pe_plan.config import Config, NodeSettings
from pe_plan.derive import derive
from pe_plan.desired import NodeFacts, allocate_vrf_tables, build_desired, gateway_mac
from pe_plan.model import Address, BridgePort, Link, Vxlan
from tests.seed import SEED_CONFIG


def seed_desired(index: int, facts: NodeFacts | None = None) -> dict[str, object]:
    state = build_desired(
        SEED_CONFIG,
        NodeSettings(index=index),
        derive(SEED_CONFIG, index),
        facts or NodeFacts(),
        None,
    )
    return dict(state.objects)


def test_node1_has_the_seed_objects() -> None:
    objects = seed_desired(1)
    assert objects["link.router.vni110"] == Link(
        namespace="router",
        name="vni110",
        kind="vxlan",
        up=True,
        master="br-pe-110",
        addrgenmode="none",
        vxlan=Vxlan(vni=110, local="100.65.0.1", port=4789, learning=False),
        bridge_port=BridgePort(neigh_suppress=True, learning=False),
    )
    assert "address.host.host-100.192.169.10.3/24" in objects
    assert "address.router.pe-100.192.169.10.1/24" in objects
    assert "address.router.br-pe-110.192.170.1.1/24" in objects
    bridge = objects["link.router.br-pe-110"]
    assert isinstance(bridge, Link)
    assert bridge.mac == "00:f3:00:00:00:6f"
    assert bridge.master == "red"
    assert objects["address.router.lound.100.65.0.1/32"] == Address(
        namespace="router", link="lound", cidr="100.65.0.1/32"
    )


def test_veth_mtu_follows_the_underlay() -> None:
    objects = seed_desired(0, NodeFacts(underlay_mtu=9000))
    host_leg = objects["link.host.host-110"]
    assert isinstance(host_leg, Link)
    assert host_leg.mtu == 8950
    assert host_leg.master == "br-hs-110"


def test_dependencies_point_at_existing_objects() -> None:
    state = build_desired(
        SEED_CONFIG, NodeSettings(index=0), derive(SEED_CONFIG, 0), NodeFacts(), None
    )
    for address, needs in state.depends_on.items():
        assert address in state.objects
        for need in needs:
            assert need in state.objects, f"{address} needs unknown {need}"
    assert "link.router.br-pe-110" in state.depends_on["link.router.vni110"]
    assert "link.router.red" in state.depends_on["link.router.pe-100"]


def test_no_config_means_no_objects() -> None:
    state = build_desired(Config(), NodeSettings(index=0), derive(Config(), 0), NodeFacts(), None)
    assert state.objects == {}


@pytest.mark.parametrize(
    ("vni", "mac"),
    [(110, "00:f3:00:00:00:6f"), (100, "00:f3:00:00:00:65"), (16777215, "00:f3:01:00:00:00")],
)
def test_gateway_mac(vni: int, mac: str) -> None:
    assert gateway_mac(vni) == mac


def test_vrf_tables_keep_existing_and_skip_reserved() -> None:
    existing = {"blue": 252}
    assert allocate_vrf_tables(["red", "blue", "green"], existing) == {
        "blue": 252,
        "red": 1,
        "green": 2,
    }
    crowded = {f"v{i}": i for i in range(1, 253)}
    assert allocate_vrf_tables(["new"], crowded) == {"new": 256}
