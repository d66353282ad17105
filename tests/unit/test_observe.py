"""observe() on namespace dumps captured from a real kernel, and on a few hand-made records.

The JSON dumps under tests/data/dumps/ were captured by ``tests/data/dumps/capture.py``,
which builds each scenario with ``ip`` and ``bridge`` commands in new namespaces of the UML
lab guest (dummy and VRF links need its kernel) and reads them with the netlink backend;
its docstring says how to regenerate them. The expected objects below restate, attribute by
attribute, what the capture script built.
"""

from __future__ import annotations

import msgspec
import pytest

from pe_plan.backends.dump import (
    AddrRecord,
    LinkRecord,
    NamespaceDump,
    VxlanRecord,
)
from pe_plan.model import (
    Address,
    BridgePort,
    FrrConfig,
    Link,
    Netns,
    NodeState,
    Object,
    Role,
    Sysctl,
    Vxlan,
    index_objects,
)
from pe_plan.observe import model_kind, observe
from tests.conftest import REPO

DUMPS = REPO / "tests" / "data" / "dumps"
UP = 0x1
LOOPBACK = 0x8
VXLAN_PORT = BridgePort(neigh_suppress=True, learning=False)
PLAIN_PORT = BridgePort(neigh_suppress=False, learning=True)


def _load(scenario: str) -> dict[Role, NamespaceDump]:
    return msgspec.json.decode(
        (DUMPS / f"{scenario}.json").read_bytes(), type=dict[Role, NamespaceDump]
    )


def _host_link(name: str, kind: str = "veth", **attributes: object) -> Link:
    return _link("host", name, kind, **attributes)


def _router_link(name: str, kind: str, **attributes: object) -> Link:
    return _link("router", name, kind, **attributes)


def _link(namespace: Role, name: str, kind: str, **attributes: object) -> Link:
    # Every observed link carries these; the cases below give the rest explicitly.
    defaults: dict[str, object] = {"up": True, "mtu": 1500, "addrgenmode": "eui64", "group": 0}
    return msgspec.convert(
        {"namespace": namespace, "name": name, "kind": kind, **defaults, **attributes},
        type=Link,
    )


NODE_HOST: list[Object] = [
    _host_link(
        "host-100", mtu=1450, mac="02:00:00:01:64:01", peer="pe-100", peer_namespace="router"
    ),
    _host_link("br-hs-110", "bridge", mtu=1450, mac="02:00:00:01:6e:03"),
    _host_link(
        "host-110",
        mtu=1450,
        master="br-hs-110",
        mac="02:00:00:01:6e:01",
        bridge_port=PLAIN_PORT,
        peer="pe-110",
        peer_namespace="router",
    ),
    Address(namespace="host", link="host-100", cidr="192.169.10.2/24"),
    Address(namespace="host", link="host-100", cidr="2001:db8:10::2/64"),
]

