"""Desired: the exact kernel objects and FRR config one node must have (SPEC sections 5, 6).

A pure function of the validated config, the node's derived values and two facts read from
the node (the underlay MTU, which sizes the veths, and the route tables of VRFs that already
exist, which must not move). Every object names what it needs first in ``depends_on``; the
plan turns that graph into an order.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from pe_plan.config import Config, L2Vni, L3Vni, NodeSettings
from pe_plan.derive import Derived, derive
from pe_plan.frr_render import render_frr
from pe_plan.model import (
    Address,
    BridgePort,
    FrrConfig,
    FrrInstance,
    Link,
    Netns,
    NodeState,
    Object,
    Sysctl,
    Vxlan,
    link_address,
)

VXLAN_OVERHEAD = 50
DEFAULT_UNDERLAY_MTU = 1500
ROUTER_SYSCTLS = (
    "net.ipv4.conf.all.forwarding",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.arp_accept",
    "net.ipv4.conf.default.arp_accept",
)
# The kernel reserves 253 (default), 254 (main) and 255 (local).
RESERVED_TABLES = frozenset({253, 254, 255})


class NodeFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the desired state needs to know about the node itself."""

    underlay_mtu: int = DEFAULT_UNDERLAY_MTU
    vrf_tables: dict[str, int] = {}


def gateway_mac(vni: int) -> str:
    """The fixed gateway MAC, identical on every node: ``00:f3`` + big-endian (vni + 1)."""
    value = (vni + 1).to_bytes(4, "big")
    return ":".join(f"{byte:02x}" for byte in (0x00, 0xF3, *value))


def allocate_vrf_tables(vrfs: list[str], existing: Mapping[str, int]) -> dict[str, int]:
    """Keep the table of a VRF that exists; give new VRFs the lowest free tables."""
    tables = {vrf: existing[vrf] for vrf in vrfs if vrf in existing}
    used = set(existing.values())
    candidate = 1
    for vrf in vrfs:
        if vrf in tables:
            continue
        while candidate in used or candidate in RESERVED_TABLES:
            candidate += 1
        tables[vrf] = candidate
        used.add(candidate)
    return tables


def desired_node(
    config: Config,
    settings: NodeSettings,
    index: int,
    facts: NodeFacts,
    *,
    hostname: str,
    secret_salt: str,
) -> NodeState:
    """derive → FRR config → objects: everything this node must have."""
    derived = derive(config, index)
    frr = render_frr(config, derived, hostname=hostname, secret_salt=secret_salt)
    return build_desired(config, settings, derived, facts, frr)


class _Builder:
    """Collects objects and their dependencies in declaration order."""

    def __init__(self) -> None:
        self.objects: dict[str, Object] = {}
        self.depends_on: dict[str, tuple[str, ...]] = {}

    def add(self, obj: Object, *needs: str | None) -> str:
        address = obj.address
        if address in self.objects:
            msg = f"desired state has two objects at {address}"
            raise ValueError(msg)
        self.objects[address] = obj
        self.depends_on[address] = tuple(sorted({n for n in needs if n}))
        return address


def build_desired(
    config: Config,
    settings: NodeSettings,
    derived: Derived,
    facts: NodeFacts,
    frr: FrrConfig | None,
) -> NodeState:
    """All objects of this node, with their dependencies, and the FRR config."""
    b = _Builder()
    has_vnis = bool(config.l3vnis or config.l2vnis)
    if config.underlay is None and not has_vnis:
        return NodeState(objects={}, depends_on={}, frr=frr)

    netns = b.add(Netns(name=settings.router_namespace))
    if settings.frr_mode == "managed":
        b.add(FrrInstance(pathspace=settings.pathspace), netns)
    for key in ROUTER_SYSCTLS:
        b.add(Sysctl(namespace="router", key=key, value="1"), netns)
    if config.underlay is not None:
        for nic in config.underlay.nics:
            b.add(
                Link(namespace="router", name=nic, kind="device", up=True, moved_from="host"),
                netns,
            )
    vtep_address = None
    if derived.vtep_ip is not None:
        device = settings.vtep_device
        # lo exists with the namespace; lound is a dummy of pe-plan's own.
        holder = (
            netns
            if device == "lo"
            else b.add(Link(namespace="router", name=device, kind="dummy", up=True), netns)
        )
        vtep_address = b.add(
            Address(namespace="router", link=device, cidr=f"{derived.vtep_ip}/32"), holder
        )

    veth_mtu = facts.underlay_mtu - VXLAN_OVERHEAD
    vrfs = [l3.vrf for l3 in config.l3vnis]
    tables = allocate_vrf_tables(vrfs, facts.vrf_tables)
    context = _Context(b, netns, vtep_address, derived, veth_mtu)
    for l3 in config.l3vnis:
        context.l3vni(l3, tables[l3.vrf])
    for l2 in config.l2vnis:
        context.l2vni(l2)
    return NodeState(objects=b.objects, depends_on=b.depends_on, frr=frr)


