"""Observe: the node as it is, in the objects of the node model, from namespace dumps.

Refresh is a side-effecting read (the netlink backend dumps the host and router namespaces)
followed by this pure parser, so the parser is tested on dumps captured from a real kernel.
Every link of both namespaces is reported except loopbacks (the router's ``lo`` belongs to
its :class:`Netns`); deciding what is managed is the plan's job. Ifindexes become names
(master, VXLAN device, veth peer and the peer's namespace role), kernel link kinds outside the
model become ``device``, and addresses the kernel makes by itself (IPv6 link-locals, the
loopback addresses of ``lo``) are left out. Observed objects carry every attribute, so
``master=None`` here means "no master".
"""

from __future__ import annotations

import ipaddress

from pe_plan.backends.dump import LinkRecord, NamespaceDump
from pe_plan.model import (
    Address,
    BridgePort,
    FrrConfig,
    Link,
    LinkKind,
    Netns,
    NodeState,
    Object,
    Role,
    Sysctl,
    Vxlan,
    index_objects,
)

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
_MODEL_KINDS: dict[str, LinkKind] = {
    "bridge": "bridge",
    "vxlan": "vxlan",
    "veth": "veth",
    "vrf": "vrf",
    "dummy": "dummy",
}


def model_kind(kind: str | None) -> LinkKind:
    """The model's kind for a kernel link kind; anything else is an existing ``device``."""
    return _MODEL_KINDS.get(kind or "", "device")


def observe(
    host: NamespaceDump,
    router: NamespaceDump | None,
    router_netns_name: str,
    frr: FrrConfig | None = None,
) -> NodeState:
    """The observed node: ``router`` is ``None`` when the router namespace does not exist."""
    dumps: dict[Role, NamespaceDump] = {"host": host}
    objects: list[Object] = []
    if router is not None:
        dumps["router"] = router
        objects.append(Netns(name=router_netns_name))
    names = {role: {link.index: link.name for link in dump.links} for role, dump in dumps.items()}
    for role, dump in dumps.items():
        local = names[role]
        objects.extend(
            Sysctl(namespace=role, key=key, value=value) for key, value in dump.sysctls.items()
        )
        loopbacks = set()
        for record in dump.links:
            if record.flags & IFF_LOOPBACK:
                loopbacks.add(record.index)
                continue
            objects.append(_link(role, record, dump, names))
        for address in dump.addresses:
            link = local.get(address.index)
            if link is None or address.ipv6_link_local:
                continue
            if address.index in loopbacks and ipaddress.ip_address(address.address).is_loopback:
                continue
            cidr = f"{address.address}/{address.prefixlen}"
            objects.append(Address(namespace=role, link=link, cidr=cidr))
    return NodeState(objects=index_objects(objects), frr=frr)


def _link(
    role: Role, record: LinkRecord, dump: NamespaceDump, names: dict[Role, dict[int, str]]
) -> Link:
    local = names[role]
    kind = model_kind(record.kind)
    vxlan = None
    if kind == "vxlan" and record.vxlan is not None:
        found = record.vxlan
        vxlan = Vxlan(
            vni=found.vni,
            # The model requires a local address; an unset one cannot match any desired.
            local=found.local or "",
            port=found.port,
            learning=found.learning,
            dev=local.get(found.link) if found.link else None,
        )
    bridge_port = None
    if record.bridge_port is not None:
        bridge_port = BridgePort(
            neigh_suppress=record.bridge_port.neigh_suppress,
            learning=record.bridge_port.learning,
        )
    peer, peer_namespace = _peer(role, record, dump, names) if kind == "veth" else (None, None)
    return Link(
        namespace=role,
        name=record.name,
        kind=kind,
        up=bool(record.flags & IFF_UP),
        mtu=record.mtu,
        master=local.get(record.master) if record.master else None,
        mac=record.mac,
        addrgenmode=record.addrgenmode,
        group=record.group,
        vrf_table=record.vrf_table if kind == "vrf" else None,
        vxlan=vxlan,
        bridge_port=bridge_port,
        peer=peer,
        peer_namespace=peer_namespace,
    )


def _peer(
    role: Role, record: LinkRecord, dump: NamespaceDump, names: dict[Role, dict[int, str]]
) -> tuple[str | None, Role | None]:
    """The name and namespace role of a veth's peer, when it is in a namespace we read."""
    # The kernel leaves IFLA_LINK out when the peer's ifindex equals the link's own.
    index = record.index if record.link is None else record.link
    if record.link_netnsid is None:
        peer_role: Role | None = role
    else:
        peer_role = dump.nsids.get(record.link_netnsid)
    if not index or peer_role is None or peer_role not in names:
        return None, None
    name = names[peer_role].get(index)
    return (name, peer_role) if name is not None else (None, None)