NODE_ROUTER: list[Object] = [
    Netns(name="perouter"),
    *(
        Sysctl(namespace="router", key=key, value="1")
        for key in (
            "net.ipv4.conf.all.forwarding",
            "net.ipv6.conf.all.forwarding",
            "net.ipv4.conf.all.arp_accept",
            "net.ipv4.conf.default.arp_accept",
        )
    ),
    _router_link("lound", "dummy", mac="02:00:00:00:00:01"),
    # The underlay NIC stand-in is a veth whose peer is in a namespace pe-plan does not read.
    _router_link("toswitch", "veth", mac="02:00:00:00:01:01"),
    _router_link("red", "vrf", mtu=65575, mac="02:00:00:00:02:01", vrf_table=1),
    _router_link("br-pe-100", "bridge", master="red", mac="02:00:00:00:64:01", addrgenmode="none"),
    _router_link(
        "vni100",
        "vxlan",
        master="br-pe-100",
        mac="02:00:00:00:64:02",
        addrgenmode="none",
        vxlan=Vxlan(vni=100, local="100.65.0.0", port=4789, learning=False),
        bridge_port=VXLAN_PORT,
    ),
    _router_link(
        "br-pe-110",
        "bridge",
        mtu=1450,
        master="red",
        mac="00:f3:00:00:00:6f",
        addrgenmode="none",
    ),
    _router_link(
        "vni110",
        "vxlan",
        master="br-pe-110",
        mac="02:00:00:00:6e:02",
        addrgenmode="none",
        vxlan=Vxlan(vni=110, local="100.65.0.0", port=4789, learning=False),
        bridge_port=VXLAN_PORT,
    ),
    _router_link(
        "pe-100",
        "veth",
        mtu=1450,
        master="red",
        mac="02:00:00:01:64:02",
        peer="host-100",
        peer_namespace="host",
    ),
    _router_link(
        "pe-110",
        "veth",
        mtu=1450,
        master="br-pe-110",
        mac="02:00:00:01:6e:02",
        bridge_port=PLAIN_PORT,
        peer="host-110",
        peer_namespace="host",
    ),
    Address(namespace="router", link="lound", cidr="100.65.0.0/32"),
    Address(namespace="router", link="toswitch", cidr="192.168.11.3/24"),
    Address(namespace="router", link="toswitch", cidr="2001:db8:11::3/64"),
    Address(namespace="router", link="br-pe-110", cidr="192.170.1.1/24"),
    Address(namespace="router", link="pe-100", cidr="192.169.10.1/24"),
    Address(namespace="router", link="pe-100", cidr="2001:db8:10::1/64"),
]

BUSY_HOST: list[Object] = [
    _host_link("extra-br0", "bridge", mac="02:00:00:02:00:01"),
    _host_link("mv0", "device", up=False, mac="02:00:00:02:00:02"),
    _host_link("tun0", "device", up=False),
    _host_link(
        "veth-a",
        up=False,
        master="extra-br0",
        mac="02:00:00:02:00:03",
        bridge_port=PLAIN_PORT,
        peer="veth-b",
        peer_namespace="host",
    ),
    _host_link("veth-b", mac="02:00:00:02:00:04", group=7, peer="veth-a", peer_namespace="host"),
    _host_link(
        "vx-v6",
        "vxlan",
        up=False,
        mtu=1430,
        mac="02:00:00:02:00:05",
        vxlan=Vxlan(vni=4242, local="2001:db8::1", port=4790, learning=True, dev="extra-br0"),
    ),
    Address(namespace="host", link="extra-br0", cidr="172.17.0.1/16"),
]

BUSY_ROUTER: list[Object] = [
    _router_link("br-pe-999", "bridge", up=False, mac="02:00:00:03:00:01"),
    _router_link("stray0", "dummy", up=False, mtu=9000, mac="02:00:00:03:00:02"),
    # A second address on the router's lo is reported; its loopback addresses are not.
    Address(namespace="router", link="lo", cidr="100.65.0.9/32"),
]


def _state(objects: list[Object]) -> NodeState:
    return NodeState(objects=index_objects(objects))


def test_node_after_apply() -> None:
    dumps = _load("node")
    assert observe(dumps["host"], dumps["router"], "perouter") == _state(NODE_HOST + NODE_ROUTER)


def test_busy_node_reports_unrelated_objects_too() -> None:
    dumps = _load("busy")
    expected = _state(NODE_HOST + BUSY_HOST + NODE_ROUTER + BUSY_ROUTER)
    assert observe(dumps["host"], dumps["router"], "perouter") == expected


def test_without_router_namespace_peers_there_are_unknown() -> None:
    dumps = _load("busy")
    unpeered = {"host-100", "host-110"}
    expected = [
        msgspec.structs.replace(o, peer=None, peer_namespace=None)
        if isinstance(o, Link) and o.name in unpeered
        else o
        for o in NODE_HOST + BUSY_HOST
    ]
    assert observe(dumps["host"], None, "perouter") == _state(expected)