class _Context:
    """Per-VNI object builders sharing the node-wide pieces (netns, VTEP, MTU)."""

    def __init__(
        self,
        builder: _Builder,
        netns: str,
        vtep_address: str | None,
        derived: Derived,
        veth_mtu: int,
    ) -> None:
        self.b = builder
        self.netns = netns
        self.vtep_address = vtep_address
        self.derived = derived
        self.veth_mtu = veth_mtu

    def l3vni(self, l3: L3Vni, table: int) -> None:
        vrf = self.b.add(
            Link(namespace="router", name=l3.vrf, kind="vrf", vrf_table=table, up=True),
            self.netns,
        )
        self._overlay(l3.vni, l3.vxlan_port, master=l3.vrf, master_address=vrf, mac=None)
        if l3.host_asn is None:
            return
        addresses = self.derived.l3[l3.name]
        host_leg, pe_leg = self._veth(l3.vni, pe_master=l3.vrf, pe_master_address=vrf)
        for cidr in addresses.host_ips:
            self.b.add(Address(namespace="host", link=f"host-{l3.vni}", cidr=cidr), host_leg)
        # The PE leg is enslaved to the VRF when it is created, before it gets addresses:
        # enslaving later would drop its IPv6 addresses.
        for cidr in addresses.pe_ips:
            self.b.add(Address(namespace="router", link=f"pe-{l3.vni}", cidr=cidr), pe_leg)

    def l2vni(self, l2: L2Vni) -> None:
        vrf_address = link_address("router", l2.vrf) if l2.vrf else None
        mac = gateway_mac(l2.vni) if l2.gateway_ips else None
        bridge = self._overlay(
            l2.vni, l2.vxlan_port, master=l2.vrf, master_address=vrf_address, mac=mac
        )
        host_master = l2.host_master
        host_bridge = None
        if host_master is not None and host_master.managed:
            host_bridge = self.b.add(
                Link(namespace="host", name=host_master.name, kind="bridge", up=True)
            )
        self._veth(
            l2.vni,
            pe_master=f"br-pe-{l2.vni}",
            pe_master_address=bridge,
            host_master=host_master.name if host_master else None,
            host_master_address=host_bridge,
        )
        for cidr in l2.gateway_ips:
            self.b.add(Address(namespace="router", link=f"br-pe-{l2.vni}", cidr=cidr), bridge)

    def _overlay(
        self,
        vni: int,
        port: int,
        *,
        master: str | None,
        master_address: str | None,
        mac: str | None,
    ) -> str:
        """The PE bridge and its VXLAN; returns the bridge's address."""
        # addrgenmode none on router bridges and VXLANs: otherwise every node derives its
        # own link-local for the shared gateway MAC (LAB pitfall 6).
        bridge = self.b.add(
            Link(
                namespace="router",
                name=f"br-pe-{vni}",
                kind="bridge",
                up=True,
                master=master,
                mac=mac,
                addrgenmode="none",
            ),
            self.netns,
            master_address,
        )
        if self.derived.vtep_ip is None:
            return bridge
        self.b.add(
            Link(
                namespace="router",
                name=f"vni{vni}",
                kind="vxlan",
                up=True,
                master=f"br-pe-{vni}",
                addrgenmode="none",
                vxlan=Vxlan(vni=vni, local=self.derived.vtep_ip, port=port, learning=False),
                bridge_port=BridgePort(neigh_suppress=True, learning=False),
            ),
            bridge,
            self.vtep_address,
        )
        return bridge

    def _veth(
        self,
        vni: int,
        *,
        pe_master: str,
        pe_master_address: str,
        host_master: str | None = None,
        host_master_address: str | None = None,
    ) -> tuple[str, str]:
        """The veth pair of a VNI: ``host-<vni>`` in the host, ``pe-<vni>`` in the router."""
        host_leg = self.b.add(
            Link(
                namespace="host",
                name=f"host-{vni}",
                kind="veth",
                up=True,
                mtu=self.veth_mtu,
                master=host_master,
                peer=f"pe-{vni}",
                peer_namespace="router",
            ),
            self.netns,
            host_master_address,
        )
        pe_leg = self.b.add(
            Link(
                namespace="router",
                name=f"pe-{vni}",
                kind="veth",
                up=True,
                mtu=self.veth_mtu,
                master=pe_master,
                peer=f"host-{vni}",
                peer_namespace="host",
            ),
            host_leg,
            pe_master_address,
        )
        return host_leg, pe_leg