def test_frr_config_is_carried_over() -> None:
    frr = FrrConfig(text="frr defaults traditional\n", public="frr defaults traditional\n")
    empty = NamespaceDump(links=(), addresses=())
    assert observe(empty, None, "perouter", frr=frr) == NodeState(objects={}, frr=frr)


def _veth(index: int, name: str, **attributes: object) -> LinkRecord:
    return msgspec.convert(
        {"index": index, "name": name, "flags": UP, "mtu": 1500, "kind": "veth", **attributes},
        type=LinkRecord,
    )


def _peers(host: NamespaceDump, router: NamespaceDump) -> dict[str, tuple[str | None, str | None]]:
    state = observe(host, router, "perouter")
    return {
        o.address: (o.peer, o.peer_namespace) for o in state.objects.values() if isinstance(o, Link)
    }


def test_veth_peer_with_the_same_ifindex_in_the_other_namespace() -> None:
    # The kernel leaves IFLA_LINK out when it equals the link's own ifindex.
    host = NamespaceDump(
        links=(_veth(5, "host-7", link_netnsid=3),), addresses=(), nsids={3: "router"}
    )
    router = NamespaceDump(
        links=(_veth(5, "pe-7", link_netnsid=0),), addresses=(), nsids={0: "host"}
    )
    assert _peers(host, router) == {
        "link.host.host-7": ("pe-7", "router"),
        "link.router.pe-7": ("host-7", "host"),
    }


def test_veth_peer_in_an_unknown_namespace_or_gone() -> None:
    host = NamespaceDump(
        links=(_veth(4, "to-pod", link=2, link_netnsid=9), _veth(6, "orphan", link=0)),
        addresses=(),
        nsids={3: "router"},
    )
    router = NamespaceDump(links=(), addresses=())
    assert _peers(host, router) == {
        "link.host.to-pod": (None, None),
        "link.host.orphan": (None, None),
    }


def test_records_to_objects_details() -> None:
    host = NamespaceDump(
        links=(
            LinkRecord(index=1, name="lo", flags=UP | LOOPBACK, mtu=65536),
            LinkRecord(
                index=2,
                name="vx",
                flags=0,
                mtu=1450,
                kind="vxlan",
                mac="0A:00:00:00:00:01".lower(),
                vxlan=VxlanRecord(vni=9, link=7),
            ),
            LinkRecord(index=3, name="eth0", flags=UP, mtu=9000, kind=None, group=4242),
        ),
        addresses=(
            AddrRecord(index=1, family=4, address="127.0.0.1", prefixlen=8, scope=254),
            AddrRecord(index=1, family=6, address="::1", prefixlen=128, scope=254),
            AddrRecord(index=3, family=6, address="fe80::1", prefixlen=64, scope=253),
            AddrRecord(index=3, family=6, address="2001:db8::3", prefixlen=64),
            AddrRecord(index=42, family=4, address="10.0.0.1", prefixlen=8),
        ),
    )
    assert observe(host, None, "perouter") == _state(
        [
            # A VXLAN without a local address, on a device pe-plan did not read.
            Link(
                namespace="host",
                name="vx",
                kind="vxlan",
                up=False,
                mtu=1450,
                mac="0a:00:00:00:00:01",
                group=0,
                vxlan=Vxlan(vni=9, local="", port=4789, learning=True),
            ),
            Link(namespace="host", name="eth0", kind="device", up=True, mtu=9000, group=4242),
            Address(namespace="host", link="eth0", cidr="2001:db8::3/64"),
        ]
    )


@pytest.mark.parametrize(
    ("kernel", "model"),
    [
        ("bridge", "bridge"),
        ("vxlan", "vxlan"),
        ("veth", "veth"),
        ("vrf", "vrf"),
        ("dummy", "dummy"),
        ("macvlan", "device"),
        ("tun", "device"),
        (None, "device"),
    ],
)
def test_model_kind(kernel: str | None, model: str) -> None:
    assert model_kind(kernel) == model
